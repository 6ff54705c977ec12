//! Xueliang federation: how one tier hands what it saw to the tier above, losing nothing and
//! storing nothing twice (see `proto/xueliang/v1/uplink.proto` for the wire contract).
//!
//! Data flows one way: a [`Forwarder`] drains this node's outbox ([`store::Store::pending`])
//! into the upstream's [`Receiver`], which commits each batch with the source's high-water mark
//! before acking; the forwarder deletes what was acked. Any outage or crash on either side only
//! causes a resend from the last ack, which the receiver skips.

mod error;
mod forwarder;
mod receiver;

pub use error::Error;
pub use forwarder::{Forwarder, ForwarderConfig, ForwarderStats};
pub use receiver::{Receiver, MAX_BATCH_ITEMS};
