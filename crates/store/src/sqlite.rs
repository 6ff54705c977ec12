//! The embedded SQLite backend.
//!
//! Tables: `sightings` (one row per sighting, keyed by origin + seq; the searchable attributes
//! are columns with covering indexes, the full record rides along as JSON; see
//! `investigate/schema.rs` for those indexes, the embeddings, camera positions and the health
//! history), `sources` (per upstream-facing source: the
//! highest sequence committed and how many items it says it shed), `outbox` (what this node still
//! owes its upstream, numbered by an AUTOINCREMENT sequence that is never reused) and `meta`.
//!
//! Invariants: an append commits the sightings, the forwarded outbox rows and the source's
//! high-water mark in one transaction, so the ack a receiver sends after `append` returns is
//! always true, and a replayed batch is a no-op. The outbox is bounded by `outbox_capacity`;
//! when it overflows the oldest items are shed and counted in `meta.shed_total`, never silently.
//!
//! Performance: one connection behind a mutex; WAL mode with `synchronous=NORMAL`. A batch of a
//! few hundred sightings is one transaction (well under a millisecond per row here).

use std::path::Path;
use std::sync::Mutex;

use base::Sighting;
use rusqlite::{params, Connection, OptionalExtension};

use crate::query::{Page, Query};
use crate::{Error, Item};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sightings (
    origin      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    camera      TEXT    NOT NULL,
    pass_time   INTEGER NOT NULL,
    class       INTEGER NOT NULL,
    color       INTEGER NOT NULL,
    plate_state INTEGER NOT NULL,
    plate_text  TEXT,
    body        TEXT    NOT NULL,
    plate_norm  TEXT,
    PRIMARY KEY (origin, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sources (
    source         TEXT PRIMARY KEY,
    high_water     INTEGER NOT NULL,
    shed_total     INTEGER NOT NULL DEFAULT 0,
    rejected_total INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejected (
    source TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    reason TEXT    NOT NULL,
    at_ms  INTEGER NOT NULL,
    body   TEXT    NOT NULL,
    PRIMARY KEY (source, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    node TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_kind_node ON outbox (kind, node);
CREATE TABLE IF NOT EXISTS camera_health (
    node        TEXT    NOT NULL,
    camera      TEXT    NOT NULL,
    county      TEXT    NOT NULL,
    reported_ms INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    PRIMARY KEY (node, camera)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS crops (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    jpeg  BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS origins (
    origin TEXT PRIMARY KEY,
    via    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"#;

/// Default bound on the outbox (items), about a day of sightings for a busy edge node.
pub const DEFAULT_OUTBOX_CAPACITY: u64 = 1_000_000;

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppendOutcome {
    /// Indexes (into the appended batch) of the sightings that were new here.
    pub fresh: Vec<usize>,
    /// New sightings stored.
    pub inserted: u64,
    /// Items at or below the source's high-water mark, or already stored: skipped.
    pub duplicates: u64,
    /// Health reports applied.
    pub health_reports: u64,
    /// Items put in quarantine by this call.
    pub rejected: u64,
    /// The source's high-water mark after the append: ack through this.
    pub high_water: u64,
    /// Outbox items shed to stay within capacity by this call.
    pub shed: u64,
}

/// A batch received from one source.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub source: &'a str,
    /// (source sequence, item), increasing.
    pub items: &'a [(u64, Item)],
    /// Items the receiver refused (sequence, reason, item): quarantined and counted.
    pub rejected: &'a [(u64, String, Item)],
    /// Last sequence number of the batch.
    pub through: u64,
    /// Items the source says it shed, ever.
    pub shed_total: u64,
    /// Crops the source says it evicted for its storage budget, ever.
    pub crops_shed_total: u64,
}

impl<'a> Batch<'a> {
    /// A batch with nothing rejected and nothing shed.
    pub fn new(source: &'a str, items: &'a [(u64, Item)], through: u64) -> Self {
        Batch {
            source,
            items,
            rejected: &[],
            through,
            shed_total: 0,
            crops_shed_total: 0,
        }
    }
}

/// One item this node still owes its upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub seq: u64,
    pub item: Item,
}

/// Per-source state, as seen by the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStat {
    pub source: String,
    pub high_water: u64,
    pub shed_total: u64,
    /// Items refused by admission checks (kept in quarantine).
    pub rejected_total: u64,
    /// Crops the source evicted for its storage budget.
    pub crops_shed_total: u64,
}

/// Totals for operators.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    pub sightings: u64,
    pub sources: Vec<SourceStat>,
    pub outbox_pending: u64,
    pub outbox_shed_total: u64,
}

/// A SQLite-backed store. Cheap to share behind an `Arc`; every call is one short transaction.
pub struct Store {
    conn: Mutex<Connection>,
    pub(crate) path: String,
    pub(crate) outbox_capacity: u64,
    pub(crate) crop_capacity: u64,
    /// How long a node may stay silent before its cameras' health is unknown (0: never).
    pub(crate) health_stale_after_ms: std::sync::atomic::AtomicI64,
    /// Watchlists checked against every sighting this store commits.
    pub(crate) armed: std::sync::RwLock<Vec<crate::investigate::watch::Armed>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Store, Error> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Open {
                path: shown.clone(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        let conn = Connection::open(path).map_err(|source| Error::Open {
            path: shown.clone(),
            source,
        })?;
        Self::init(conn, shown)
    }

    /// A private in-memory database (tests, `analyze` dry runs).
    pub fn open_in_memory() -> Result<Store, Error> {
        let conn = Connection::open_in_memory().map_err(|source| Error::Open {
            path: ":memory:".into(),
            source,
        })?;
        Self::init(conn, ":memory:".into())
    }

    fn init(conn: Connection, path: String) -> Result<Store, Error> {
        let sql = |op, source| Error::Sql {
            path: path.clone(),
            op,
            source,
        };
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| sql("set WAL mode", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| sql("set synchronous", e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| sql("set busy timeout", e))?;
        // The commit path alone uses a dozen cached statements (sighting, embedding, plate
        // hops, alerts, outbox); rusqlite's default cache of 16 would evict and re-prepare them
        // under a mix of searches.
        conn.set_prepared_statement_cache_capacity(128);
        conn.execute_batch(SCHEMA)
            .map_err(|e| sql("create schema", e))?;
        // Databases made before crops were counted per source gain the column.
        let has_crops_shed = conn
            .prepare("SELECT crops_shed_total FROM sources LIMIT 0")
            .is_ok();
        if !has_crops_shed {
            conn.execute_batch(
                "ALTER TABLE sources ADD COLUMN crops_shed_total INTEGER NOT NULL DEFAULT 0",
            )
            .map_err(|e| sql("add sources.crops_shed_total", e))?;
        }
        crate::investigate::schema::migrate(&conn).map_err(|e| sql("migrate search schema", e))?;
        crate::audit::migrate(&conn).map_err(|e| sql("create audit log", e))?;
        crate::investigate::watch::migrate(&conn).map_err(|e| sql("create watchlists", e))?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            outbox_capacity: DEFAULT_OUTBOX_CAPACITY,
            crop_capacity: crate::crops::DEFAULT_CROP_CAPACITY_BYTES,
            health_stale_after_ms: Default::default(),
            armed: Default::default(),
        })
    }

    /// Bounds the outbox; beyond it the oldest items are shed (and counted).
    pub fn with_outbox_capacity(mut self, capacity: u64) -> Self {
        self.outbox_capacity = capacity.max(1);
        self
    }

    /// Sets SQLite's page cache for this connection (a county or city platform with a large
    /// file wants hundreds of MiB; the default is 2 MiB).
    pub fn set_cache_mib(&self, mib: u32) -> Result<(), Error> {
        self.conn()
            .pragma_update(None, "cache_size", -(i64::from(mib) * 1024))
            .map_err(self.sql("set cache size"))
    }

    /// Lets SQLite read the file through a memory map of up to `mib` MiB (0 turns it off):
    /// large scans then read pages without copying them through the page cache.
    pub fn set_mmap_mib(&self, mib: u32) -> Result<(), Error> {
        self.conn()
            .pragma_update(None, "mmap_size", i64::from(mib) << 20)
            .map_err(self.sql("set mmap size"))
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn sql(&self, op: &'static str) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Sql {
            path: self.path.clone(),
            op,
            source,
        }
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (the transaction
        // rolls back on drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records sightings made on this node: numbers them (`key = origin#seq`, seq from the
    /// outbox), stores them and queues them for upstream, in one transaction. Returns them
    /// with their keys filled in.
    pub fn record(&self, origin: &str, sightings: Vec<Sighting>) -> Result<Vec<Sighting>, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql("begin record"))?;
        let mut out = Vec::with_capacity(sightings.len());
        for mut s in sightings {
            tx.execute(
                "INSERT INTO outbox (kind, body) VALUES ('sighting', '')",
                [],
            )
            .map_err(self.sql("reserve outbox seq"))?;
            let seq = tx.last_insert_rowid() as u64;
            s.key = base::SightingKey {
                origin: origin.to_owned(),
                seq,
            };
            let item = Item::Sighting(s);
            tx.execute(
                "UPDATE outbox SET body = ?1 WHERE seq = ?2",
                params![to_json(&item), seq as i64],
            )
            .map_err(self.sql("fill outbox"))?;
            let Item::Sighting(s) = item else {
                unreachable!("built as a sighting above")
            };
            insert_sighting(&tx, &s).map_err(self.sql("insert sighting"))?;
            self.raise_alerts(&tx, &s)?;
            out.push(s);
        }
        self.shed_overflow(&tx)?;
        tx.commit().map_err(self.sql("commit record"))?;
        Ok(out)
    }

    /// Stores a batch received from a source, skipping items at or below its high-water mark
    /// and sightings already stored by key; health reports replace the cameras' previous
    /// state; items refused by the receiver's admission checks go to quarantine (table
    /// `rejected`, counted per source), never onward. When `forward` is set, what is new is
    /// queued in this node's outbox for its own upstream. One transaction; afterwards the
    /// source's high-water mark is at least `batch.through`.
    pub fn append(&self, batch: &Batch<'_>, forward: bool) -> Result<AppendOutcome, Error> {
        let (source, items, through, shed_total) =
            (batch.source, batch.items, batch.through, batch.shed_total);
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql("begin append"))?;
        let mut hw: u64 = tx
            .query_row(
                "SELECT high_water FROM sources WHERE source = ?1",
                [source],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map_err(self.sql("read high-water mark"))?
            .unwrap_or(0) as u64;
        let mut rejected = 0i64;
        for (seq, reason, item) in batch.rejected {
            if *seq <= hw {
                continue;
            }
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO rejected (source, seq, reason, at_ms, body)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![source, *seq as i64, reason, base::now_ms(), to_json(item)],
                )
                .map_err(self.sql("quarantine"))?;
            rejected += n as i64;
        }
        let mut outcome = AppendOutcome::default();
        let mut origins: Vec<&str> = Vec::new();
        for (i, (seq, item)) in items.iter().enumerate() {
            if *seq <= hw {
                outcome.duplicates += 1;
                continue;
            }
            hw = *seq;
            match item {
                Item::Sighting(s) => {
                    let n = insert_sighting(&tx, s).map_err(self.sql("insert sighting"))?;
                    if n == 0 {
                        outcome.duplicates += 1;
                        continue;
                    }
                    self.raise_alerts(&tx, s)?;
                    outcome.inserted += 1;
                    outcome.fresh.push(i);
                    if !origins.contains(&s.key.origin.as_str()) {
                        origins.push(&s.key.origin);
                    }
                    if forward {
                        tx.execute(
                            "INSERT INTO outbox (kind, body) VALUES ('sighting', ?1)",
                            [to_json(item)],
                        )
                        .map_err(self.sql("queue for upstream"))?;
                    }
                }
                Item::Health(report) => {
                    self.put_health(&tx, report)?;
                    outcome.health_reports += 1;
                    if forward {
                        self.queue_health(&tx, report)?;
                    }
                }
            }
        }
        hw = hw.max(through);
        tx.execute(
            "INSERT INTO sources (source, high_water, shed_total, rejected_total, crops_shed_total)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(source) DO UPDATE SET high_water = excluded.high_water,
                 shed_total = max(shed_total, excluded.shed_total),
                 rejected_total = rejected_total + excluded.rejected_total,
                 crops_shed_total = max(crops_shed_total, excluded.crops_shed_total)",
            params![
                source,
                hw as i64,
                shed_total as i64,
                rejected,
                batch.crops_shed_total as i64
            ],
        )
        .map_err(self.sql("update high-water mark"))?;
        // Where each origin's sightings came from: the route toward its crops.
        for origin in origins {
            tx.execute(
                "INSERT INTO origins (origin, via) VALUES (?1, ?2)
                 ON CONFLICT(origin) DO UPDATE SET via = excluded.via",
                params![origin, source],
            )
            .map_err(self.sql("record origin route"))?;
        }
        if forward {
            outcome.shed = self.shed_overflow(&tx)?;
        }
        tx.commit().map_err(self.sql("commit append"))?;
        outcome.high_water = hw;
        outcome.rejected = rejected as u64;
        Ok(outcome)
    }

    /// Quarantined items of `source` (all sources when empty), newest first: `(source, seq,
    /// reason, at_ms)`, at most `limit`.
    pub fn rejected(
        &self,
        source: &str,
        limit: usize,
    ) -> Result<Vec<(String, u64, String, i64)>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT source, seq, reason, at_ms FROM rejected
                 WHERE ?1 = '' OR source = ?1 ORDER BY at_ms DESC, seq DESC LIMIT ?2",
            )
            .map_err(self.sql("read quarantine"))?;
        let rows = stmt
            .query_map(params![source, limit as i64], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?, r.get(3)?))
            })
            .map_err(self.sql("read quarantine"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql("read quarantine"))?;
        Ok(rows)
    }

    /// The highest sequence committed for `source` (0 if never seen).
    pub fn high_water(&self, source: &str) -> Result<u64, Error> {
        let conn = self.conn();
        let hw: Option<i64> = conn
            .query_row(
                "SELECT high_water FROM sources WHERE source = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql("read high-water mark"))?;
        Ok(hw.unwrap_or(0) as u64)
    }

    /// One page of sightings matching `q`, newest first (the v1 query: time, cameras,
    /// classes; see [`Store::find`] for the full [`crate::Filter`]).
    pub fn search(&self, q: &Query) -> Result<Page, Error> {
        let limit = q.validate()?;
        let f = crate::Filter {
            from_ms: q.from_ms,
            to_ms: q.to_ms,
            cameras: q.cameras.clone(),
            classes: q.classes.clone(),
            ..Default::default()
        };
        let conn = self.conn();
        let c = crate::investigate::filter::compile(&conn, &f).map_err(self.sql("search"))?;
        self.page(&conn, &c, limit, q.cursor.as_ref())
    }

    /// Totals for operators and the demo summary.
    pub fn stats(&self) -> Result<Stats, Error> {
        let conn = self.conn();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        let sightings = count("SELECT count(*) FROM sightings").map_err(self.sql("stats"))? as u64;
        let outbox_pending =
            count("SELECT count(*) FROM outbox").map_err(self.sql("stats"))? as u64;
        let outbox_shed_total = meta(&conn, "shed_total").map_err(self.sql("stats"))?;
        let mut stmt = conn
            .prepare(
                "SELECT source, high_water, shed_total, rejected_total, crops_shed_total FROM sources ORDER BY source",
            )
            .map_err(self.sql("stats"))?;
        let sources = stmt
            .query_map([], |r| {
                Ok(SourceStat {
                    source: r.get(0)?,
                    high_water: r.get::<_, i64>(1)? as u64,
                    shed_total: r.get::<_, i64>(2)? as u64,
                    rejected_total: r.get::<_, i64>(3)? as u64,
                    crops_shed_total: r.get::<_, i64>(4)? as u64,
                })
            })
            .map_err(self.sql("stats"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql("stats"))?;
        Ok(Stats {
            sightings,
            sources,
            outbox_pending,
            outbox_shed_total,
        })
    }

    /// Decodes a JSON body stored by this crate; a failure means the file was tampered with.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        body: &str,
        op: &'static str,
    ) -> Result<T, Error> {
        serde_json::from_str(body).map_err(|source| Error::Corrupt {
            path: self.path.clone(),
            op,
            source,
        })
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising plain data with derived impls cannot fail.
    serde_json::to_string(value).expect("plain data serialises")
}

pub(crate) fn meta(conn: &Connection, key: &str) -> rusqlite::Result<u64> {
    let v: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    Ok(v.unwrap_or(0) as u64)
}

pub(crate) use crate::investigate::schema::insert_sighting;

#[cfg(test)]
mod tests {
    use super::*;
    use base::VehicleClass;

    fn sighting(camera: &str, t: i64, class: VehicleClass) -> Sighting {
        Sighting {
            camera: camera.into(),
            device_id: camera.into(),
            pass_time_ms: t,
            first_seen_ms: t - 500,
            last_seen_ms: t + 500,
            class,
            class_confidence: 0.9,
            ..Default::default()
        }
    }

    #[test]
    fn record_numbers_stores_and_queues() {
        let store = Store::open_in_memory().unwrap();
        let out = store
            .record(
                "edge-1",
                vec![
                    sighting("a", 1000, VehicleClass::Car),
                    sighting("b", 2000, VehicleClass::Truck),
                ],
            )
            .unwrap();
        assert_eq!(out[0].key.seq, 1);
        assert_eq!(out[1].key.seq, 2);
        let pending = store.pending(0, 10).unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[1].item, Item::Sighting(out[1].clone()));
        assert_eq!(store.ack(1).unwrap(), 1);
        assert_eq!(store.pending(0, 10).unwrap().len(), 1);
        // Sequence numbers are never reused, even after the outbox empties.
        store.ack(2).unwrap();
        let more = store
            .record("edge-1", vec![sighting("a", 3000, VehicleClass::Car)])
            .unwrap();
        assert_eq!(more[0].key.seq, 3);
    }

    #[test]
    fn append_is_idempotent_and_forwards_once() {
        let edge = Store::open_in_memory().unwrap();
        let made = edge
            .record(
                "edge-1",
                (0..5)
                    .map(|i| sighting("a", 1000 + i, VehicleClass::Car))
                    .collect(),
            )
            .unwrap();
        let batch: Vec<_> = made
            .iter()
            .map(|s| (s.key.seq, Item::Sighting(s.clone())))
            .collect();
        let county = Store::open_in_memory().unwrap();
        let first = county
            .append(&Batch::new("edge-1", &batch[..3], 3), true)
            .unwrap();
        assert_eq!((first.inserted, first.high_water), (3, 3));
        // A replay after a lost ack overlaps what was committed.
        let replay = county
            .append(&Batch::new("edge-1", &batch, 5), true)
            .unwrap();
        assert_eq!(
            (replay.inserted, replay.duplicates, replay.high_water),
            (2, 3, 5)
        );
        assert_eq!(replay.fresh, [3, 4]);
        assert_eq!(county.stats().unwrap().sightings, 5);
        assert_eq!(county.pending(0, 100).unwrap().len(), 5);
        assert_eq!(county.high_water("edge-1").unwrap(), 5);
    }

    #[test]
    fn rebase_renumbers_after_a_reset_database() {
        let store = Store::open_in_memory().unwrap();
        store
            .record("e", vec![sighting("a", 1, VehicleClass::Car)])
            .unwrap();
        assert_eq!(store.rebase_outbox("e", 0).unwrap(), 0);
        // The upstream remembers 40 items from an earlier life of this node.
        assert_eq!(store.rebase_outbox("e", 40).unwrap(), 1);
        let p = store.pending(40, 10).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].seq, 41);
        assert!(matches!(&p[0].item, Item::Sighting(s) if s.key.seq == 41));
        let next = store
            .record("e", vec![sighting("a", 2, VehicleClass::Car)])
            .unwrap();
        assert_eq!(next[0].key.seq, 42);
        assert_eq!(store.stats().unwrap().sightings, 2);
    }

    /// Killed after the upstream committed a batch but before the local ack: the items are
    /// still pending at or below the upstream's mark. They were delivered; renumbering them
    /// would send them twice (found by the federation chaos test).
    #[test]
    fn delivered_but_unacked_items_are_not_renumbered() {
        let store = Store::open_in_memory().unwrap();
        store
            .record(
                "e",
                (0..5)
                    .map(|i| sighting("a", i, VehicleClass::Car))
                    .collect(),
            )
            .unwrap();
        assert_eq!(store.rebase_outbox("e", 3).unwrap(), 0);
        assert_eq!(store.rebase_outbox("e", 5).unwrap(), 0);
        store.ack(3).unwrap();
        let p = store.pending(3, 10).unwrap();
        assert_eq!(p.iter().map(|p| p.seq).collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn outbox_overflow_is_shed_and_counted() {
        let store = Store::open_in_memory().unwrap().with_outbox_capacity(3);
        store
            .record(
                "e",
                (0..5)
                    .map(|i| sighting("a", i, VehicleClass::Car))
                    .collect(),
            )
            .unwrap();
        let pending = store.pending(0, 10).unwrap();
        assert_eq!(pending.iter().map(|p| p.seq).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(store.shed_total().unwrap(), 2);
        // Local records are kept even when the outbox sheds.
        assert_eq!(store.stats().unwrap().sightings, 5);
    }

    #[test]
    fn search_filters_and_pages() {
        let store = Store::open_in_memory().unwrap();
        let mut all = Vec::new();
        for i in 0..25 {
            let class = if i % 5 == 0 {
                VehicleClass::Truck
            } else {
                VehicleClass::Car
            };
            all.push(sighting(
                if i % 2 == 0 { "a" } else { "b" },
                1000 + i,
                class,
            ));
        }
        store.record("e", all).unwrap();
        let q = Query {
            from_ms: 1000,
            to_ms: 1020,
            cameras: vec!["a".into()],
            limit: 4,
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut q2 = q.clone();
        loop {
            let page = store.search(&q2).unwrap();
            assert_eq!(page.total, 10);
            seen.extend(page.sightings.iter().map(|s| s.pass_time_ms));
            match page.next {
                Some(c) => q2.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(
            seen,
            (1000..1020)
                .rev()
                .filter(|t| t % 2 == 0)
                .collect::<Vec<_>>()
        );
        let trucks = store
            .search(&Query {
                from_ms: 0,
                to_ms: i64::MAX,
                classes: vec![VehicleClass::Truck],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(trucks.total, 5);
        assert!(trucks
            .sightings
            .iter()
            .all(|s| s.class == VehicleClass::Truck));
    }

    #[test]
    fn file_database_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.sqlite");
        {
            let s = Store::open(&path).unwrap();
            s.record("e", vec![sighting("a", 5, VehicleClass::Bus)])
                .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.stats().unwrap().sightings, 1);
        assert_eq!(s.pending(0, 10).unwrap().len(), 1);
    }
}
