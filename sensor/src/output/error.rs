//! Errors of starting the outputs (delivery itself never fails: it
//! retries, spools, counts and reports).

use std::path::PathBuf;

use super::config::ConfigError;
use super::spool::SpoolError;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("output '{output}': reading {what} from {path}: {source}")]
    ReadFile { output: String, what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("output '{output}': {what}: environment variable {var} is not set or not UTF-8")]
    Env { output: String, what: &'static str, var: String },
    #[error("output '{output}': {what} is empty")]
    EmptySecret { output: String, what: &'static str },
    #[error("output '{output}': TLS: {reason}")]
    Tls { output: String, reason: String },
    #[error("output '{output}': header {header}: {reason}")]
    Header { output: String, header: String, reason: String },
    #[error("output '{output}': {source}")]
    Spool { output: String, source: SpoolError },
    #[error("output '{output}': opening {path}: {source}")]
    File { output: String, path: PathBuf, source: std::io::Error },
    #[error("outputs need a tokio runtime: {0}")]
    Runtime(String),
}
