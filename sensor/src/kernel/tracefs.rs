//! Field offsets of classic tracepoints, from their tracefs `format` files.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("no tracefs found (tried {tried:?}); mount it: mount -t tracefs tracefs /sys/kernel/tracing")]
    NoTracefs { tried: Vec<PathBuf> },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no field {field}")]
    NoField { path: PathBuf, field: String },
}

const ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

pub fn root() -> Result<PathBuf, FormatError> {
    ROOTS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("events").is_dir())
        .ok_or_else(|| FormatError::NoTracefs { tried: ROOTS.iter().map(PathBuf::from).collect() })
}

/// Offset of `field` in tracepoint `group/name`.
pub fn field_offset(root: &Path, group: &str, name: &str, field: &str) -> Result<u32, FormatError> {
    let path = root.join("events").join(group).join(name).join("format");
    let text = std::fs::read_to_string(&path).map_err(|source| FormatError::Read { path: path.clone(), source })?;
    parse_offset(&text, field).ok_or(FormatError::NoField { path, field: field.to_owned() })
}

/// Finds `field:<type> <field>[dims];\toffset:N;` in a format file.
pub fn parse_offset(text: &str, field: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut parts = line.trim().split(';');
        let decl = parts.next()?.strip_prefix("field:")?;
        let last = decl.split_whitespace().last()?;
        let fname = last.split('[').next()?;
        if fname != field {
            return None;
        }
        parts.find_map(|p| p.trim().strip_prefix("offset:")?.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYS_ENTER: &str = "name: sys_enter\nID: 443\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n";

    #[test]
    fn finds_scalar_and_array_fields() {
        assert_eq!(parse_offset(SYS_ENTER, "id"), Some(8));
        assert_eq!(parse_offset(SYS_ENTER, "args"), Some(16));
        assert_eq!(parse_offset(SYS_ENTER, "common_type"), Some(0));
        assert_eq!(parse_offset(SYS_ENTER, "ret"), None);
        assert_eq!(parse_offset("garbage\n;;field:\n", "id"), None);
    }
}
