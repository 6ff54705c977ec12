//! The edge error type: each names the node, camera or file at fault.

/// An edge node failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("edge {node}: invalid config: {message}")]
    Config { node: String, message: String },
    #[error("edge {node}: {source}")]
    Vision {
        node: String,
        #[source]
        source: Box<vision::Error>,
    },
    #[error("edge {node}: {source}")]
    Store {
        node: String,
        #[source]
        source: Box<store::Error>,
    },
    #[error("edge {node}: {source}")]
    Ingest {
        node: String,
        #[source]
        source: Box<ingest::Error>,
    },
    #[error("edge {node}: cannot listen on {addr}: {source}")]
    Listen {
        node: String,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("edge {node}: cannot start thread: {source}")]
    Thread {
        node: String,
        #[source]
        source: std::io::Error,
    },
}
