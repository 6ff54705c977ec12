//! Plate hops: the consecutive pairs of one read plate's sightings that could be evidence of a
//! cloned plate (套牌), kept as sightings are committed, so a cloned-plate check over a whole
//! city-day reads a few hundred rows instead of scanning a million.
//!
//! A *hop* is two sightings `a → b` of the same plate text, consecutive in (pass time, origin,
//! seq) order among all read sightings of that plate, that are *notable*:
//! - **fast**: at two cameras with known positions, and the straight-line speed between them
//!   with no tolerance exceeds [`HOP_FLOOR_KMH`] (a query's tolerance only lowers the speed, so
//!   any pair a query with `max_speed_kmh ≥ HOP_FLOOR_KMH` can accuse is here);
//! - **changed**: the vehicle class family differs, or the colours conflict (the same test the
//!   appearance check uses), or one side's class or colour is unknown and the other's is not
//!   (an unknown can stand between two conflicting sightings).
//!
//! Each sighting has at most one incoming hop, so a hop is known by `b`; the table is clustered
//! by `b`'s time, so a window's hops are one range read. A hop carries what the check reports
//! (both keys, cameras, times, the distance), so fast pairs are judged without reading a
//! sighting; only plates with a changed pair have their window's sightings read. Inserting a read
//! sighting `s` between `prev` and `next` replaces the pair `prev → next` by `prev → s` and
//! `s → next`: two index seeks on `sightings_by_plate` and at most two writes, in the
//! transaction that commits `s` (out-of-order arrival is handled the same way).
//!
//! Why this is exact for an unscoped check: two sightings consecutive among a plate's read
//! sightings of a window are consecutive among all of them (no scope removes one in between),
//! so every speed pair the scan would accuse is a fast hop; and a plate whose window holds two
//! conflicting class families has a consecutive pair that differs in family. Limitation: a
//! colour conflict reached only through neighbouring colours (white → grey → black) leaves no
//! changed hop; the unscoped check then misses that colour evidence (class evidence and speed
//! are unaffected). When a camera is placed or moved (`Store::put_cameras_geo`), the pairs of
//! its read sightings are judged again.

use base::{PlateState, Sighting, SightingKey, VehicleClass, VehicleColor};
use rusqlite::{params, Connection, OptionalExtension};

use super::clones::{class_family, colours_conflict};
use super::distance_km;
use super::plate::normalize;

/// Pairs slower than this (no tolerance) are not kept as fast hops. A cloned-plate check asking
/// for a lower speed bound scans instead.
pub const HOP_FLOOR_KMH: f64 = 80.0;

pub(crate) const HOPS_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS plate_hops (
    b_time   INTEGER NOT NULL,
    b_origin TEXT    NOT NULL,
    b_seq    INTEGER NOT NULL,
    a_time   INTEGER NOT NULL,
    a_origin TEXT    NOT NULL,
    a_seq    INTEGER NOT NULL,
    a_camera TEXT    NOT NULL,
    b_camera TEXT    NOT NULL,
    plate    TEXT    NOT NULL,
    km       REAL,
    changed  INTEGER NOT NULL,
    PRIMARY KEY (b_time, b_origin, b_seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS plate_hops_by_b ON plate_hops (b_origin, b_seq);
"#;

/// A kept pair, as a cloned-plate check reads it.
#[derive(Debug, Clone)]
pub(crate) struct Hop {
    pub plate: String,
    pub a: SightingKey,
    pub a_time: i64,
    pub a_camera: String,
    pub b: SightingKey,
    pub b_time: i64,
    pub b_camera: String,
    /// Straight-line distance when both positions are known and the cameras differ.
    pub km: Option<f64>,
    /// The class family differs or the colours conflict.
    pub changed: bool,
}

/// A neighbour of a sighting in its plate's time order.
struct Near {
    origin: String,
    seq: i64,
    time: i64,
    camera: String,
    class: VehicleClass,
    color: VehicleColor,
}

/// The columns [`Near::from_row`] reads, in order (table alias `s`); a macro so the commit
/// path's queries stay literals (no formatting per sighting).
macro_rules! near_columns {
    () => {
        "s.origin, s.seq, s.pass_time, s.camera, s.class, s.color"
    };
}

impl Near {
    /// A sighting from the `near_columns!()` starting at column `at`.
    fn from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Near> {
        Ok(Near {
            origin: r.get(at)?,
            seq: r.get(at + 1)?,
            time: r.get(at + 2)?,
            camera: r.get(at + 3)?,
            class: VehicleClass::from_code(r.get(at + 4)?),
            color: VehicleColor::from_code(r.get(at + 5)?),
        })
    }
}

/// The read sighting of `plate` just before (`before`) or just after `(time, origin, seq)`.
fn neighbour(
    conn: &Connection,
    plate: &str,
    time: i64,
    origin: &str,
    seq: i64,
    before: bool,
) -> rusqlite::Result<Option<Near>> {
    let sql = if before {
        concat!(
            "SELECT ",
            near_columns!(),
            " FROM sightings s INDEXED BY sightings_by_plate
             WHERE s.plate_norm = ?1 AND s.pass_time <= ?3 AND s.plate_text = ?2
               AND s.plate_state = ?6 AND (s.pass_time, s.origin, s.seq) < (?3, ?4, ?5)
             ORDER BY s.pass_time DESC, s.origin DESC, s.seq DESC LIMIT 1"
        )
    } else {
        concat!(
            "SELECT ",
            near_columns!(),
            " FROM sightings s INDEXED BY sightings_by_plate
             WHERE s.plate_norm = ?1 AND s.pass_time >= ?3 AND s.plate_text = ?2
               AND s.plate_state = ?6 AND (s.pass_time, s.origin, s.seq) > (?3, ?4, ?5)
             ORDER BY s.pass_time, s.origin, s.seq LIMIT 1"
        )
    };
    conn.prepare_cached(sql)?
        .query_row(
            params![
                normalize(plate),
                plate,
                time,
                origin,
                seq,
                PlateState::Read.code()
            ],
            |r| Near::from_row(r, 0),
        )
        .optional()
}

fn position(conn: &Connection, camera: &str) -> rusqlite::Result<Option<(f64, f64)>> {
    conn.prepare_cached("SELECT lat, lon FROM cameras_geo WHERE camera = ?1")?
        .query_row([camera], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// `(km, changed)` of `a → b` (a not after b) when the pair is worth keeping (see the module
/// docs).
fn notable(conn: &Connection, a: &Near, b: &Near) -> rusqlite::Result<Option<(Option<f64>, bool)>> {
    // An unknown class or colour next to a known one counts as a change: it may stand between
    // two conflicting ones (car → unknown → truck), which no other pair would show.
    let class_changed = a.class != b.class
        && (a.class == VehicleClass::Unknown
            || b.class == VehicleClass::Unknown
            || class_family(a.class) != class_family(b.class));
    let colour_changed = a.color != b.color
        && (a.color == VehicleColor::Unknown
            || b.color == VehicleColor::Unknown
            || colours_conflict(a.color, b.color));
    let changed = class_changed || colour_changed;
    let km = if a.camera == b.camera {
        None
    } else {
        match (position(conn, &a.camera)?, position(conn, &b.camera)?) {
            (Some(pa), Some(pb)) => Some(distance_km(pa, pb)),
            _ => None,
        }
    };
    let hours = (b.time - a.time).max(0) as f64 / 3_600_000.0;
    let fast = km.is_some_and(|km| km > HOP_FLOOR_KMH * hours);
    Ok((fast || changed).then_some((km, changed)))
}

/// Keeps `a → b` as `b`'s incoming hop, or forgets `b`'s incoming hop when it is not notable.
fn put(conn: &Connection, plate: &str, a: &Near, b: &Near) -> rusqlite::Result<()> {
    match notable(conn, a, b)? {
        Some((km, changed)) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO plate_hops (b_time, b_origin, b_seq, a_time, a_origin,
                     a_seq, a_camera, b_camera, plate, km, changed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                b.time, b.origin, b.seq, a.time, a.origin, a.seq, a.camera, b.camera, plate, km,
                changed
            ])?;
        }
        None => forget(conn, &b.origin, b.seq)?,
    }
    Ok(())
}

/// Drops the incoming hop of sighting `(origin, seq)`.
pub(crate) fn forget(conn: &Connection, origin: &str, seq: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM plate_hops WHERE b_origin = ?1 AND b_seq = ?2")?
        .execute(params![origin, seq])?;
    Ok(())
}

/// Updates the hops for a read sighting just stored (inside its commit).
pub(crate) fn note(conn: &Connection, s: &Sighting) -> rusqlite::Result<()> {
    let Some(plate) = s.plate.text.as_deref() else {
        return Ok(());
    };
    if s.plate.state != PlateState::Read {
        return Ok(());
    }
    let me = Near {
        origin: s.key.origin.clone(),
        seq: s.key.seq as i64,
        time: s.pass_time_ms,
        camera: s.camera.clone(),
        class: s.class,
        color: s.color,
    };
    around(conn, plate, &me)
}

/// Re-judges both pairs of every read sighting at `camera` (after its position changed).
pub(crate) fn refresh_camera(conn: &Connection, camera: &str) -> rusqlite::Result<()> {
    let mut st = conn.prepare(concat!(
        "SELECT s.plate_text, ",
        near_columns!(),
        " FROM sightings s INDEXED BY sightings_by_camera
         WHERE s.camera = ?1 AND s.plate_state = ?2 AND s.plate_text IS NOT NULL"
    ))?;
    let rows = st
        .query_map(params![camera, PlateState::Read.code()], |r| {
            Ok((r.get::<_, String>(0)?, Near::from_row(r, 1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (plate, me) in rows {
        around(conn, &plate, &me)?;
    }
    Ok(())
}

/// Judges `prev → me` and `me → next` for a read sighting `me` of `plate`.
fn around(conn: &Connection, plate: &str, me: &Near) -> rusqlite::Result<()> {
    if let Some(prev) = neighbour(conn, plate, me.time, &me.origin, me.seq, true)? {
        put(conn, plate, &prev, me)?;
    }
    if let Some(next) = neighbour(conn, plate, me.time, &me.origin, me.seq, false)? {
        put(conn, plate, me, &next)?;
    }
    Ok(())
}

/// The hops with both ends inside `[from_ms, to_ms)`, in `b`'s time order.
pub(crate) fn between(conn: &Connection, from_ms: i64, to_ms: i64) -> rusqlite::Result<Vec<Hop>> {
    let mut st = conn.prepare_cached(
        "SELECT plate, a_origin, a_seq, a_time, a_camera, b_origin, b_seq, b_time, b_camera,
                km, changed
         FROM plate_hops WHERE b_time >= ?1 AND b_time < ?2 AND a_time >= ?1
         ORDER BY b_time, b_origin, b_seq",
    )?;
    let rows = st.query_map(params![from_ms, to_ms], |r| {
        Ok(Hop {
            plate: r.get(0)?,
            a: SightingKey {
                origin: r.get(1)?,
                seq: r.get::<_, i64>(2)? as u64,
            },
            a_time: r.get(3)?,
            a_camera: r.get(4)?,
            b: SightingKey {
                origin: r.get(5)?,
                seq: r.get::<_, i64>(6)? as u64,
            },
            b_time: r.get(7)?,
            b_camera: r.get(8)?,
            km: r.get(9)?,
            changed: r.get(10)?,
        })
    })?;
    rows.collect()
}

/// Builds the hops of every read sighting already stored (a database from before this table),
/// one plate at a time in index order. Runs once, inside the migration.
pub(crate) fn backfill(conn: &Connection) -> rusqlite::Result<()> {
    let mut st = conn.prepare(concat!(
        "SELECT s.plate_text, ",
        near_columns!(),
        " FROM sightings s INDEXED BY sightings_by_plate
         WHERE s.plate_norm IS NOT NULL AND s.plate_state = ?1
         ORDER BY s.plate_text, s.pass_time, s.origin, s.seq"
    ))?;
    let mut rows = st.query([PlateState::Read.code()])?;
    let mut last: Option<(String, Near)> = None;
    while let Some(r) = rows.next()? {
        let plate: String = r.get(0)?;
        let me = Near::from_row(r, 1)?;
        if let Some((p, prev)) = &last {
            if *p == plate {
                put(conn, &plate, prev, &me)?;
            }
        }
        last = Some((plate, me));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::investigate::testutil::{at, plated, town};
    use crate::{ClonedPlates, Filter, Store};

    fn hops(store: &Store) -> i64 {
        store
            .conn()
            .query_row("SELECT count(*) FROM plate_hops", [], |r| r.get(0))
            .unwrap()
    }

    /// Only notable pairs are kept; a database from before the table gets them at open.
    #[test]
    fn hops_are_kept_for_notable_pairs_and_rebuilt_for_old_databases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.sqlite");
        let store = Store::open(&path).unwrap();
        store
            .put_cameras_geo(&town().cameras_geo().unwrap())
            .unwrap();
        store
            .record(
                "e",
                vec![
                    plated("晋M12345", "c-north", at(0)),
                    plated("晋M12345", "c-far", at(10)), // ~330 km/h: fast
                    plated("晋M55555", "c-north", at(0)),
                    plated("晋M55555", "c-south", at(30)), // ~44 km/h: not kept
                    plated("晋M55555", "c-south", at(40)), // same camera
                ],
            )
            .unwrap();
        assert_eq!(hops(&store), 1);
        // A pair at a camera placed later is judged when it is placed.
        store
            .record(
                "e",
                vec![
                    plated("晋M77777", "c-north", at(0)),
                    plated("晋M77777", "c-new", at(5)),
                ],
            )
            .unwrap();
        assert_eq!(hops(&store), 1, "no position yet");
        let placed = crate::CameraGeo {
            camera: "c-new".into(),
            county: "河津市".into(),
            lat: 35.6,
            lon: 111.0,
        };
        store
            .put_cameras_geo(std::slice::from_ref(&placed))
            .unwrap();
        assert_eq!(hops(&store), 2, "placed: c-north → c-new is fast");
        store.put_cameras_geo(&[placed]).unwrap();
        assert_eq!(hops(&store), 2, "unchanged: nothing to redo");
        let q = ClonedPlates {
            filter: Filter::between(at(-1), at(60)),
            max_speed_kmh: 150.0,
            tolerance_ms: 30_000,
            min_support: 1,
            limit: 10,
        };
        let before = store.cloned_plates(&q).unwrap().result;
        assert_eq!(before.len(), 2);
        {
            let conn = store.conn();
            conn.execute_batch(
                "DELETE FROM plate_hops; UPDATE meta SET value = 2 WHERE key = 'search_schema';",
            )
            .unwrap();
        }
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(hops(&store), 2, "rebuilt at open");
        assert_eq!(store.cloned_plates(&q).unwrap().result, before);
    }
}
