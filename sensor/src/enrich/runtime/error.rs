use std::path::PathBuf;
use std::time::Duration;

/// Errors of runtime lookups. Every variant names the runtime and the operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The id is not 1..=64 lowercase hex characters.
    #[error("invalid container id {0:?}")]
    InvalidId(String),
    /// No runtime socket answered at startup.
    #[error("no container runtime available")]
    NoRuntime,
    /// The runtime does not know this container (`runtime` is `"any"` from [`super::Runtimes`]).
    #[error("container {id} not found in {runtime}")]
    NotFound {
        /// Runtime asked.
        runtime: &'static str,
        /// Container id.
        id: String,
    },
    /// Could not connect to the runtime socket.
    #[error("{runtime}: connect to {}: {source}", path.display())]
    Connect {
        /// Runtime kind.
        runtime: &'static str,
        /// Socket path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A call did not finish in time.
    #[error("{runtime}: {op} timed out after {timeout:?}")]
    Timeout {
        /// Runtime asked.
        runtime: &'static str,
        /// Operation.
        op: &'static str,
        /// Timeout that expired.
        timeout: Duration,
    },
    /// A gRPC call failed.
    #[error("{runtime}: {op} failed: {source}")]
    Rpc {
        /// Runtime asked.
        runtime: &'static str,
        /// Operation (RPC name).
        op: &'static str,
        /// gRPC status.
        #[source]
        source: Box<tonic::Status>,
    },
    /// An HTTP request to the Docker API failed at the transport level.
    #[error("{runtime}: {op} failed: {source}")]
    Http {
        /// Runtime asked.
        runtime: &'static str,
        /// Operation.
        op: &'static str,
        /// Cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The Docker API answered with an error status.
    #[error("{runtime}: {op}: HTTP {status}: {message}")]
    Status {
        /// Runtime asked.
        runtime: &'static str,
        /// Operation.
        op: &'static str,
        /// HTTP status code.
        status: u16,
        /// Message from the body.
        message: String,
    },
    /// The response could not be decoded.
    #[error("{runtime}: {op}: bad response: {reason}")]
    Decode {
        /// Runtime asked.
        runtime: &'static str,
        /// Operation.
        op: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A recent lookup of this id failed; the failure is cached for the negative TTL.
    #[error("lookup of container {id} failed recently (cached): {reason}")]
    Cached {
        /// Container id.
        id: String,
        /// Message of the original error.
        reason: String,
    },
}
