//! Trajectory: where one vehicle was, in time order, with each camera's county and position.
//!
//! The vehicle is named by its plate, or by one of its sightings. A sighting with a read plate
//! stands for that plate. A sighting without one (covered, unreadable, no plate) stands for its
//! appearance: every sighting of the same class and colour whose embedding is within
//! `min_cosine` of it — a scan of `sighting_embeddings` clustered by (class, colour, time), the
//! same as similar-vehicle search. A plate trajectory is an index range on
//! `sightings_by_plate`: well under a millisecond for the few hundred sightings a car makes in
//! a month.

use std::collections::HashMap;

use base::{PlateState, Sighting, SightingKey};
use rusqlite::params;

use super::filter::Filter;
use super::similar::scan_similar;
use super::{coverage, geo, load_sightings, normalize, Answer, MAX_STOPS};
use crate::{Error, Store};

/// Which vehicle an operation follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A plate number, exactly as read (`晋M12345`).
    Plate(String),
    /// The vehicle behind one sighting.
    Sighting(SightingKey),
}

/// One place and time on a trajectory.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stop {
    pub sighting: Sighting,
    /// From `cameras_geo`; `None` for a camera without a known position.
    pub county: Option<String>,
    pub position: Option<(f64, f64)>,
    /// Cosine to the subject when linked by appearance; `None` when linked by plate.
    pub similarity: Option<f32>,
}

impl Store {
    /// The subject's sightings in `[from_ms, to_ms)`, oldest first (at most [`MAX_STOPS`]).
    pub fn trajectory(
        &self,
        subject: &Subject,
        from_ms: i64,
        to_ms: i64,
        min_cosine: f32,
    ) -> Result<Answer<Vec<Stop>>, Error> {
        let window = Filter::between(from_ms, to_ms);
        window.validate()?;
        let conn = self.conn();
        let linked = self.follow(&conn, subject, &window, min_cosine)?;
        let keys: Vec<SightingKey> = linked.iter().map(|(k, _)| k.clone()).collect();
        let sightings = load_sightings(self, &conn, &keys)?;
        let geo: HashMap<String, geo::CameraGeo> = geo::read_geo(&conn)
            .map_err(self.sql("read cameras_geo"))?
            .into_iter()
            .map(|g| (g.camera.clone(), g))
            .collect();
        let mut stops: Vec<Stop> = sightings
            .into_iter()
            .zip(linked)
            .map(|(s, (_, similarity))| {
                let g = geo.get(&s.camera);
                Stop {
                    county: g.map(|g| g.county.clone()),
                    position: g.map(|g| (g.lat, g.lon)),
                    similarity,
                    sighting: s,
                }
            })
            .collect();
        stops.sort_by(|a, b| {
            (a.sighting.pass_time_ms, &a.sighting.key)
                .cmp(&(b.sighting.pass_time_ms, &b.sighting.key))
        });
        let coverage = coverage::coverage(self, &conn, &None, from_ms, to_ms)?;
        Ok(Answer {
            result: stops,
            coverage,
        })
    }

    /// Keys of the subject's sightings within `window`, with the cosine when linked by
    /// appearance, oldest first.
    pub(crate) fn follow(
        &self,
        conn: &rusqlite::Connection,
        subject: &Subject,
        window: &Filter,
        min_cosine: f32,
    ) -> Result<Vec<(SightingKey, Option<f32>)>, Error> {
        let plate = match subject {
            Subject::Plate(p) => p.clone(),
            Subject::Sighting(key) => {
                let Some(s) = load_sightings(self, conn, std::slice::from_ref(key))?.pop() else {
                    return Err(Error::Query(format!("no sighting {key}")));
                };
                match (&s.plate.text, s.plate.state) {
                    (Some(text), PlateState::Read) => text.clone(),
                    _ => {
                        let Some(e) = &s.embedding else {
                            return Err(Error::Query(format!(
                                "sighting {key} has neither a read plate nor an embedding"
                            )));
                        };
                        let f = Filter {
                            classes: vec![s.class],
                            colors: vec![s.color],
                            ..window.clone()
                        };
                        let mut near = scan_similar(self, conn, &f, e, None, MAX_STOPS)?;
                        near.retain(|n| n.1 >= min_cosine);
                        near.sort_by_key(|n| n.2);
                        return Ok(near.into_iter().map(|(k, c, _)| (k, Some(c))).collect());
                    }
                }
            }
        };
        let mut st = conn
            .prepare_cached(
                "SELECT origin, seq FROM sightings INDEXED BY sightings_by_plate
                 WHERE plate_norm = ?1 AND pass_time >= ?2 AND pass_time < ?3
                   AND plate_text = ?4
                 ORDER BY pass_time LIMIT ?5",
            )
            .map_err(self.sql("trajectory"))?;
        let rows = st
            .query_map(
                params![
                    normalize(&plate),
                    window.from_ms,
                    window.to_ms,
                    plate,
                    MAX_STOPS as i64
                ],
                |r| {
                    Ok(SightingKey {
                        origin: r.get(0)?,
                        seq: r.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .map_err(self.sql("trajectory"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql("trajectory"))?;
        Ok(rows.into_iter().map(|k| (k, None)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::testutil::{at, look, plated, plateless, town};
    use base::{VehicleClass, VehicleColor};

    #[test]
    fn trajectory_of_a_plate_and_of_a_plateless_vehicle() {
        let store = town();
        let mut batch = vec![
            plated("晋M12345", "c-south", at(30)),
            plated("晋M12345", "c-north", at(0)),
            plated("晋M12345", "c-far", at(90)),
            plated("晋M99999", "c-north", at(1)),
        ];
        // The white SUV, plate covered, at three cameras; a white SUV that looks different.
        for (i, cam) in ["c-north", "c-east", "c-far"].iter().enumerate() {
            batch.push(plateless(
                cam,
                at(10 * i as i64),
                VehicleClass::Suv,
                VehicleColor::White,
                PlateState::Covered,
                look(7, i as u64, 20),
            ));
        }
        batch.push(plateless(
            "c-north",
            at(5),
            VehicleClass::Suv,
            VehicleColor::White,
            PlateState::Covered,
            look(8, 0, 20),
        ));
        let stored = store.record("e", batch).unwrap();
        let t = store
            .trajectory(&Subject::Plate("晋M12345".into()), at(0), at(120), 0.8)
            .unwrap();
        let cams: Vec<_> = t
            .result
            .iter()
            .map(|s| s.sighting.camera.as_str())
            .collect();
        assert_eq!(cams, ["c-north", "c-south", "c-far"]);
        let counties: Vec<_> = t
            .result
            .iter()
            .map(|s| s.county.as_deref().unwrap())
            .collect();
        assert_eq!(counties, ["盐湖区", "临猗县", "河津市"]);
        // Following a sighting with a plate is following the plate.
        let by_key = store
            .trajectory(
                &Subject::Sighting(stored[0].key.clone()),
                at(0),
                at(120),
                0.8,
            )
            .unwrap();
        assert_eq!(by_key.result.len(), 3);
        // Following the covered SUV finds its three sightings, not the other SUV.
        let suv = store
            .trajectory(
                &Subject::Sighting(stored[5].key.clone()),
                at(0),
                at(120),
                0.8,
            )
            .unwrap();
        let cams: Vec<_> = suv
            .result
            .iter()
            .map(|s| s.sighting.camera.as_str())
            .collect();
        assert_eq!(cams, ["c-north", "c-east", "c-far"]);
        assert!(suv.result.iter().all(|s| s.similarity.unwrap() > 0.9));
        assert!(store
            .trajectory(&Subject::Plate("晋M12345".into()), at(10), at(5), 0.8)
            .is_err());
    }
}
