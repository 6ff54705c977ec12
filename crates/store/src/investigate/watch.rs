//! Standing questions (布控): a [`Filter`] without its time range, checked against every
//! sighting as it is committed.
//!
//! Two kinds:
//! - a [`Watch`] made for one subscriber's connection ([`Store::watch`]); the platform matches
//!   it against the sightings it broadcasts and forgets it when the caller hangs up;
//! - a **watchlist**, kept in the database (`watchlists`) until removed. Its watch is *armed*
//!   in the store, and [`Store::append`] / [`Store::record`] check every new sighting against
//!   the armed watches **in the transaction that commits it**, writing one row per match to
//!   `watch_alerts`. So an alert exists exactly when a matching sighting was stored while its
//!   watchlist was armed: nothing is missed while no one listens, or across a restart, and a
//!   subscriber who comes back reads from the last alert id it saw ([`Store::alerts`]).
//!
//! The store keeps a watchlist's question as the caller wrote it (`spec`, opaque JSON with
//! region *names*); the platform resolves it against its configured regions and arms it
//! ([`Store::arm_watchlist`]) at start and when it is added. A watchlist whose question no
//! longer resolves (a region removed from the config) stays stored, unarmed, and says so.
//!
//! Scope (cameras, counties, regions) is resolved to camera ids once, when a watch is made; a
//! check is then a few comparisons and, for a plate pattern, one glob — cheap enough for every
//! arriving sighting, and the armed list is read under a shared lock.

use base::{PlateState, Sighting, SightingKey};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::filter::{resolve_scope, Filter, Scope};
use super::load_sightings;
use crate::{Error, Store};

pub(crate) const WATCH_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS watchlists (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    spec       TEXT    NOT NULL,
    removed_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS watchlists_active_name
    ON watchlists (name) WHERE removed_ms IS NULL;
CREATE TABLE IF NOT EXISTS watch_alerts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    watchlist  INTEGER NOT NULL,
    origin     TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    alerted_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS watch_alerts_by_list ON watch_alerts (watchlist, id);
"#;

/// Creates the watchlist tables (idempotent; run at every open).
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(WATCH_SCHEMA)
}

/// Longest watchlist name.
pub const MAX_WATCHLIST_NAME: usize = 100;
/// Most watchlists one store keeps armed.
pub const MAX_WATCHLISTS: usize = 1_000;
/// Most alerts one [`Store::alerts`] call returns.
pub const MAX_ALERTS_PAGE: usize = 1_000;

/// One standing question.
#[derive(Debug, Clone)]
pub struct Watch {
    pub name: String,
    filter: Filter,
    scope: Scope,
}

impl Watch {
    /// Whether `s` is what the watch is about (its time is not considered).
    pub fn matches(&self, s: &Sighting) -> bool {
        let f = &self.filter;
        self.scope
            .as_ref()
            .is_none_or(|cams| cams.contains(&s.camera))
            && (f.classes.is_empty() || f.classes.contains(&s.class))
            && (f.colors.is_empty() || f.colors.contains(&s.color))
            && (f.plate_states.is_empty() || f.plate_states.contains(&s.plate.state))
            && f.plate.as_ref().is_none_or(|p| {
                s.plate.state == PlateState::Read
                    && s.plate.text.as_deref().is_some_and(|t| p.matches(t))
            })
    }
}

/// A watchlist armed in the store: checked against every sighting it commits.
#[derive(Debug, Clone)]
pub(crate) struct Armed {
    id: i64,
    watch: Watch,
}

/// A stored watchlist.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Watchlist {
    pub id: i64,
    pub name: String,
    /// Who made it (the token's name).
    pub owner: String,
    pub created_ms: i64,
    /// The question as the owner wrote it (JSON, opaque to the store; not shown as such).
    #[serde(skip_serializing)]
    pub spec: String,
    /// Whether sightings are being checked against it now.
    pub armed: bool,
    /// Alerts it has raised.
    pub alerts: u64,
}

/// One alert of a watchlist: a matching sighting, committed here at `alerted_ms`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    /// Increasing; a subscriber resumes after the last id it saw.
    pub id: u64,
    pub watchlist: String,
    pub sighting: Sighting,
    pub alerted_ms: i64,
}

impl Store {
    /// Makes a watch of `filter` (its time range is ignored), resolving its scope now.
    pub fn watch(&self, name: impl Into<String>, filter: Filter) -> Result<Watch, Error> {
        let scope = {
            let conn = self.conn();
            resolve_scope(&conn, &filter).map_err(self.sql("resolve watch scope"))?
        };
        Ok(Watch {
            name: name.into(),
            filter,
            scope,
        })
    }
}

impl Store {
    /// Stores a new watchlist named `name` (unique among those not removed) with its question
    /// as written (`spec`) and arms it with `filter` (its time range is ignored). Returns its id.
    pub fn add_watchlist(
        &self,
        name: &str,
        owner: &str,
        spec: &str,
        filter: Filter,
    ) -> Result<i64, Error> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_WATCHLIST_NAME || name.contains(',') {
            return Err(Error::Query(format!(
                "a watchlist needs a name of 1 to {MAX_WATCHLIST_NAME} characters, without commas \
                 (lists of names are comma-separated)"
            )));
        }
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(self.sql("begin add watchlist"))?;
        let active: i64 = tx
            .query_row(
                "SELECT count(*) FROM watchlists WHERE removed_ms IS NULL",
                [],
                |r| r.get(0),
            )
            .map_err(self.sql("count watchlists"))?;
        if active as usize >= MAX_WATCHLISTS {
            return Err(Error::Query(format!(
                "{MAX_WATCHLISTS} watchlists are kept already; remove one first"
            )));
        }
        let taken = tx
            .query_row(
                "SELECT id FROM watchlists WHERE name = ?1 AND removed_ms IS NULL",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map_err(self.sql("find watchlist"))?;
        if taken.is_some() {
            return Err(Error::Query(format!(
                "a watchlist named {name:?} exists already"
            )));
        }
        let scope = resolve_scope(&tx, &filter).map_err(self.sql("resolve watch scope"))?;
        tx.execute(
            "INSERT INTO watchlists (name, owner, created_ms, spec) VALUES (?1, ?2, ?3, ?4)",
            params![name, owner, base::now_ms(), spec],
        )
        .map_err(self.sql("add watchlist"))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(self.sql("commit add watchlist"))?;
        let watch = Watch {
            name: name.to_owned(),
            filter,
            scope,
        };
        self.armed_mut().push(Armed { id, watch });
        Ok(id)
    }

    /// Arms stored watchlist `id` with `filter` (at start, after its spec was resolved).
    pub fn arm_watchlist(&self, id: i64, filter: Filter) -> Result<(), Error> {
        let conn = self.conn();
        let name: Option<String> = conn
            .query_row(
                "SELECT name FROM watchlists WHERE id = ?1 AND removed_ms IS NULL",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql("find watchlist"))?;
        let name = name.ok_or_else(|| Error::Query(format!("no watchlist with id {id}")))?;
        let scope = resolve_scope(&conn, &filter).map_err(self.sql("resolve watch scope"))?;
        let mut armed = self.armed_mut();
        armed.retain(|a| a.id != id);
        armed.push(Armed {
            id,
            watch: Watch {
                name,
                filter,
                scope,
            },
        });
        Ok(())
    }

    /// Removes (and disarms) the watchlist named `name`; its alerts stay readable. Returns
    /// whether there was one.
    pub fn remove_watchlist(&self, name: &str) -> Result<bool, Error> {
        let conn = self.conn();
        let id: Option<i64> = conn
            .query_row(
                "UPDATE watchlists SET removed_ms = ?2 WHERE name = ?1 AND removed_ms IS NULL
                 RETURNING id",
                params![name.trim(), base::now_ms()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql("remove watchlist"))?;
        if let Some(id) = id {
            self.armed_mut().retain(|a| a.id != id);
        }
        Ok(id.is_some())
    }

    /// Every watchlist name ever used, removed ones included (their alerts stay readable).
    pub fn watchlist_names(&self) -> Result<Vec<String>, Error> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached("SELECT DISTINCT name FROM watchlists ORDER BY name")
            .map_err(self.sql("list watchlist names"))?;
        let names = st
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(self.sql("list watchlist names"))?;
        Ok(names)
    }

    /// The watchlists not removed, oldest first.
    pub fn watchlists(&self) -> Result<Vec<Watchlist>, Error> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT w.id, w.name, w.owner, w.created_ms, w.spec,
                        (SELECT count(*) FROM watch_alerts a WHERE a.watchlist = w.id)
                 FROM watchlists w WHERE w.removed_ms IS NULL ORDER BY w.id",
            )
            .map_err(self.sql("list watchlists"))?;
        let armed: Vec<i64> = self.armed().iter().map(|a| a.id).collect();
        let rows = st
            .query_map([], |r| {
                let id: i64 = r.get(0)?;
                Ok(Watchlist {
                    id,
                    name: r.get(1)?,
                    owner: r.get(2)?,
                    created_ms: r.get(3)?,
                    spec: r.get(4)?,
                    armed: armed.contains(&id),
                    alerts: r.get::<_, i64>(5)? as u64,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql("list watchlists"))?;
        Ok(rows)
    }

    /// Alerts with an id above `after`, oldest first, at most `limit` (≤ [`MAX_ALERTS_PAGE`]),
    /// of the watchlists named in `lists` (removed ones included; empty: every watchlist).
    pub fn alerts(&self, after: u64, lists: &[String], limit: usize) -> Result<Vec<Alert>, Error> {
        let limit = limit.clamp(1, MAX_ALERTS_PAGE);
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT a.id, w.name, a.origin, a.seq, a.alerted_ms
                 FROM watch_alerts a JOIN watchlists w ON w.id = a.watchlist
                 WHERE a.id > ?1 AND (?2 = '[]' OR w.name IN (SELECT value FROM json_each(?2)))
                 ORDER BY a.id LIMIT ?3",
            )
            .map_err(self.sql("read alerts"))?;
        let lists = serde_json::to_string(lists).expect("strings serialise");
        let rows = st
            .query_map(params![after as i64, lists, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, String>(1)?,
                    SightingKey {
                        origin: r.get(2)?,
                        seq: r.get::<_, i64>(3)? as u64,
                    },
                    r.get::<_, i64>(4)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql("read alerts"))?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, watchlist, key, alerted_ms) in rows {
            // A sighting is never deleted while its alert exists (retention is not in this
            // store), so a missing one is skipped rather than failing the page.
            if let Some(sighting) = load_sightings(self, &conn, std::slice::from_ref(&key))?.pop() {
                out.push(Alert {
                    id,
                    watchlist,
                    sighting,
                    alerted_ms,
                });
            }
        }
        Ok(out)
    }

    /// Writes an alert for every armed watchlist `s` matches (inside the commit of `s`).
    pub(crate) fn raise_alerts(&self, tx: &Transaction<'_>, s: &Sighting) -> Result<(), Error> {
        let armed = self.armed();
        if armed.is_empty() {
            return Ok(());
        }
        let now = base::now_ms();
        for a in armed.iter().filter(|a| a.watch.matches(s)) {
            tx.prepare_cached(
                "INSERT INTO watch_alerts (watchlist, origin, seq, alerted_ms)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| st.execute(params![a.id, s.key.origin, s.key.seq as i64, now]))
            .map_err(self.sql("raise alert"))?;
        }
        Ok(())
    }

    fn armed(&self) -> std::sync::RwLockReadGuard<'_, Vec<Armed>> {
        // Writes are one push or one retain: a panic elsewhere cannot leave the list torn.
        self.armed.read().unwrap_or_else(|p| p.into_inner())
    }

    fn armed_mut(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Armed>> {
        self.armed.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::testutil::{at, plated, town};
    use crate::{PlatePattern, Region};
    use base::{VehicleClass, VehicleColor};

    #[test]
    fn watches_match_plate_patterns_attributes_and_regions() {
        let store = town();
        let by_plate = store
            .watch(
                "晋M*23*",
                Filter {
                    plate: Some(PlatePattern::exact("晋M*23*").unwrap()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(by_plate.matches(&plated("晋MA2345", "c-far", at(0))));
        assert!(!by_plate.matches(&plated("晋MA4545", "c-far", at(0))));
        let mut covered = plated("晋MA2345", "c-far", at(0));
        covered.plate.state = PlateState::Covered;
        assert!(!by_plate.matches(&covered), "a pattern needs a read plate");

        // A white SUV with a covered plate anywhere in the 盐湖区 polygon.
        let ring = Region::new(
            "ring",
            vec![(35.0, 110.9), (35.0, 111.1), (35.2, 111.1), (35.2, 110.9)],
        );
        let suv = store
            .watch(
                "white SUV, covered, in the ring",
                Filter {
                    regions: vec![ring],
                    classes: vec![VehicleClass::Suv],
                    colors: vec![VehicleColor::White],
                    plate_states: vec![PlateState::Covered],
                    ..Default::default()
                },
            )
            .unwrap();
        let mut s = plated("晋MA2345", "c-east", at(0));
        s.class = VehicleClass::Suv;
        s.color = VehicleColor::White;
        s.plate = base::PlateRead {
            state: PlateState::Covered,
            ..Default::default()
        };
        assert!(suv.matches(&s));
        s.camera = "c-far".into();
        assert!(!suv.matches(&s), "outside the region");
        s.camera = "c-north".into();
        s.color = VehicleColor::Black;
        assert!(!suv.matches(&s), "another colour");
    }

    #[test]
    fn watchlists_alert_in_the_commit_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.sqlite");
        let store = Store::open(&path).unwrap();
        store
            .put_cameras_geo(&[crate::CameraGeo {
                camera: "c-north".into(),
                county: "盐湖区".into(),
                lat: 35.1,
                lon: 111.0,
            }])
            .unwrap();
        let pattern = Filter {
            plate: Some(PlatePattern::exact("晋M*23*").unwrap()),
            ..Default::default()
        };
        let id = store
            .add_watchlist(
                "stolen 23",
                "alice",
                r#"{"plate":"晋M*23*"}"#,
                pattern.clone(),
            )
            .unwrap();
        let comma = store.add_watchlist("a,b", "bob", "{}", Filter::default());
        assert!(
            matches!(&comma, Err(Error::Query(m)) if m.contains("commas")),
            "{comma:?}"
        );
        let dup = store.add_watchlist(" stolen 23 ", "bob", "{}", Filter::default());
        assert!(
            matches!(&dup, Err(Error::Query(m)) if m.contains("exists already")),
            "{dup:?}"
        );
        let in_county = Filter {
            counties: vec!["盐湖区".into()],
            plate_states: vec![PlateState::Covered],
            ..Default::default()
        };
        store
            .add_watchlist("covered in 盐湖区", "alice", "{}", in_county.clone())
            .unwrap();

        let mut covered = plated("晋MZZ999", "c-north", at(2));
        covered.plate = base::PlateRead {
            state: PlateState::Covered,
            ..Default::default()
        };
        let mut covered_far = covered.clone();
        covered_far.camera = "c-far".into();
        store
            .record(
                "edge-1",
                vec![
                    plated("晋MA2345", "c-north", at(0)),
                    plated("晋MA4545", "c-north", at(1)),
                    covered,
                    covered_far,
                ],
            )
            .unwrap();
        let alerts = store.alerts(0, &[], 100).unwrap();
        let got: Vec<(&str, u64)> = alerts
            .iter()
            .map(|a| (a.watchlist.as_str(), a.sighting.key.seq))
            .collect();
        assert_eq!(got, [("stolen 23", 1), ("covered in 盐湖区", 3)]);
        assert!(alerts[0].id < alerts[1].id);
        let only = store.alerts(0, &["stolen 23".into()], 100).unwrap();
        assert_eq!(only.len(), 1);
        assert!(store.alerts(alerts[1].id, &[], 100).unwrap().is_empty());

        // Removed: no new alerts, the old ones stay readable.
        assert!(store.remove_watchlist("covered in 盐湖区").unwrap());
        assert!(!store.remove_watchlist("covered in 盐湖区").unwrap());
        drop(store);

        // After a restart the watchlist is stored but checks nothing until armed again.
        let store = Store::open(&path).unwrap();
        let lists = store.watchlists().unwrap();
        assert_eq!(lists.len(), 1);
        assert_eq!(
            (lists[0].id, lists[0].armed, lists[0].alerts),
            (id, false, 1)
        );
        store
            .record("edge-1", vec![plated("晋MB2399", "c-north", at(3))])
            .unwrap();
        assert_eq!(store.alerts(alerts[1].id, &[], 100).unwrap().len(), 0);
        store.arm_watchlist(id, pattern).unwrap();
        assert!(store.watchlists().unwrap()[0].armed);
        store
            .record("edge-1", vec![plated("晋MC2300", "c-north", at(4))])
            .unwrap();
        let fresh = store.alerts(alerts[1].id, &[], 100).unwrap();
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].sighting.plate.text.as_deref(), Some("晋MC2300"));
        assert_eq!(
            store
                .alerts(0, &["covered in 盐湖区".into()], 100)
                .unwrap()
                .len(),
            1
        );
    }
}
