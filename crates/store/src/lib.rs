//! Xueliang storage: the operations investigators and the federation need, over an embedded
//! SQLite file.
//!
//! The API is shaped like the work, not like SQL: [`Store::append`] takes a batch from one source
//! and is idempotent on (source, seq); [`Store::search`] answers a [`Query`] page by page;
//! the outbox ([`Store::enqueue`], [`Store::pending`], [`Store::ack`]) holds what this node
//! must still send upstream (sightings and camera health, see [`Item`]), written in the same transaction as the local write so a crash can
//! neither lose nor duplicate an item.

mod crops;
mod error;
mod health;
mod item;
mod outbox;
mod query;
mod sqlite;

pub use crops::{crop_ref, parse_crop_ref, CropLookup, DEFAULT_CROP_CAPACITY_BYTES};
pub use error::Error;
pub use health::CameraRow;
pub use item::Item;
pub use query::{Cursor, Page, Query};
pub use sqlite::{AppendOutcome, Batch, OutboxItem, SourceStat, Stats, Store};
