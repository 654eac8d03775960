//! Paths as libsinsp joins them: relative to a directory, `.` and `..`
//! resolved lexically.

/// Joins a path to the directory it is relative to.
pub fn absolute(path: &str, base: Option<&str>) -> String {
    if path.starts_with('/') || path.is_empty() {
        return path.to_owned();
    }
    match base {
        Some(b) => {
            let rel = path.strip_prefix("./").unwrap_or(path);
            format!("{}/{}", b.trim_end_matches('/'), rel)
        }
        None => path.to_owned(),
    }
}

/// `.` and `..` resolved lexically, as libsinsp does for paths it joins.
pub fn normalize(path: &str) -> String {
    if !path.starts_with('/') || is_normal(path) {
        return path.to_owned();
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// An absolute path with nothing to resolve: no empty, `.` or `..`
/// component and no trailing `/` (most paths an open names). One scan, no
/// allocation.
fn is_normal(path: &str) -> bool {
    let b = path.as_bytes();
    if b == b"/" {
        return true;
    }
    let mut start = 1;
    loop {
        let end = memchr::memchr(b'/', b.get(start..).unwrap_or_default()).map_or(b.len(), |i| start + i);
        let comp = b.get(start..end).unwrap_or_default();
        if comp.is_empty() || comp == b"." || comp == b".." {
            return false;
        }
        if end == b.len() {
            return true;
        }
        start = end + 1;
    }
}
