//! The storage error type: every failure names the database file and the operation.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path}: {op}: {source}")]
    Sql {
        path: String,
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path}: corrupt record in {op}: {source}")]
    Corrupt {
        path: String,
        op: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid query: {0}")]
    Query(String),
}
