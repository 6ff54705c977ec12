//! The search side of the SQLite schema: covering indexes over `sightings`, the appearance
//! embeddings, camera positions and the camera-health history, and the migration that brings a
//! database made before them up to date.
//!
//! Layout, and why:
//! - `sightings` keeps one row per sighting with the searchable attributes as columns (`camera`,
//!   `pass_time`, `class`, `color`, `plate_state`, `plate_text`, `plate_norm`) and the record as
//!   JSON in `body`, *without* its embedding. Four covering indexes, each ending in the primary
//!   key (origin, seq) as every WITHOUT ROWID index does, so counting and grouping never read
//!   the wide rows: by time, by camera then time, by attributes then time, and by normalised
//!   plate then time (see [`crate::investigate::plate`] for `plate_norm`).
//! - `sighting_embeddings` holds the 256-byte appearance vector, clustered by (class, colour,
//!   pass time): a similar-vehicle scan reads ~290 bytes per candidate and skips other classes
//!   and colours entirely. In the `sightings` row the blob would sit behind the JSON body and
//!   every scan would read the whole record.
//! - `cameras_geo` (camera → county, lat, lon) resolves regions and drives speed checks.
//! - `plate_hops` (see [`super::hops`]) keeps, per read sighting, the pair it forms with the
//!   plate's previous sighting when that pair could be cloned-plate evidence.
//! - `camera_health_log` keeps every change of a camera's state or video-quality diagnoses (not
//!   every report), so coverage can say which cameras were down *during* a past window.
//!
//! Migration is idempotent and runs at every open: missing columns are added, old indexes are
//! replaced, and a one-time backfill (guarded by `meta.search_schema`) fills `plate_norm` and
//! moves embeddings found in old JSON bodies into `sighting_embeddings` (version 2), and builds
//! `plate_hops` for the sightings already stored (version 3).

use base::Sighting;
use rusqlite::{params, Connection, OptionalExtension};

use super::plate::normalize;

/// Version of the search schema this code writes (`meta.search_schema`).
const SEARCH_SCHEMA_VERSION: i64 = 3;

const SEARCH_SCHEMA: &str = r#"
DROP INDEX IF EXISTS sightings_time;
DROP INDEX IF EXISTS sightings_camera_time;
DROP INDEX IF EXISTS sightings_class_time;
CREATE INDEX IF NOT EXISTS sightings_by_time
    ON sightings (pass_time, camera, class, color, plate_state, plate_norm, plate_text);
CREATE INDEX IF NOT EXISTS sightings_by_camera
    ON sightings (camera, pass_time, class, color, plate_state, plate_text);
CREATE INDEX IF NOT EXISTS sightings_by_attr
    ON sightings (class, color, plate_state, pass_time, camera);
CREATE INDEX IF NOT EXISTS sightings_by_plate
    ON sightings (plate_norm, pass_time, plate_text, camera);
CREATE TABLE IF NOT EXISTS sighting_embeddings (
    class       INTEGER NOT NULL,
    color       INTEGER NOT NULL,
    pass_time   INTEGER NOT NULL,
    origin      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    camera      TEXT    NOT NULL,
    plate_state INTEGER NOT NULL,
    embedding   BLOB    NOT NULL,
    PRIMARY KEY (class, color, pass_time, origin, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cameras_geo (
    camera TEXT PRIMARY KEY,
    county TEXT NOT NULL,
    lat    REAL NOT NULL,
    lon    REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cameras_geo_county ON cameras_geo (county);
CREATE TABLE IF NOT EXISTS camera_health_log (
    camera   TEXT    NOT NULL,
    at_ms    INTEGER NOT NULL,
    node     TEXT    NOT NULL,
    state    INTEGER NOT NULL,
    degraded TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    PRIMARY KEY (camera, at_ms, node)
) WITHOUT ROWID;
"#;

/// Brings the search schema up to date (see the module docs). Runs inside `Store::init`.
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    // Databases made before plate normalisation gain the column (ALTER appends it).
    if conn
        .prepare("SELECT plate_norm FROM sightings LIMIT 0")
        .is_err()
    {
        conn.execute_batch("ALTER TABLE sightings ADD COLUMN plate_norm TEXT")?;
    }
    conn.execute_batch(SEARCH_SCHEMA)?;
    conn.execute_batch(super::hops::HOPS_SCHEMA)?;
    let version: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'search_schema'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    if version >= SEARCH_SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    if version < 2 {
        backfill(&tx)?;
    }
    super::hops::backfill(&tx)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('search_schema', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SEARCH_SCHEMA_VERSION],
    )?;
    tx.commit()
}

/// Fills `plate_norm` of old rows and moves embeddings out of old JSON bodies.
fn backfill(conn: &Connection) -> rusqlite::Result<()> {
    let plates: Vec<(String, i64, String)> = conn
        .prepare(
            "SELECT origin, seq, plate_text FROM sightings
             WHERE plate_text IS NOT NULL AND plate_norm IS NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut update =
        conn.prepare("UPDATE sightings SET plate_norm = ?3 WHERE origin = ?1 AND seq = ?2")?;
    for (origin, seq, text) in plates {
        update.execute(params![origin, seq, normalize(&text)])?;
    }
    // Bodies written before the embeddings table carried the vector as 512 hex digits.
    conn.execute_batch(
        "INSERT OR IGNORE INTO sighting_embeddings
             (class, color, pass_time, origin, seq, camera, plate_state, embedding)
         SELECT class, color, pass_time, origin, seq, camera, plate_state,
                unhex(json_extract(body, '$.embedding'))
         FROM sightings
         WHERE length(json_extract(body, '$.embedding')) = 512;
         UPDATE sightings SET body = json_remove(body, '$.embedding')
         WHERE json_extract(body, '$.embedding') IS NOT NULL;",
    )
}

/// Inserts one sighting unless its key is already stored; returns the rows written (0 or 1).
/// The JSON body is stored without the embedding, which goes to `sighting_embeddings`.
pub(crate) fn insert_sighting(conn: &Connection, s: &Sighting) -> rusqlite::Result<usize> {
    let body = if s.embedding.is_some() {
        let mut bare = s.clone();
        bare.embedding = None;
        crate::sqlite::to_json(&bare)
    } else {
        crate::sqlite::to_json(s)
    };
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO sightings
             (origin, seq, camera, pass_time, class, color, plate_state, plate_text, body,
              plate_norm)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            s.key.origin,
            s.key.seq as i64,
            s.camera,
            s.pass_time_ms,
            s.class.code(),
            s.color.code(),
            s.plate.state.code(),
            s.plate.text,
            body,
            s.plate.text.as_deref().map(normalize),
        ])?;
    if n == 1 {
        super::hops::note(conn, s)?;
        if let Some(e) = &s.embedding {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO sighting_embeddings
                 (class, color, pass_time, origin, seq, camera, plate_state, embedding)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                s.class.code(),
                s.color.code(),
                s.pass_time_ms,
                s.key.origin,
                s.key.seq as i64,
                s.camera,
                s.plate.state.code(),
                &e.to_bytes()[..],
            ])?;
        }
    }
    Ok(n)
}

/// Deletes one sighting and its embedding.
pub(crate) fn delete_sighting(conn: &Connection, s: &Sighting) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM sightings WHERE origin = ?1 AND seq = ?2",
        params![s.key.origin, s.key.seq as i64],
    )?;
    super::hops::forget(conn, &s.key.origin, s.key.seq as i64)?;
    conn.execute(
        "DELETE FROM sighting_embeddings WHERE class = ?1 AND color = ?2 AND pass_time = ?3
         AND origin = ?4 AND seq = ?5",
        params![
            s.class.code(),
            s.color.code(),
            s.pass_time_ms,
            s.key.origin,
            s.key.seq as i64
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::investigate::testutil::{at, look, plated};
    use crate::{Filter, PlatePattern, Store};

    /// A database written before the search schema: old indexes, no `plate_norm`, embeddings
    /// inside the JSON bodies. Opening it migrates in place, and search finds what was there.
    #[test]
    fn old_database_is_migrated_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE sightings (
                     origin TEXT NOT NULL, seq INTEGER NOT NULL, camera TEXT NOT NULL,
                     pass_time INTEGER NOT NULL, class INTEGER NOT NULL, color INTEGER NOT NULL,
                     plate_state INTEGER NOT NULL, plate_text TEXT, body TEXT NOT NULL,
                     PRIMARY KEY (origin, seq)) WITHOUT ROWID;
                 CREATE INDEX sightings_time ON sightings (pass_time);
                 CREATE INDEX sightings_camera_time ON sightings (camera, pass_time);
                 CREATE INDEX sightings_class_time ON sightings (class, pass_time);
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 CREATE TABLE sources (source TEXT PRIMARY KEY, high_water INTEGER NOT NULL,
                     shed_total INTEGER NOT NULL DEFAULT 0,
                     rejected_total INTEGER NOT NULL DEFAULT 0);",
            )
            .unwrap();
            let mut s = plated("晋MB1234", "c-north", at(0));
            s.key.origin = "e".into();
            s.key.seq = 1;
            s.embedding = Some(look(3, 0, 0));
            conn.execute(
                "INSERT INTO sightings VALUES ('e', 1, 'c-north', ?1, 1, 2, 1, '晋MB1234', ?2)",
                rusqlite::params![s.pass_time_ms, serde_json::to_string(&s).unwrap()],
            )
            .unwrap();
        }
        for _ in 0..2 {
            // Twice: migration is idempotent.
            let store = Store::open(&path).unwrap();
            let f = Filter {
                plate: Some(PlatePattern::fuzzy("晋M81234").unwrap()),
                ..Filter::between(at(-1), at(1))
            };
            let page = store.find(&f, 10, None).unwrap().result;
            assert_eq!(page.total, 1);
            assert_eq!(page.sightings[0].embedding, Some(look(3, 0, 0)));
            let conn = store.conn();
            let (norm, body): (String, String) = conn
                .query_row("SELECT plate_norm, body FROM sightings", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            assert_eq!(norm, "M81234");
            assert!(!body.contains("embedding"), "moved out of the body");
            let old_indexes: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name IN
                     ('sightings_time', 'sightings_camera_time', 'sightings_class_time')",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(old_indexes, 0);
        }
    }

    #[test]
    fn embeddings_leave_the_body_and_come_back() {
        let store = Store::open_in_memory().unwrap();
        let mut s = plated("晋M12345", "a", at(0));
        s.embedding = Some(look(1, 0, 0));
        let stored = store.record("e", vec![s.clone()]).unwrap();
        let body: String = store
            .conn()
            .query_row("SELECT body FROM sightings", [], |r| r.get(0))
            .unwrap();
        assert!(!body.contains("embedding"));
        let page = store
            .find(&Filter::between(at(-1), at(1)), 1, None)
            .unwrap();
        assert_eq!(page.result.sightings, stored);
        // The outbox keeps the whole record for upstream.
        let pending = store.pending(0, 1).unwrap();
        assert!(matches!(&pending[0].item, crate::Item::Sighting(x) if x.embedding.is_some()));
    }
}
