//! One copy of each environment: the processes of a workload mostly run
//! with the same environment (a shell's children, a container's
//! processes), and each exec record carries it whole. Kept per process,
//! 10,000 idle processes held ~18 MiB of identical strings.

use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::{Arc, Weak};

/// Distinct environments remembered; past it, those no process holds any
/// more are forgotten (and all of them if every one is still held).
const MAX_ENVS: usize = 4096;

#[derive(Default)]
pub struct EnvInterner {
    by_hash: HashMap<u64, Weak<[String]>>,
}

impl EnvInterner {
    /// `env` as a shared slice, the one already held by another process
    /// when it is the same.
    pub fn intern(&mut self, env: &[String]) -> Arc<[String]> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        env.hash(&mut h);
        let key = h.finish();
        if let Some(known) = self.by_hash.get(&key).and_then(Weak::upgrade)
            && *known == *env
        {
            return known;
        }
        if self.by_hash.len() >= MAX_ENVS {
            self.by_hash.retain(|_, w| w.strong_count() > 0);
            if self.by_hash.len() >= MAX_ENVS {
                self.by_hash.clear();
            }
        }
        let env: Arc<[String]> = env.into();
        self.by_hash.insert(key, Arc::downgrade(&env));
        env
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::EnvInterner;

    fn env(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn equal_environments_share_one_copy_and_forgotten_ones_go() {
        let mut interner = EnvInterner::default();
        let first = interner.intern(&env(&["PATH=/bin", "HOME=/root"]));
        let same = interner.intern(&env(&["PATH=/bin", "HOME=/root"]));
        assert!(Arc::ptr_eq(&first, &same));
        let other = interner.intern(&env(&["PATH=/bin"]));
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(interner.by_hash.len(), 2);
        drop((first, same));
        // Nobody holds it: a new copy, equal in content.
        let again = interner.intern(&env(&["PATH=/bin", "HOME=/root"]));
        assert_eq!(&*again, &env(&["PATH=/bin", "HOME=/root"])[..]);
        for n in 0..super::MAX_ENVS + 10 {
            drop(interner.intern(&env(&[&format!("N={n}")])));
        }
        assert!(interner.by_hash.len() <= super::MAX_ENVS, "{}", interner.by_hash.len());
        drop((other, again));
    }
}
