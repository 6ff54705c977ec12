//! Xueliang API v1: the code generated from `proto/xueliang/v1/*.proto`, and conversions between
//! the wire messages and the `base` domain types.
//!
//! Conversions from the wire are fallible ([`WireError`]) because a peer may send anything: a
//! sighting without its key, or a box with NaN coordinates, is rejected with a message naming
//! the field rather than stored half-filled.

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("xueliang.v1");
}

mod convert;

pub use convert::WireError;

/// Largest gRPC message either side accepts (4 MiB): a batch of sightings is far smaller, so
/// anything bigger is a broken or hostile peer.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
