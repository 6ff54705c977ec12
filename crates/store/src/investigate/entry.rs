//! First entry into a region (首次入城): read plates seen in the region's scope during a window
//! and not there during the `lookback_ms` before it.
//!
//! The window's read plates come from a covering index (each with its first sighting). Whether
//! a plate was there before is answered one of two ways, whichever reads fewer index rows: a
//! scan of the scope's cameras over the lookback (sequential ranges of `sightings_by_camera`,
//! about lookback/window times the window's sightings), or one probe per plate on
//! `sightings_by_plate` (random seeks, independent of the scope). A county for a day with a
//! week's lookback scans (~0.3 s at 10 M sightings); two hours probe (~50 ms); the whole city
//! always probes.

use std::collections::{HashMap, HashSet};

use base::{PlateState, SightingKey};
use rusqlite::params;

use super::filter::{compile, hits, Filter};
use super::{coverage, normalize, Answer, Hit, MAX_WINDOW_SIGHTINGS};
use crate::{Error, Store};

/// What one index probe costs, in sequentially scanned index rows (measured: a random seek into
/// a 10 M-entry index costs about as much as stepping over 20 neighbouring entries).
const PROBE_ROWS: i64 = 20;

/// A plate's first appearance in a region.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    pub plate: String,
    pub sighting: SightingKey,
    pub camera: String,
    pub pass_time_ms: i64,
}

impl Store {
    /// Plates seen in `region`'s scope during its window and not there during the
    /// `lookback_ms` before; each with its first sighting, earliest first.
    pub fn first_entry(
        &self,
        region: &Filter,
        lookback_ms: i64,
        limit: usize,
    ) -> Result<Answer<Vec<Entry>>, Error> {
        region.validate()?;
        if lookback_ms <= 0 {
            return Err(Error::Query("first entry needs a positive lookback".into()));
        }
        let f = Filter {
            plate_states: vec![PlateState::Read],
            ..region.clone()
        };
        let conn = self.conn();
        let c = compile(&conn, &f).map_err(self.sql("resolve scope"))?;
        let mut first: HashMap<String, Hit> = HashMap::new();
        let window_hits = hits(self, &conn, &c, MAX_WINDOW_SIGHTINGS)?;
        let hit_count = window_hits.len();
        for h in window_hits {
            let Some(p) = h.plate.clone() else { continue };
            match first.get(&p) {
                Some(old) if (old.pass_time_ms, &old.key) <= (h.pass_time_ms, &h.key) => {}
                _ => {
                    first.insert(p, h);
                }
            }
        }
        // Which plates were there before: a scan of the scope's cameras over the lookback
        // (sequential ranges of `sightings_by_camera`, ~lookback/window times the window's
        // sightings) when that is cheaper than one random probe per plate on
        // `sightings_by_plate` (counted as ~PROBE_ROWS sequential rows each).
        let window_ms = region.to_ms - region.from_ms;
        let lookback_rows = hit_count as i64 * (lookback_ms / window_ms.max(1)).max(1);
        let scan = lookback_rows <= PROBE_ROWS * first.len() as i64;
        let before: HashSet<String> = match &c.scope {
            Some(cams) if scan => {
                let mut st = conn
                    .prepare_cached(
                        "SELECT plate_text FROM sightings INDEXED BY sightings_by_camera
                         WHERE camera = ?1 AND pass_time >= ?2 AND pass_time < ?3
                           AND plate_state = ?4",
                    )
                    .map_err(self.sql("first entry"))?;
                let mut before = HashSet::new();
                for cam in cams {
                    let mut rows = st
                        .query(params![
                            cam,
                            region.from_ms - lookback_ms,
                            region.from_ms,
                            PlateState::Read.code()
                        ])
                        .map_err(self.sql("first entry"))?;
                    while let Some(r) = rows.next().map_err(self.sql("first entry"))? {
                        let v = r.get_ref(0).map_err(self.sql("first entry"))?;
                        if let Ok(p) = v.as_str() {
                            if first.contains_key(p) && !before.contains(p) {
                                before.insert(p.to_owned());
                            }
                        }
                    }
                }
                before
            }
            scope => {
                let mut st = conn
                    .prepare_cached(
                        "SELECT camera FROM sightings INDEXED BY sightings_by_plate
                         WHERE plate_norm = ?1 AND pass_time >= ?2 AND pass_time < ?3
                           AND plate_text = ?4",
                    )
                    .map_err(self.sql("first entry"))?;
                let mut before = HashSet::new();
                for plate in first.keys() {
                    let mut rows = st
                        .query(params![
                            normalize(plate),
                            region.from_ms - lookback_ms,
                            region.from_ms,
                            plate
                        ])
                        .map_err(self.sql("first entry"))?;
                    while let Some(r) = rows.next().map_err(self.sql("first entry"))? {
                        let cam: String = r.get(0).map_err(self.sql("first entry"))?;
                        if scope.as_ref().is_none_or(|s| s.contains(&cam)) {
                            before.insert(plate.clone());
                            break;
                        }
                    }
                }
                before
            }
        };
        let mut out: Vec<Entry> = first
            .into_iter()
            .filter(|(plate, _)| !before.contains(plate))
            .map(|(plate, h)| Entry {
                plate,
                sighting: h.key,
                camera: h.camera,
                pass_time_ms: h.pass_time_ms,
            })
            .collect();
        out.sort_by(|a, b| (a.pass_time_ms, &a.plate).cmp(&(b.pass_time_ms, &b.plate)));
        out.truncate(limit.max(1));
        let coverage = coverage::coverage(
            self,
            &conn,
            &c.scope,
            region.from_ms - lookback_ms,
            region.to_ms,
        )?;
        Ok(Answer {
            result: out,
            coverage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::testutil::{at, plated, town};

    #[test]
    fn first_entry_is_new_in_the_region_within_the_lookback() {
        let store = town();
        let day = 1440;
        store
            .record(
                "e",
                vec![
                    // Regular: in the city two days ago and today.
                    plated("晋M00001", "c-north", at(-2 * day)),
                    plated("晋M00001", "c-east", at(60)),
                    // New today (seen twice today: first sighting reported).
                    plated("晋M00002", "c-east", at(120)),
                    plated("晋M00002", "c-north", at(30)),
                    // Seen before, but outside the city (河津): still a first entry.
                    plated("晋M00003", "c-far", at(-day)),
                    plated("晋M00003", "c-north", at(200)),
                    // Seen in the city 10 days ago: beyond a 7-day lookback.
                    plated("晋M00004", "c-north", at(-10 * day)),
                    plated("晋M00004", "c-north", at(300)),
                    // Outside the city today: not in the answer.
                    plated("晋M00005", "c-far", at(300)),
                ],
            )
            .unwrap();
        let city = Filter {
            counties: vec!["盐湖区".into()],
            ..Filter::between(at(0), at(day))
        };
        let got = store.first_entry(&city, 7 * 86_400_000, 100).unwrap();
        let plates: Vec<_> = got.result.iter().map(|e| e.plate.as_str()).collect();
        assert_eq!(plates, ["晋M00002", "晋M00003", "晋M00004"]);
        assert_eq!(got.result[0].camera, "c-north");
        assert_eq!(got.result[0].pass_time_ms, at(30));
        assert_eq!(
            got.coverage.cameras,
            Some(vec!["c-east".into(), "c-north".into(), "c-north-2".into()])
        );
        // The whole city (one probe per plate): 河津 is inside now, 00003 is not new.
        let got = store
            .first_entry(&Filter::between(at(0), at(day)), 7 * 86_400_000, 100)
            .unwrap();
        let plates: Vec<_> = got.result.iter().map(|e| e.plate.as_str()).collect();
        assert_eq!(plates, ["晋M00002", "晋M00004", "晋M00005"]);
    }
}
