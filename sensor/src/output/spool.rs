//! The at-least-once spool of one network output: alerts are written here
//! (fsync at commit) before they are sent and removed after the receiver's
//! 2xx, so a crash or an unreachable receiver loses nothing that fits.
//!
//! Storage is [redb](https://github.com/cberner/redb): a maintained,
//! pure-Rust embedded key-value store with ACID transactions. A commit with
//! `Durability::Immediate` is on disk when it returns, and a crash mid-way
//! leaves the previous commit (its copy-on-write B-tree needs no log to
//! replay). Keys are a sequence number, so the table is a FIFO; values the
//! alert record. Removals after delivery commit with `Durability::None`
//! (not fsynced): a crash can bring a delivered alert back, a duplicate,
//! never a loss; the next append's commit makes them durable.
//!
//! Bounded by alert count and bytes: when full, the oldest alerts go first
//! and the caller reports them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use log::error;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::alert::{AlertError, DeliveredAlert};
use super::config::SpoolLimits;

/// A spooled alert's key and record.
pub type Spooled = (u64, Result<DeliveredAlert, AlertError>);

const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts");

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("opening spool {path}: {source}")]
    Open { path: PathBuf, source: redb::DatabaseError },
    #[error("creating spool directory {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("spool: {0}")]
    Db(#[from] redb::Error),
    #[error("spool: state lock poisoned")]
    Poisoned,
}

fn db_err<E: Into<redb::Error>>(e: E) -> SpoolError {
    SpoolError::Db(e.into())
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    next: u64,
    count: u64,
    bytes: u64,
}

/// What an append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub stored: u64,
    /// Oldest alerts removed to make room (or new ones larger than the
    /// whole spool).
    pub dropped: u64,
}

pub struct Spool {
    db: Database,
    limits: SpoolLimits,
    state: Mutex<State>,
}

/// A file that is not (or no longer) a redb database.
fn unreadable(e: &redb::DatabaseError) -> bool {
    match e {
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(_)) => true,
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) => io.kind() == std::io::ErrorKind::InvalidData,
        _ => false,
    }
}

impl Spool {
    /// Opens (or creates) the spool file at `path`. A file redb cannot
    /// read is moved aside (`.corrupt`) and a new one started.
    pub fn open(path: &Path, limits: SpoolLimits) -> Result<Self, SpoolError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| SpoolError::Dir { path: dir.to_owned(), source })?;
        }
        let db = match Database::create(path) {
            Ok(db) => db,
            Err(e) if unreadable(&e) => {
                let aside = path.with_extension("corrupt");
                error!("alert spool {}: {e}; moved to {} and started afresh", path.display(), aside.display());
                std::fs::rename(path, &aside).map_err(|source| SpoolError::Dir { path: path.to_owned(), source })?;
                Database::create(path).map_err(|source| SpoolError::Open { path: path.to_owned(), source })?
            }
            Err(source) => return Err(SpoolError::Open { path: path.to_owned(), source }),
        };
        Self::with_db(db, limits)
    }

    /// A spool in memory: bounded the same way, gone at exit.
    pub fn in_memory(limits: SpoolLimits) -> Result<Self, SpoolError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|source| SpoolError::Open { path: PathBuf::from("<memory>"), source })?;
        Self::with_db(db, limits)
    }

    fn with_db(db: Database, limits: SpoolLimits) -> Result<Self, SpoolError> {
        let w = db.begin_write().map_err(db_err)?;
        let mut st = State::default();
        {
            let t = w.open_table(ALERTS).map_err(db_err)?;
            st.count = t.len().map_err(db_err)?;
            for item in t.iter().map_err(db_err)? {
                let (k, v) = item.map_err(db_err)?;
                st.bytes += v.value().len() as u64;
                st.next = st.next.max(k.value() + 1);
            }
        }
        w.commit().map_err(db_err)?;
        Ok(Self { db, limits, state: Mutex::new(st) })
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, SpoolError> {
        self.state.lock().map_err(|_| SpoolError::Poisoned)
    }

    /// Appends `alerts` durably (fsync), dropping the oldest past the
    /// limits.
    pub fn append(&self, alerts: &[std::sync::Arc<DeliveredAlert>]) -> Result<Appended, SpoolError> {
        self.write(None, alerts).map(|(a, _)| a)
    }

    /// Replaces the alert at `old` (if still there) with `alert` in one
    /// commit, so a report that grows does not push out another alert;
    /// returns the new key.
    pub fn replace(
        &self,
        old: Option<u64>,
        alert: &std::sync::Arc<DeliveredAlert>,
    ) -> Result<(Appended, Option<u64>), SpoolError> {
        self.write(old, std::slice::from_ref(alert))
    }

    fn write(
        &self,
        old: Option<u64>,
        alerts: &[std::sync::Arc<DeliveredAlert>],
    ) -> Result<(Appended, Option<u64>), SpoolError> {
        let mut st = self.state()?;
        let mut next = *st;
        let mut out = Appended::default();
        let mut last_key = None;
        let w = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = w.open_table(ALERTS).map_err(db_err)?;
            if let Some(k) = old
                && let Some(v) = t.remove(k).map_err(db_err)?
            {
                next.count -= 1;
                next.bytes = next.bytes.saturating_sub(v.value().len() as u64);
            }
            for a in alerts {
                let rec = a.encode_record();
                let len = rec.len() as u64;
                if len > self.limits.max_bytes {
                    out.dropped += 1;
                    continue;
                }
                while next.count > 0
                    && (next.count + 1 > self.limits.max_alerts || next.bytes + len > self.limits.max_bytes)
                {
                    let Some((_, v)) = t.pop_first().map_err(db_err)? else { break };
                    next.count -= 1;
                    next.bytes = next.bytes.saturating_sub(v.value().len() as u64);
                    out.dropped += 1;
                }
                t.insert(next.next, rec.as_slice()).map_err(db_err)?;
                last_key = Some(next.next);
                next.next += 1;
                next.count += 1;
                next.bytes += len;
                out.stored += 1;
            }
        }
        w.commit().map_err(db_err)?;
        *st = next;
        Ok((out, last_key))
    }

    /// The oldest `n` alerts with their keys (a record that cannot be read
    /// comes back as its error, for the caller to drop and count).
    pub fn peek(&self, max: usize) -> Result<Vec<Spooled>, SpoolError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = match txn.open_table(ALERTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let mut out = Vec::with_capacity(max.min(1024));
        for item in table.iter().map_err(db_err)?.take(max) {
            let (key, value) = item.map_err(db_err)?;
            out.push((key.value(), DeliveredAlert::decode_record(value.value())));
        }
        Ok(out)
    }

    /// Removes delivered (or given-up) alerts. Not fsynced: see the module
    /// doc.
    pub fn remove(&self, keys: &[u64]) -> Result<(), SpoolError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut st = self.state()?;
        let mut next = *st;
        let mut w = self.db.begin_write().map_err(db_err)?;
        w.set_durability(Durability::None).map_err(db_err)?;
        {
            let mut t = w.open_table(ALERTS).map_err(db_err)?;
            for k in keys {
                if let Some(v) = t.remove(*k).map_err(db_err)? {
                    next.count -= 1;
                    next.bytes = next.bytes.saturating_sub(v.value().len() as u64);
                }
            }
        }
        w.commit().map_err(db_err)?;
        *st = next;
        Ok(())
    }

    /// Which of `keys` are still spooled.
    pub fn contains(&self, keys: &[u64]) -> Result<Vec<u64>, SpoolError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = match txn.open_table(ALERTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let mut out = Vec::new();
        for k in keys {
            if table.get(*k).map_err(db_err)?.is_some() {
                out.push(*k);
            }
        }
        Ok(out)
    }

    /// Makes earlier removals durable (at shutdown).
    pub fn sync(&self) -> Result<(), SpoolError> {
        let _st = self.state()?;
        let w = self.db.begin_write().map_err(db_err)?;
        w.commit().map_err(db_err)
    }

    pub fn len(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.count)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.bytes)
    }
}
