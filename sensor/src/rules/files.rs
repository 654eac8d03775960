//! Which files a rules path stands for, in Falco's order
//! (`falco_configuration::read_rules_file_directory`).

use std::path::{Path, PathBuf};

use super::error::LoadError;

/// A file stands for itself. A directory stands for its regular files
/// (symlinks followed, not recursive) whose names end in `.yaml` or `.yml`,
/// sorted by path as byte strings, as Falco's `std::sort` of the names.
///
/// # Errors
/// The directory cannot be read.
pub fn rules_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let io = |source| LoadError::Io { path: path.display().to_string(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .collect();
    files.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
    files.retain(|p| {
        let b = p.as_os_str().as_encoded_bytes();
        b.ends_with(b".yaml") || b.ends_with(b".yml")
    });
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_order_and_filter() {
        let d = tempfile::tempdir().unwrap();
        for n in ["b.yaml", "a_rules.yml", "A.yaml", "a-rules.yaml", "notes.txt", ".hidden.yaml", "x.yaml.bak"] {
            std::fs::write(d.path().join(n), "- list: l\n  items: []\n").unwrap();
        }
        std::fs::create_dir(d.path().join("sub.yaml")).unwrap();
        std::os::unix::fs::symlink(d.path().join("b.yaml"), d.path().join("c_link.yaml")).unwrap();
        let names: Vec<String> = rules_files(d.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // Byte order: '.' < 'A' < 'a', '-' < '_'.
        assert_eq!(names, [".hidden.yaml", "A.yaml", "a-rules.yaml", "a_rules.yml", "b.yaml", "c_link.yaml"]);
        let f = d.path().join("notes.txt");
        assert_eq!(rules_files(&f).unwrap(), [f]);
    }
}
