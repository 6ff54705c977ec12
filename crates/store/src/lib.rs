//! Xueliang storage: the operations investigators and the federation need, over an embedded
//! SQLite file.
//!
//! The API is shaped like the work, not like SQL: [`Store::append`] takes a batch from one source
//! and is idempotent on (source, seq); [`Store::search`] answers a [`Query`] page by page;
//! the outbox ([`Store::enqueue`], [`Store::pending`], [`Store::ack`]) holds what this node
//! must still send upstream (sightings and camera health, see [`Item`]), written in the same
//! transaction as the local write so a crash can neither lose nor duplicate an item.
//!
//! Investigators' operations (`investigate/`): [`Store::find`] by [`Filter`] (time, cameras,
//! counties, regions, attributes, plate state, exact or fuzzy [`PlatePattern`]) with keyset
//! pages, [`Store::trajectory`], [`Store::co_occurrence`], [`Store::companions`],
//! [`Store::first_entry`], [`Store::cloned_plates`] and [`Store::similar`]; each returns an
//! [`Answer`] with the [`Coverage`] of its window (cameras in scope that were down or degraded).

mod audit;
mod crops;
mod error;
mod health;
mod investigate;
mod item;
mod outbox;
mod query;
mod sqlite;

pub use audit::AuditEntry;
pub use crops::{crop_ref, parse_crop_ref, CropLookup, DEFAULT_CROP_CAPACITY_BYTES};
pub use error::Error;
pub use health::CameraRow;
pub use investigate::{
    distance_km, normalize as normalize_plate, Alert, Answer, CameraGeo, CloneEvidence,
    ClonedPlate, ClonedPlates, CoOccurrence, Companion, Companions, Coverage, Entry, Filter, Gap,
    PlatePattern, Probe, Region, Similar, Stop, Subject, Vehicle, Watch, Watchlist,
    DEFAULT_MIN_COSINE, MAX_ALERTS_PAGE, MAX_RANGE_MS, MAX_STOPS, MAX_WATCHLISTS,
    MAX_WATCHLIST_NAME, MAX_WINDOW_SIGHTINGS,
};
pub use item::Item;
pub use query::{Cursor, Page, Query};
pub use sqlite::{AppendOutcome, Batch, OutboxItem, SourceStat, Stats, Store};
