//! Xueliang platform node (county or city): receives sightings from the tier below over
//! `Uplink.Push`, stores them in SQLite, answers `Search`, and — when it has an `upstream` —
//! forwards everything it accepted to the tier above through its own outbox.
//!
//! A platform with an upstream is a county; one without is the top (city). Both run the same
//! code. Data flows one way: uplink receiver → store (+ outbox) → forwarder.

pub mod auth;
mod config;
mod error;
mod health;
mod http;
mod http_search;
mod http_watch;
mod https;
pub mod investigate;
mod node;
mod search;
pub mod watchlists;
mod wire;

pub use config::{CameraConfig, PlatformConfig, RegionConfig};
pub use error::Error;
pub use health::{overview, CameraOverview, CameraStatus, CountyOnline, HealthService};
pub use node::{Platform, PlatformStats};
pub use search::SearchService;
