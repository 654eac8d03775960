//! `sensor baseline list|show|export|import|approve|reset`: profiles
//! reviewed and edited as YAML on the profile directory. A running agent
//! notices the changed files and takes them over (see [`super::store`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::profile::{Mode, ProfileDoc};
use super::store::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no profile matches {selector:?} in {dir} (`sensor baseline list` shows them)")]
    NoMatch { selector: String, dir: PathBuf },
    #[error("removing {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Profiles of `dir` whose object name, key or key prefix is `selector`
/// (`pod:prod/Deployment/web` selects every container of that workload).
fn select(dir: &Path, selector: &str) -> Result<Vec<ProfileDoc>, ReviewError> {
    let (docs, _) = store::load_dir(dir)?;
    let hits: Vec<ProfileDoc> = docs
        .into_iter()
        .map(|(d, _)| d)
        .filter(|d| d.metadata.name == selector || d.spec.key.to_string().starts_with(selector))
        .collect();
    if hits.is_empty() {
        return Err(ReviewError::NoMatch { selector: selector.to_owned(), dir: dir.to_owned() });
    }
    Ok(hits)
}

/// One line per profile: status, coverage, confidence and why it is partial.
pub fn list(dir: &Path) -> Result<String, ReviewError> {
    let (docs, errors) = store::load_dir(dir)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>6} {:>9} {:>10}  {:<20}  KEY",
        "STATUS", "EVENTS", "ITEMS", "LEARNED", "DEVIATIONS", "LAST NEW ITEM"
    );
    for (d, _) in &docs {
        let st = &d.status;
        let status = if st.unstable { "unstable" } else { d.spec.mode.as_str() };
        let partial = st.partial();
        let _ = write!(
            out,
            "{:<10} {:>8} {:>6} {:>8}s {:>10}  {:<20}  {}",
            status,
            st.events,
            d.spec.items(),
            st.learned_seconds,
            st.deviations,
            st.last_new_item.as_deref().map_or("-", |t| t.get(..19).unwrap_or(t)),
            d.spec.key
        );
        if !partial.is_empty() {
            let _ = write!(out, "  (partial: {})", partial.join("; "));
        }
        out.push('\n');
    }
    for e in errors {
        let _ = writeln!(out, "error: {e}");
    }
    Ok(out)
}

/// The YAML of the selected profiles, `---` between them: what `kubectl
/// apply -f` takes once the `SensorProfile` CRD is installed.
pub fn export(dir: &Path, selectors: &[String]) -> Result<String, ReviewError> {
    let docs = if selectors.is_empty() {
        store::load_dir(dir)?.0.into_iter().map(|(d, _)| d).collect()
    } else {
        let mut v = Vec::new();
        for s in selectors {
            v.extend(select(dir, s)?);
        }
        v
    };
    let mut out = String::new();
    for d in &docs {
        if !out.is_empty() {
            out.push_str("---\n");
        }
        out.push_str(&store::encode(d)?);
    }
    Ok(out)
}

/// Merges the profiles of a YAML file into the directory (the union of
/// what each knows); with `replace` the file's version replaces ours.
/// Returns the keys written.
pub fn import(dir: &Path, file: &Path, replace: bool, max_items: usize) -> Result<Vec<String>, ReviewError> {
    let text = std::fs::read_to_string(file).map_err(|source| StoreError::Read { path: file.to_owned(), source })?;
    let docs = store::decode_all(file, &text)?;
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: dir.to_owned(), source })?;
    let mut written = Vec::new();
    for mut d in docs {
        // The name is ours to derive: a hand-edited name cannot split a key.
        d.metadata.name = d.spec.key.object_name();
        let path = store::file_of(dir, &d.metadata.name);
        let doc = match (replace, store::read_one(&path)?) {
            (false, Some((mut ours, _))) => {
                ours.merge(&d, max_items);
                ours
            }
            _ => d,
        };
        store::write_atomic(&path, &store::encode(&doc)?)?;
        written.push(doc.spec.key.to_string());
    }
    Ok(written)
}

/// Freezes the selected profiles: they enforce and learn no more.
pub fn approve(dir: &Path, selector: &str) -> Result<Vec<String>, ReviewError> {
    let mut done = Vec::new();
    for mut d in select(dir, selector)? {
        d.spec.mode = Mode::Approved;
        d.status.unstable = false;
        d.status.recent_deviations.clear();
        store::write_atomic(&store::file_of(dir, &d.metadata.name), &store::encode(&d)?)?;
        done.push(d.spec.key.to_string());
    }
    Ok(done)
}

/// Removes the selected profiles: their workloads learn again from nothing.
pub fn reset(dir: &Path, selector: &str) -> Result<Vec<String>, ReviewError> {
    let mut done = Vec::new();
    for d in select(dir, selector)? {
        let path = store::file_of(dir, &d.metadata.name);
        std::fs::remove_file(&path).map_err(|source| ReviewError::Remove { path, source })?;
        done.push(d.spec.key.to_string());
    }
    Ok(done)
}
