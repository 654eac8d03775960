//! uid/gid → names from /etc/passwd and /etc/group: the host's, read once,
//! and each container's own, read through /proc/PID/root (see
//! `Detector::container_users`).

use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Default, Clone)]
pub struct Users {
    users: HashMap<u32, (String, String, String)>,
    groups: HashMap<u32, String>,
}

impl Users {
    pub fn load(passwd: &Path, group: &Path) -> Self {
        let mut u = Users::default();
        if let Ok(t) = std::fs::read_to_string(passwd) {
            u.users = parse_passwd(&t);
        }
        if let Ok(t) = std::fs::read_to_string(group) {
            u.groups = parse_group(&t);
        }
        u
    }

    /// Like [`Users::load`], but `None` when the passwd file cannot be read.
    pub fn read(passwd: &Path, group: &Path) -> Option<Self> {
        let p = std::fs::read_to_string(passwd).ok()?;
        let g = std::fs::read_to_string(group).unwrap_or_default();
        Some(Users { users: parse_passwd(&p), groups: parse_group(&g) })
    }

    pub fn host() -> Self {
        Self::load(Path::new("/etc/passwd"), Path::new("/etc/group"))
    }

    pub fn name(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(|u| u.0.as_str())
    }
    pub fn home(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(|u| u.1.as_str())
    }
    pub fn shell(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(|u| u.2.as_str())
    }
    pub fn group(&self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }
}

/// `name:x:uid:gid:gecos:home:shell`; malformed lines are skipped.
fn parse_passwd(t: &str) -> HashMap<u32, (String, String, String)> {
    t.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let uid = f.get(2)?.parse().ok()?;
            Some((uid, ((*f.first()?).to_owned(), (*f.get(5)?).to_owned(), (*f.get(6)?).to_owned())))
        })
        .collect()
}

fn parse_group(t: &str) -> HashMap<u32, String> {
    t.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, (*f.first()?).to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_skips_garbage() {
        let p = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nbad line\n:x:notanumber:0::/:/\nsvc:x:999:999::/var/svc:/usr/sbin/nologin",
        );
        assert_eq!(p[&0].0, "root");
        assert_eq!(p[&999].2, "/usr/sbin/nologin");
        assert_eq!(p.len(), 2);
        let g = parse_group("root:x:0:\nwheel:x:10:a,b\n::");
        assert_eq!(g[&10], "wheel");
    }
}
