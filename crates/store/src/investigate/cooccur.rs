//! Vehicles seen together: co-occurrence over several scene/time windows (区域碰撞), and
//! companion vehicles of one vehicle (同行车). First entry is in `entry.rs`.
//!
//! Co-occurrence. Each window is a [`Filter`] (a scene's cameras or region, a time span, the
//! attributes sought). Vehicles with a read plate are grouped by plate. Vehicles without one are
//! linked across windows by appearance: two sightings are the same vehicle when they have the
//! same known class and colour and their embeddings' cosine is at least `min_cosine`. Linking is
//! greedy and exact: every plateless sighting anchors a candidate group made of the best match
//! in each other window; candidates are ranked by windows hit, then mean cosine to the anchor,
//! and accepted unless they reuse a sighting of a better one. Score: windows hit + confidence
//! (1 for a plate, the mean cosine for appearance), so more windows always rank higher. Cost:
//! pairwise within one (class, colour) bucket, capped by [`MAX_WINDOW_SIGHTINGS`] per window.
//!
//! Companions. The subject's sightings (its trajectory), then for each the read plates at the
//! same camera within `max_gap_ms` (an index range on `sightings_by_camera`), counted once per
//! subject sighting; a companion is a plate that accompanied at least `min_times` of them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use base::{Embedding, PlateState, SightingKey, VehicleClass, VehicleColor};
use rusqlite::params;

use super::filter::{compile, hits, Filter};
use super::{coverage, embedding_of, Answer, Coverage, Hit, Subject, MAX_WINDOW_SIGHTINGS};
use crate::{Error, Store};

/// A co-occurrence question.
#[derive(Debug, Clone, PartialEq)]
pub struct CoOccurrence {
    /// The scene/time windows (each with its own scope, time span and attributes).
    pub windows: Vec<Filter>,
    /// Vehicles must appear in at least this many windows.
    pub min_windows: usize,
    /// Appearance link threshold for plateless vehicles.
    pub min_cosine: f32,
    /// Most vehicles returned.
    pub limit: usize,
}

/// A vehicle found in several windows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Vehicle {
    /// The plate, when grouped by plate; `None` when linked by appearance.
    pub plate: Option<String>,
    pub class: VehicleClass,
    pub color: VehicleColor,
    /// Indexes (into the question's windows) of the windows it was seen in, increasing.
    pub windows: Vec<usize>,
    /// Its sightings in those windows (one per window when linked by appearance).
    pub sightings: Vec<SightingKey>,
    /// Mean cosine of the linked sightings to the anchor; `None` for a plate.
    pub similarity: Option<f32>,
    /// Windows hit + confidence (1 for a plate, the mean cosine otherwise).
    pub score: f32,
}

/// A companion question (同行车).
#[derive(Debug, Clone, PartialEq)]
pub struct Companions {
    pub subject: Subject,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Seen at the same camera within this many ms of the subject.
    pub max_gap_ms: i64,
    /// Together at least this many times.
    pub min_times: usize,
    pub min_cosine: f32,
    pub limit: usize,
}

/// A plate that travelled with the subject.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Companion {
    pub plate: String,
    /// Subject sightings it accompanied.
    pub times: usize,
    /// Distinct cameras of those.
    pub cameras: usize,
    /// Its sightings next to the subject.
    pub sightings: Vec<SightingKey>,
}

/// A plate next to the subject: the subject's sightings it accompanied, their cameras, its
/// own sightings.
type Together = (BTreeSet<usize>, BTreeSet<String>, Vec<SightingKey>);

struct Node {
    window: usize,
    hit: Hit,
    embedding: Embedding,
}

impl Store {
    /// Vehicles present in at least `q.min_windows` of `q.windows`, best first.
    pub fn co_occurrence(&self, q: &CoOccurrence) -> Result<Answer<Vec<Vehicle>>, Error> {
        if q.windows.is_empty() || q.min_windows == 0 || q.min_windows > q.windows.len() {
            return Err(Error::Query(format!(
                "co-occurrence needs 1 <= min_windows ({}) <= windows ({})",
                q.min_windows,
                q.windows.len()
            )));
        }
        for w in &q.windows {
            w.validate()?;
        }
        let conn = self.conn();
        let mut plates: BTreeMap<String, (BTreeSet<usize>, Vec<Hit>)> = BTreeMap::new();
        let mut buckets: HashMap<(VehicleClass, VehicleColor), Vec<Node>> = HashMap::new();
        let mut covs = Vec::new();
        for (wi, w) in q.windows.iter().enumerate() {
            let c = compile(&conn, w).map_err(self.sql("resolve scope"))?;
            covs.push(coverage::coverage(
                self, &conn, &c.scope, w.from_ms, w.to_ms,
            )?);
            for h in hits(self, &conn, &c, MAX_WINDOW_SIGHTINGS)? {
                match (&h.plate, h.state) {
                    (Some(p), PlateState::Read) => {
                        let e = plates.entry(p.clone()).or_default();
                        e.0.insert(wi);
                        e.1.push(h);
                    }
                    _ if h.class != VehicleClass::Unknown && h.color != VehicleColor::Unknown => {
                        if let Some(embedding) =
                            embedding_of(&conn, &h).map_err(self.sql("read embedding"))?
                        {
                            buckets.entry((h.class, h.color)).or_default().push(Node {
                                window: wi,
                                hit: h,
                                embedding,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut out: Vec<Vehicle> = plates
            .into_iter()
            .filter(|(_, (w, _))| w.len() >= q.min_windows)
            .map(|(plate, (windows, hits))| Vehicle {
                plate: Some(plate),
                class: hits[0].class,
                color: hits[0].color,
                score: windows.len() as f32 + 1.0,
                windows: windows.into_iter().collect(),
                sightings: hits.into_iter().map(|h| h.key).collect(),
                similarity: None,
            })
            .collect();
        for ((class, color), nodes) in buckets {
            out.extend(link(
                &nodes,
                q.windows.len(),
                q.min_windows,
                q.min_cosine,
                class,
                color,
            ));
        }
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.sightings.cmp(&b.sightings))
        });
        out.truncate(q.limit.max(1));
        Ok(Answer {
            result: out,
            coverage: Coverage::merge(covs),
        })
    }

    /// Plates seen repeatedly next to the subject (same camera, within the gap), most often
    /// first.
    pub fn companions(&self, q: &Companions) -> Result<Answer<Vec<Companion>>, Error> {
        let window = Filter::between(q.from_ms, q.to_ms);
        window.validate()?;
        let conn = self.conn();
        let route = self.follow(&conn, &q.subject, &window, q.min_cosine)?;
        let own_plate = match &q.subject {
            Subject::Plate(p) => Some(p.clone()),
            Subject::Sighting(_) => None,
        };
        let own: HashSet<SightingKey> = route.iter().map(|r| r.0.clone()).collect();
        let mut stops = Vec::new();
        for (key, _) in &route {
            let (camera, t, plate): (String, i64, Option<String>) = conn
                .prepare_cached(
                    "SELECT camera, pass_time, plate_text FROM sightings
                     WHERE origin = ?1 AND seq = ?2",
                )
                .and_then(|mut st| {
                    st.query_row(params![key.origin, key.seq as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                })
                .map_err(self.sql("companions"))?;
            stops.push((camera, t, plate));
        }
        let own_plate = own_plate.or_else(|| stops.iter().find_map(|s| s.2.clone()));
        let mut st = conn
            .prepare_cached(
                "SELECT origin, seq, plate_text FROM sightings INDEXED BY sightings_by_camera
                 WHERE camera = ?1 AND pass_time >= ?2 AND pass_time <= ?3
                   AND plate_state = ?4 AND plate_text IS NOT NULL",
            )
            .map_err(self.sql("companions"))?;
        // plate → (stops accompanied, cameras, sightings)
        let mut seen: HashMap<String, Together> = HashMap::new();
        for (i, (camera, t, _)) in stops.iter().enumerate() {
            let rows = st
                .query_map(
                    params![
                        camera,
                        t - q.max_gap_ms,
                        t + q.max_gap_ms,
                        PlateState::Read.code()
                    ],
                    |r| {
                        Ok((
                            SightingKey {
                                origin: r.get(0)?,
                                seq: r.get::<_, i64>(1)? as u64,
                            },
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
                .map_err(self.sql("companions"))?;
            for row in rows {
                let (key, plate) = row.map_err(self.sql("companions"))?;
                if own.contains(&key) || own_plate.as_deref() == Some(plate.as_str()) {
                    continue;
                }
                let e = seen.entry(plate).or_default();
                e.0.insert(i);
                e.1.insert(camera.clone());
                e.2.push(key);
            }
        }
        let mut out: Vec<Companion> = seen
            .into_iter()
            .filter(|(_, (times, _, _))| times.len() >= q.min_times.max(1))
            .map(|(plate, (times, cams, sightings))| Companion {
                plate,
                times: times.len(),
                cameras: cams.len(),
                sightings,
            })
            .collect();
        out.sort_by(|a, b| {
            (b.times, b.cameras)
                .cmp(&(a.times, a.cameras))
                .then_with(|| a.plate.cmp(&b.plate))
        });
        out.truncate(q.limit.max(1));
        let scope = Some(stops.iter().map(|s| s.0.clone()).collect());
        let coverage = coverage::coverage(self, &conn, &scope, q.from_ms, q.to_ms)?;
        Ok(Answer {
            result: out,
            coverage,
        })
    }
}

/// Greedy linking of one (class, colour) bucket (see the module docs).
fn link(
    nodes: &[Node],
    windows: usize,
    min_windows: usize,
    min_cosine: f32,
    class: VehicleClass,
    color: VehicleColor,
) -> Vec<Vehicle> {
    let comps: Vec<([i8; Embedding::DIM], i32)> = nodes
        .iter()
        .map(|n| (*n.embedding.components(), super::norm2(&n.embedding)))
        .collect();
    let bytes: Vec<[u8; Embedding::DIM]> = nodes.iter().map(|n| n.embedding.to_bytes()).collect();
    // (windows hit, mean cosine, members)
    let mut candidates: Vec<(usize, f32, Vec<usize>)> = Vec::new();
    for (a, anchor) in nodes.iter().enumerate() {
        let mut best: Vec<Option<(f32, usize)>> = vec![None; windows];
        for (b, other) in nodes.iter().enumerate() {
            if other.window == anchor.window {
                continue;
            }
            let cos = super::cosine_bytes(&comps[a].0, comps[a].1, &bytes[b]);
            if cos >= min_cosine && best[other.window].is_none_or(|(c, _)| cos > c) {
                best[other.window] = Some((cos, b));
            }
        }
        let matched: Vec<(f32, usize)> = best.into_iter().flatten().collect();
        let hit = 1 + matched.len();
        if hit < min_windows {
            continue;
        }
        let mean = if matched.is_empty() {
            1.0
        } else {
            matched.iter().map(|m| m.0).sum::<f32>() / matched.len() as f32
        };
        let mut members: Vec<usize> = matched.iter().map(|m| m.1).collect();
        members.push(a);
        candidates.push((hit, mean, members));
    }
    candidates.sort_by(|x, y| y.0.cmp(&x.0).then(y.1.total_cmp(&x.1)));
    let mut used = vec![false; nodes.len()];
    let mut out = Vec::new();
    for (hit, mean, members) in candidates {
        if members.iter().any(|m| used[*m]) {
            continue;
        }
        for m in &members {
            used[*m] = true;
        }
        let mut members = members;
        members.sort_by_key(|m| (nodes[*m].window, nodes[*m].hit.pass_time_ms));
        out.push(Vehicle {
            plate: None,
            class,
            color,
            windows: members.iter().map(|m| nodes[*m].window).collect(),
            sightings: members.iter().map(|m| nodes[*m].hit.key.clone()).collect(),
            similarity: Some(mean),
            score: hit as f32 + mean,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::testutil::{at, look, plated, plateless, town};
    use crate::investigate::DEFAULT_MIN_COSINE;

    /// The founding case: night thefts at three scenes, a white SUV with its plate covered at
    /// each; other vehicles around, including white SUVs that look different and a plated car
    /// at two of the scenes.
    #[test]
    fn plateless_white_suv_linked_across_three_scenes_ranks_first() {
        let store = town();
        let scenes = [
            ("c-north", at(0)),
            ("c-south", at(600)),
            ("c-far", at(1200)),
        ];
        let mut batch = Vec::new();
        let mut suspect_at = Vec::new();
        for (i, (cam, t)) in scenes.iter().enumerate() {
            suspect_at.push(batch.len());
            // The suspect: vehicle 77, covered at two scenes, unreadable at the third.
            let state = if i == 1 {
                PlateState::Unreadable
            } else {
                PlateState::Covered
            };
            batch.push(plateless(
                cam,
                t + 60_000,
                VehicleClass::Suv,
                VehicleColor::White,
                state,
                look(77, i as u64, 25),
            ));
            // A different white SUV at every scene (a new vehicle each time).
            batch.push(plateless(
                cam,
                t + 120_000,
                VehicleClass::Suv,
                VehicleColor::White,
                PlateState::Covered,
                look(100 + i as u64, 0, 25),
            ));
            // Vehicle 77's twin in looks but black, at the second scene: never linked to it
            // (colour differs), so it cannot take the suspect's place there.
            if i == 1 {
                batch.push(plateless(
                    cam,
                    t + 50_000,
                    VehicleClass::Suv,
                    VehicleColor::Black,
                    PlateState::Covered,
                    look(77, 50, 25),
                ));
            }
            for k in 0..5 {
                batch.push(plated(&format!("晋M{:05}", i * 10 + k), cam, t + k as i64));
            }
        }
        // A plated car at scenes 0 and 2 (two windows).
        batch.push(plated("晋MA0001", "c-north", at(5)));
        batch.push(plated("晋MA0001", "c-far", at(1205)));
        let stored = store.record("e", batch).unwrap();
        let windows: Vec<Filter> = scenes
            .iter()
            .map(|(cam, t)| Filter {
                cameras: vec![cam.to_string()],
                ..Filter::between(t - 30 * 60_000, t + 30 * 60_000)
            })
            .collect();
        let q = CoOccurrence {
            windows: windows.clone(),
            min_windows: 2,
            min_cosine: DEFAULT_MIN_COSINE,
            limit: 10,
        };
        let got = store.co_occurrence(&q).unwrap();
        let top = &got.result[0];
        assert_eq!(top.plate, None);
        assert_eq!(
            (top.class, top.color),
            (VehicleClass::Suv, VehicleColor::White)
        );
        assert_eq!(top.windows, [0, 1, 2]);
        let suspect: Vec<_> = suspect_at.iter().map(|i| stored[*i].key.clone()).collect();
        assert_eq!(top.sightings, suspect);
        assert!(top.score > 3.8, "{top:?}");
        // The plated car is found in 2 windows, after the SUV; the black twin never links.
        assert_eq!(got.result[1].plate.as_deref(), Some("晋MA0001"));
        assert_eq!(got.result[1].windows, [0, 2]);
        assert_eq!(got.result.len(), 2, "{:?}", got.result);
        assert_eq!(
            got.coverage.cameras,
            Some(vec!["c-far".into(), "c-north".into(), "c-south".into()])
        );
        // Asking for white SUVs with unread plates in all three windows: only the suspect.
        let q = CoOccurrence {
            windows: windows
                .into_iter()
                .map(|w| Filter {
                    classes: vec![VehicleClass::Suv],
                    colors: vec![VehicleColor::White],
                    plate_states: vec![
                        PlateState::Covered,
                        PlateState::Unreadable,
                        PlateState::None,
                    ],
                    ..w
                })
                .collect(),
            min_windows: 3,
            ..q
        };
        let got = store.co_occurrence(&q).unwrap().result;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].sightings, suspect);
    }

    #[test]
    fn companions_travel_together_repeatedly() {
        let store = town();
        let mut batch = Vec::new();
        let route = [
            ("c-north", at(0)),
            ("c-east", at(10)),
            ("c-south", at(40)),
            ("c-far", at(90)),
        ];
        for (i, (cam, t)) in route.iter().enumerate() {
            batch.push(plated("晋M11111", cam, *t));
            // The companion, 20 s behind at every camera.
            batch.push(plated("晋M22222", cam, t + 20_000));
            // A passer-by at one camera; another one outside the gap.
            batch.push(plated(&format!("晋M3333{i}"), cam, t - 5_000));
            batch.push(plated("晋M44444", cam, t + 10 * 60_000));
        }
        store.record("e", batch).unwrap();
        let got = store
            .companions(&Companions {
                subject: Subject::Plate("晋M11111".into()),
                from_ms: at(-60),
                to_ms: at(200),
                max_gap_ms: 60_000,
                min_times: 2,
                min_cosine: DEFAULT_MIN_COSINE,
                limit: 10,
            })
            .unwrap();
        assert_eq!(got.result.len(), 1, "{:?}", got.result);
        assert_eq!(got.result[0].plate, "晋M22222");
        assert_eq!((got.result[0].times, got.result[0].cameras), (4, 4));
    }
}
