//! The uplink error type, and its one mapping to a gRPC status.

/// An uplink failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("upstream {url}: {message}")]
    Upstream { url: String, message: String },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("protocol violation from {peer}: {message}")]
    Protocol { peer: String, message: String },
    #[error("TLS file {}: {message}", path.display())]
    Tls {
        path: std::path::PathBuf,
        message: String,
    },
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> tonic::Status {
        match &e {
            Error::Protocol { .. } => tonic::Status::invalid_argument(e.to_string()),
            Error::Store(store::Error::Query(_)) => tonic::Status::invalid_argument(e.to_string()),
            Error::Store(_) => tonic::Status::unavailable(e.to_string()),
            Error::Upstream { .. } => tonic::Status::unavailable(e.to_string()),
            Error::Tls { .. } => tonic::Status::internal(e.to_string()),
        }
    }
}
