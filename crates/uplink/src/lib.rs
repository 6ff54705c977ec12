//! Xueliang federation: how one tier hands what it saw to the tier above, losing nothing and
//! storing nothing twice (see `proto/xueliang/v1/uplink.proto` for the wire contract).
//!
//! Data flows one way: a [`Forwarder`] drains this node's outbox ([`store::Store::pending`])
//! into the upstream's [`Receiver`], which commits each batch with the source's high-water mark
//! before acking; the forwarder deletes what was acked. Any outage or crash on either side only
//! causes a resend from the last ack, which the receiver skips.

mod admission;
mod error;
mod forwarder;
pub mod media;
mod receiver;
pub mod tls;

pub use admission::Admission;
pub use error::Error;
pub use forwarder::{Forwarder, ForwarderConfig, ForwarderStats};
pub use media::{Gate, MediaService, MediaStats};
pub use receiver::{MediaDirectory, Receiver, MAX_BATCH_ITEMS};
pub use tls::TlsConfig;

/// Checks a node id as the federation uses it (the source name upstream, the origin of every
/// sighting key): non-empty, at most 64 characters, no whitespace or control characters.
pub fn check_node_id(node: &str) -> Result<(), String> {
    if node.is_empty() || node.chars().count() > 64 {
        return Err(format!("`node` must have 1 to 64 characters, got {node:?}"));
    }
    if node.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`node` must not contain spaces, got {node:?}"));
    }
    Ok(())
}

/// Checks an upstream address: an `http://` or `https://` URL that gRPC can connect to.
pub fn check_upstream(url: &str) -> Result<(), String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "`upstream` must be an http:// or https:// URL, got {url:?}"
        ));
    }
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .map(|_| ())
        .map_err(|e| format!("`upstream` {url:?} is not a valid address: {e}"))
}

/// Checks that an upstream's scheme agrees with the node's TLS setting: `https://` needs the
/// `table` (e.g. `[edge.tls]`), and a node with TLS never talks plain text upward.
pub fn check_upstream_tls(url: &str, tls: bool, table: &str) -> Result<(), String> {
    match (url.starts_with("https://"), tls) {
        (true, false) => Err(format!(
            "upstream {url:?} is https:// but {table} is not set"
        )),
        (false, true) => Err(format!(
            "{table} is set but upstream {url:?} is plain http://; use https://"
        )),
        _ => Ok(()),
    }
}

/// An error and its sources on one line: tonic's own text ("transport error") hides the cause,
/// e.g. a refused connection or a certificate the upstream does not trust.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        // hyper and tonic often wrap an error in one with the same text.
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_and_upstreams() {
        assert!(check_node_id("county-1").is_ok());
        assert!(check_node_id("").is_err());
        assert!(check_node_id("a b").is_err());
        assert!(check_upstream("http://127.0.0.1:7100").is_ok());
        assert!(check_upstream("127.0.0.1:7100")
            .unwrap_err()
            .contains("http://"));
        assert!(check_upstream("http://bad host:1").is_err());
        assert!(check_upstream_tls("https://a:1", true, "[t]").is_ok());
        assert!(check_upstream_tls("https://a:1", false, "[t]").is_err());
        assert!(check_upstream_tls("http://a:1", true, "[t]").is_err());
    }
}
