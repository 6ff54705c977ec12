//! The investigators' operations over the SQLite store: search by [`Filter`] with keyset pages,
//! trajectory, co-occurrence (区域碰撞), companion vehicles (同行车), first entry (首次入城),
//! cloned-plate suspects (套牌) and similar vehicles.
//!
//! Every operation returns an [`Answer`]: its result and the [`Coverage`] of the question, that
//! is the cameras in scope and which of them were offline or degraded during the window (a
//! missing sighting there means nothing). Every query has a bounded time range.
//!
//! Performance contract (10 M sightings, 500 cameras, one SQLite file; `benches/search.rs`,
//! numbers in `docs/design/0005-investigator-search.md`): operations read covering indexes,
//! then decode only the records they return; p95 under 500 ms per kind on day-sized windows,
//! except a cloned-plate check over a whole city-day (~1 s: every read plate of the day is
//! grouped in memory); similar-vehicle search over the whole city for a day ~0.5 s. Linking
//! plateless vehicles compares int8 embeddings pairwise within one (class, colour) bucket, so
//! windows are capped at [`MAX_WINDOW_SIGHTINGS`] sightings each.

mod clones;
mod cooccur;
pub(crate) mod coverage;
mod entry;
pub(crate) mod filter;
pub(crate) mod geo;
mod hops;
pub(crate) mod plate;
pub(crate) mod schema;
mod similar;
mod trajectory;
pub(crate) mod watch;

pub use clones::{CloneEvidence, ClonedPlate, ClonedPlates};
pub use cooccur::{CoOccurrence, Companion, Companions, Vehicle};
pub use coverage::{Coverage, Gap};
pub use entry::Entry;
pub use filter::{Filter, MAX_RANGE_MS};
pub use geo::{distance_km, CameraGeo, Region};
pub use hops::HOP_FLOOR_KMH;
pub use plate::{normalize, PlatePattern};
pub use similar::{Probe, Similar};
pub use trajectory::{Stop, Subject};
pub use watch::{Alert, Watch, Watchlist, MAX_ALERTS_PAGE, MAX_WATCHLISTS, MAX_WATCHLIST_NAME};

use base::{Embedding, PlateState, Sighting, SightingKey, VehicleClass, VehicleColor};
use rusqlite::{params, Connection, OptionalExtension};

/// Default cosine similarity above which two plateless sightings of the same class and colour
/// are taken for the same vehicle.
pub const DEFAULT_MIN_COSINE: f32 = 0.8;

/// Most sightings one window (or one scan) may hold; beyond it the query must be narrowed.
pub const MAX_WINDOW_SIGHTINGS: usize = 200_000;

/// Most stops a trajectory returns.
pub const MAX_STOPS: usize = 10_000;

/// A result and what it covered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Answer<T> {
    pub result: T,
    pub coverage: Coverage,
}

/// One sighting as the covering indexes know it: enough to group, link and rank, without the
/// JSON record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hit {
    pub key: SightingKey,
    pub camera: String,
    pub pass_time_ms: i64,
    pub class: VehicleClass,
    pub color: VehicleColor,
    pub state: PlateState,
    pub plate: Option<String>,
}

impl Hit {
    /// Columns, in order, that [`Hit::from_row`] reads (table alias `s`).
    pub(crate) const COLUMNS: &'static str =
        "s.origin, s.seq, s.camera, s.pass_time, s.class, s.color, s.plate_state, s.plate_text";

    pub(crate) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Hit> {
        Ok(Hit {
            key: SightingKey {
                origin: r.get(0)?,
                seq: r.get::<_, i64>(1)? as u64,
            },
            camera: r.get(2)?,
            pass_time_ms: r.get(3)?,
            class: VehicleClass::from_code(r.get(4)?),
            color: VehicleColor::from_code(r.get(5)?),
            state: PlateState::from_code(r.get(6)?),
            plate: r.get(7)?,
        })
    }
}

/// The embedding of a sighting known by its index columns.
pub(crate) fn embedding_of(conn: &Connection, h: &Hit) -> rusqlite::Result<Option<Embedding>> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT embedding FROM sighting_embeddings WHERE class = ?1 AND color = ?2
             AND pass_time = ?3 AND origin = ?4 AND seq = ?5",
        )?
        .query_row(
            params![
                h.class.code(),
                h.color.code(),
                h.pass_time_ms,
                h.key.origin,
                h.key.seq as i64
            ],
            |r| r.get(0),
        )
        .optional()?;
    Ok(blob.as_deref().and_then(Embedding::from_bytes))
}

/// Full records (with embeddings) of `keys`, in the same order; unknown keys are skipped.
pub(crate) fn load_sightings(
    store: &crate::Store,
    conn: &Connection,
    keys: &[SightingKey],
) -> Result<Vec<Sighting>, crate::Error> {
    let mut st = conn
        .prepare_cached(
            "SELECT s.body, e.embedding FROM sightings s
             LEFT JOIN sighting_embeddings e ON e.class = s.class AND e.color = s.color
                 AND e.pass_time = s.pass_time AND e.origin = s.origin AND e.seq = s.seq
             WHERE s.origin = ?1 AND s.seq = ?2",
        )
        .map_err(store.sql("load sightings"))?;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let row: Option<(String, Option<Vec<u8>>)> = st
            .query_row(params![k.origin, k.seq as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(store.sql("load sightings"))?;
        if let Some((body, emb)) = row {
            out.push(decode_with_embedding(store, &body, emb.as_deref())?);
        }
    }
    Ok(out)
}

/// Decodes a stored body and puts its embedding back.
pub(crate) fn decode_with_embedding(
    store: &crate::Store,
    body: &str,
    embedding: Option<&[u8]>,
) -> Result<Sighting, crate::Error> {
    let mut s: Sighting = store.decode(body, "decode sighting")?;
    if let Some(e) = embedding.and_then(Embedding::from_bytes) {
        s.embedding = Some(e);
    }
    Ok(s)
}

/// Dot product and the second vector's squared norm of two int8 vectors (the second in its
/// stored byte form). Written as plain loops over fixed-size arrays so it vectorises.
pub(crate) fn dot_norm(a: &[i8; Embedding::DIM], b: &[u8]) -> (i32, i32) {
    let Ok(b) = <&[u8; Embedding::DIM]>::try_from(b) else {
        return (0, 0);
    };
    let (mut ab, mut bb) = (0i32, 0i32);
    for i in 0..Embedding::DIM {
        let y = i32::from(b[i] as i8);
        ab += i32::from(a[i]) * y;
        bb += y * y;
    }
    (ab, bb)
}

/// Cosine of `probe` (with its squared norm) against a stored vector.
pub(crate) fn cosine_bytes(probe: &[i8; Embedding::DIM], probe_norm2: i32, b: &[u8]) -> f32 {
    let (ab, bb) = dot_norm(probe, b);
    if probe_norm2 == 0 || bb == 0 {
        return 0.0;
    }
    (f64::from(ab) / (f64::from(probe_norm2) * f64::from(bb)).sqrt()) as f32
}

pub(crate) fn norm2(e: &Embedding) -> i32 {
    e.components()
        .iter()
        .map(|&c| i32::from(c) * i32::from(c))
        .sum()
}

/// A fast non-cryptographic hasher (the rustc "Fx" mix with a murmur finaliser) for in-memory
/// grouping of short strings from our own database, where SipHash's flood resistance buys
/// nothing.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the low bits (the table's bucket index) depending only on the
        // low bytes of each chunk, constant in `晋M…`: fold the high half down.
        let h = (self.0 ^ (self.0 >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

pub(crate) type FxMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

#[cfg(test)]
pub(crate) mod testutil;
