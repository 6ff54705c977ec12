//! Xueliang edge node: pulls its cameras, finds vehicles, and hands one sighting per vehicle
//! to its county platform.
//!
//! ```text
//! camera thread ─Frame→ Mailbox (latest only) → analysis thread (detect batch → track)
//!   ─Vec<Finished>→ bounded channel → recorder thread (SQLite: crops, sightings + outbox)
//!   → Forwarder (gRPC Uplink.Push) → county
//! Media.FetchCrop (gRPC, from the county) ← crop store
//! ```
//! Crops stay here: a sighting carries `xl://<node>/crop/<id>`, and the county fetches the
//! JPEG through this node's Media service when someone asks for it.
//!
//! Data flows one way; each stage owns its state and the sender to the next, and stops when its
//! input closes. Between ingest and analysis only the newest frame per camera is kept (live video
//! may skip frames; every skipped frame is counted). From the tracker on, queues are bounded and
//! block: a sighting is never dropped, and what the outbox sheds is counted and reported upward.

mod analysis;
mod cameras;
mod config;
mod crops;
mod error;
mod http;
mod mailbox;
mod node;
pub mod vehicles;

pub use cameras::{CameraChanges, CameraReport};
pub use config::{CameraConfig, DetectorSection, EdgeConfig};
pub use error::Error;
pub use node::{Edge, EdgeStats};
