//! Profiles on disk: one `SensorProfile` YAML file per workload, written
//! atomically (temporary file, fsync, rename, fsync of the directory), so a
//! crash leaves the old or the new profile, never half of one.
//!
//! A file changed or removed by someone else (`sensor baseline approve`,
//! `reset`, `import`, an editor) is noticed by the agent and wins over
//! what it holds in memory.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::profile::{KIND, ProfileDoc};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("creating the profile directory {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a SensorProfile document: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding the profile {name} as YAML: {reason}")]
    Encode { name: String, reason: String },
}

/// What identifies one version of a file: a rename makes a new inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    ino: u64,
    mtime_ns: i64,
    len: u64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Self {
        Self { ino: m.ino(), mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(), len: m.len() }
    }
}

pub fn file_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.yaml"))
}

/// The YAML text of a profile.
pub fn encode(doc: &ProfileDoc) -> Result<String, StoreError> {
    serde_saphyr::to_string(doc)
        .map_err(|e| StoreError::Encode { name: doc.metadata.name.clone(), reason: e.to_string() })
}

/// Profiles in a YAML text (one document or several, `---` separated).
pub fn decode_all(path: &Path, text: &str) -> Result<Vec<ProfileDoc>, StoreError> {
    let docs: Vec<ProfileDoc> = serde_saphyr::from_multiple(text)
        .map_err(|e| StoreError::Parse { path: path.to_owned(), reason: e.to_string() })?;
    if let Some(d) = docs.iter().find(|d| d.kind != KIND) {
        return Err(StoreError::Parse { path: path.to_owned(), reason: format!("kind {} (expected {KIND})", d.kind) });
    }
    Ok(docs)
}

/// Writes `text` to `path` atomically; returns the new file's stamp.
pub fn write_atomic(path: &Path, text: &str) -> Result<Stamp, StoreError> {
    let err = |source| StoreError::Write { path: path.to_owned(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Ok(d) = std::fs::File::open(dir) {
        // The rename itself made durable; a failure leaves it in the cache.
        let _ = d.sync_all();
    }
    std::fs::metadata(path).map(|m| Stamp::of(&m)).map_err(err)
}

/// The profiles of a directory with their stamps, and the files that failed.
pub type Loaded = (Vec<(ProfileDoc, Stamp)>, Vec<StoreError>);

/// Every profile file of a directory, by file stem, with its stamp.
/// Unreadable or broken files are returned as errors beside the others.
pub fn load_dir(dir: &Path) -> Result<Loaded, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: dir.to_owned(), source })?;
    let entries = std::fs::read_dir(dir).map_err(|source| StoreError::Read { path: dir.to_owned(), source })?;
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "yaml")
                && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    for p in paths {
        match read_one(&p) {
            Ok(Some(d)) => docs.push(d),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    Ok((docs, errors))
}

/// One profile file; `None` when it vanished meanwhile.
pub fn read_one(path: &Path) -> Result<Option<(ProfileDoc, Stamp)>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StoreError::Read { path: path.to_owned(), source }),
    };
    let stamp = std::fs::metadata(path)
        .map(|m| Stamp::of(&m))
        .map_err(|source| StoreError::Read { path: path.to_owned(), source })?;
    let mut docs = decode_all(path, &text)?;
    match docs.len() {
        1 => Ok(docs.pop().map(|d| (d, stamp))),
        n => Err(StoreError::Parse { path: path.to_owned(), reason: format!("{n} documents (one profile per file)") }),
    }
}

/// Requests to the store thread.
pub enum ToStore {
    /// The profile's file name stem and its YAML.
    Save(String, String),
    /// Look for files changed by someone else.
    Scan,
}

/// What the store thread reports back.
pub enum FromStore {
    Saved(String, Stamp),
    /// Changed on disk by someone else: this version wins.
    Changed(Box<ProfileDoc>, Stamp),
    /// Removed by someone else (`reset`): learn again from nothing.
    Removed(String),
    Failed(StoreError),
}

/// The store thread: writes what it is sent, and on `Scan` compares the
/// directory with the stamps of what it wrote or read last.
pub fn run(
    dir: &Path,
    known: Vec<(String, Stamp)>,
    rx: &std::sync::mpsc::Receiver<ToStore>,
    tx: &std::sync::mpsc::Sender<FromStore>,
) {
    let mut known: HashMap<String, Stamp> = known.into_iter().collect();
    while let Ok(msg) = rx.recv() {
        match msg {
            ToStore::Save(name, text) => {
                let path = file_of(dir, &name);
                // Removed on disk since we wrote or read it (`reset`): gone.
                if known.contains_key(&name) && !path.exists() {
                    known.remove(&name);
                    if tx.send(FromStore::Removed(name)).is_err() {
                        return;
                    }
                    continue;
                }
                // Edited on disk since we wrote or read it: that version wins.
                if let Ok(m) = std::fs::metadata(&path)
                    && known.get(&name) != Some(&Stamp::of(&m))
                {
                    let r = match read_one(&path) {
                        Ok(Some((doc, stamp))) => {
                            known.insert(name, stamp);
                            FromStore::Changed(Box::new(doc), stamp)
                        }
                        Ok(None) => continue,
                        Err(e) => {
                            known.insert(name, Stamp::of(&m));
                            FromStore::Failed(e)
                        }
                    };
                    if tx.send(r).is_err() {
                        return;
                    }
                    continue;
                }
                let r = match write_atomic(&path, &text) {
                    Ok(stamp) => {
                        known.insert(name.clone(), stamp);
                        FromStore::Saved(name, stamp)
                    }
                    Err(e) => FromStore::Failed(e),
                };
                if tx.send(r).is_err() {
                    return;
                }
            }
            ToStore::Scan => {
                for r in scan(dir, &mut known) {
                    if tx.send(r).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn scan(dir: &Path, known: &mut HashMap<String, Stamp>) -> Vec<FromStore> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    let mut seen = std::collections::HashSet::new();
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        let Some(stem) = p.file_stem().map(|s| s.to_string_lossy().into_owned()) else { continue };
        if stem.starts_with('.') || p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        seen.insert(stem.clone());
        let Ok(m) = e.metadata() else { continue };
        if known.get(&stem) == Some(&Stamp::of(&m)) {
            continue;
        }
        match read_one(&p) {
            Ok(Some((doc, stamp))) => {
                known.insert(stem, stamp);
                out.push(FromStore::Changed(Box::new(doc), stamp));
            }
            Ok(None) => {}
            Err(e) => {
                // Reported once per version of the broken file.
                known.insert(stem, Stamp::of(&m));
                out.push(FromStore::Failed(e));
            }
        }
    }
    let gone: Vec<String> = known.keys().filter(|k| !seen.contains(*k)).cloned().collect();
    for g in gone {
        known.remove(&g);
        out.push(FromStore::Removed(g));
    }
    out
}
