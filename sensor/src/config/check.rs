//! `sensor config check FILE`: everything `sensor run --config FILE` checks
//! before it starts, without starting: the YAML, unknown keys and values
//! (`file:line:column` and the key's path), the output format keys and
//! `append_output`, and the `outputs:` section (names, URLs, secrets given
//! as exactly one of `file`/`env`).

use std::path::Path;

use super::output::{OutputConfig, OutputOverrides};
use super::{Config, ConfigError};

/// What a valid file configures.
#[derive(Debug)]
pub struct Checked {
    /// The `outputs:` targets' names; empty: the default stdout line.
    pub outputs: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{file}: outputs: {source}")]
    Outputs {
        file: String,
        #[source]
        source: crate::output::config::ConfigError,
    },
}

pub fn check(path: &Path) -> Result<Checked, CheckError> {
    let cfg = Config::load(path)?;
    let file = path.display().to_string();
    OutputConfig::resolve(&cfg, &file, OutputOverrides::default())?;
    let outputs = match &cfg.outputs {
        Some(o) => o.validate().map_err(|source| CheckError::Outputs { file, source })?,
        None => Vec::new(),
    };
    Ok(Checked { outputs })
}
