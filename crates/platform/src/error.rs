//! The platform error type.

/// A platform failure; each names the node and what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("platform {node}: cannot listen on {addr}: {source}")]
    Listen {
        node: String,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("platform {node}: {source}")]
    Store {
        node: String,
        #[source]
        source: Box<store::Error>,
    },
    #[error("platform {node}: invalid config: {message}")]
    Config { node: String, message: String },
}
