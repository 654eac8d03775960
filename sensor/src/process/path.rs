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
    if !path.starts_with('/') {
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
