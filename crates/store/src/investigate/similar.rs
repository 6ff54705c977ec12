//! Similar vehicles: the sightings whose appearance embedding is nearest (cosine) to a probe —
//! a given sighting's, or an embedding from elsewhere — within a [`Filter`].
//!
//! Exact brute force over `sighting_embeddings`, which is clustered by (class, colour, pass
//! time): a class or colour in the filter skips every other bucket, a time range is one range
//! per bucket, and each candidate costs ~290 bytes of reading and one 256-long int8 dot product.
//! A filter with a plate pattern first finds its matches by index, then scores only those.
//! Measured: a whole city-day (~1 M sightings) in ~0.5 s on one core; see the bench.
//! An IVF (k-means centroids table) is the next step if the ranges grow (see the design record).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use base::{Embedding, PlateState, SightingKey, VehicleClass, VehicleColor};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::filter::{compile, hits, resolve_scope, Filter};
use super::{
    cosine_bytes, coverage, embedding_of, load_sightings, norm2, Answer, MAX_WINDOW_SIGHTINGS,
};
use crate::{Error, Store};

/// What to compare with.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// The vehicle of this sighting (which is left out of the answer).
    Sighting(SightingKey),
    Embedding(Box<Embedding>),
}

/// One similar sighting.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Similar {
    pub sighting: base::Sighting,
    pub cosine: f32,
}

/// A float that orders totally, for the top-k heap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f32);
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Score {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

impl Store {
    /// The `limit` sightings matching `filter` most similar to `probe`, most similar first.
    pub fn similar(
        &self,
        probe: &Probe,
        filter: &Filter,
        limit: usize,
    ) -> Result<Answer<Vec<Similar>>, Error> {
        filter.validate()?;
        let limit = limit.clamp(1, crate::query::MAX_LIMIT);
        let conn = self.conn();
        let (embedding, exclude) = match probe {
            Probe::Embedding(e) => ((**e).clone(), None),
            Probe::Sighting(key) => {
                let s = load_sightings(self, &conn, std::slice::from_ref(key))?
                    .pop()
                    .ok_or_else(|| Error::Query(format!("no sighting {key}")))?;
                let e = s
                    .embedding
                    .ok_or_else(|| Error::Query(format!("sighting {key} has no embedding")))?;
                (e, Some(key))
            }
        };
        let scope = resolve_scope(&conn, filter).map_err(self.sql("resolve scope"))?;
        let near = scan_similar(self, &conn, filter, &embedding, exclude, limit)?;
        let keys: Vec<SightingKey> = near.iter().map(|n| n.0.clone()).collect();
        let result = load_sightings(self, &conn, &keys)?
            .into_iter()
            .zip(near)
            .map(|(sighting, (_, cosine, _))| Similar { sighting, cosine })
            .collect();
        let coverage = coverage::coverage(self, &conn, &scope, filter.from_ms, filter.to_ms)?;
        Ok(Answer { result, coverage })
    }
}

/// Min-heap of the best candidates so far: (cosine, pass time, key).
type Heap = BinaryHeap<Reverse<(Score, i64, SightingKey)>>;

/// The `limit` best (key, cosine, pass time) under `f`, best first.
pub(crate) fn scan_similar(
    store: &Store,
    conn: &Connection,
    f: &Filter,
    probe: &Embedding,
    exclude: Option<&SightingKey>,
    limit: usize,
) -> Result<Vec<(SightingKey, f32, i64)>, Error> {
    let q = probe.components();
    let qn = norm2(probe);
    let mut heap: Heap = BinaryHeap::new();
    let offer = |heap: &mut Heap, key: SightingKey, t: i64, cos: f32| {
        if exclude == Some(&key) {
            return;
        }
        if heap.len() < limit {
            heap.push(Reverse((Score(cos), t, key)));
        } else if heap.peek().is_some_and(|w| w.0 .0 .0 < cos) {
            heap.pop();
            heap.push(Reverse((Score(cos), t, key)));
        }
    };
    if f.plate.is_some() {
        // Few matches by plate index; score each.
        let c = compile(conn, f).map_err(store.sql("resolve scope"))?;
        for h in hits(store, conn, &c, MAX_WINDOW_SIGHTINGS)? {
            if let Some(e) = embedding_of(conn, &h).map_err(store.sql("read embedding"))? {
                offer(
                    &mut heap,
                    h.key,
                    h.pass_time_ms,
                    cosine_bytes(q, qn, &e.to_bytes()),
                );
            }
        }
    } else {
        let scope = resolve_scope(conn, f).map_err(store.sql("resolve scope"))?;
        if scope.as_ref().is_some_and(|s| s.is_empty()) {
            return Ok(Vec::new());
        }
        let mut sql = String::from(
            "SELECT origin, seq, pass_time, embedding FROM sighting_embeddings
             WHERE pass_time >= ? AND pass_time < ?",
        );
        let mut args = vec![Value::Integer(f.from_ms), Value::Integer(f.to_ms)];
        let mut push_in = |column: &str, v: Vec<Value>| {
            sql.push_str(&format!(
                " AND {column} IN ({})",
                vec!["?"; v.len()].join(", ")
            ));
            args.extend(v);
        };
        let classes: Vec<VehicleClass> = if f.classes.is_empty() {
            VehicleClass::ALL.to_vec()
        } else {
            f.classes.clone()
        };
        let colors: Vec<VehicleColor> = if f.colors.is_empty() {
            VehicleColor::ALL.to_vec()
        } else {
            f.colors.clone()
        };
        push_in(
            "class",
            classes
                .iter()
                .map(|c| Value::Integer(c.code().into()))
                .collect(),
        );
        push_in(
            "color",
            colors
                .iter()
                .map(|c| Value::Integer(c.code().into()))
                .collect(),
        );
        if let Some(cams) = &scope {
            push_in(
                "camera",
                cams.iter().map(|c| Value::Text(c.clone())).collect(),
            );
        }
        if !f.plate_states.is_empty() {
            let states: Vec<PlateState> = f.plate_states.clone();
            push_in(
                "plate_state",
                states
                    .iter()
                    .map(|c| Value::Integer(c.code().into()))
                    .collect(),
            );
        }
        let mut st = conn.prepare_cached(&sql).map_err(store.sql("similar"))?;
        let mut rows = st
            .query(params_from_iter(args.iter()))
            .map_err(store.sql("similar"))?;
        while let Some(r) = rows.next().map_err(store.sql("similar"))? {
            let blob = r
                .get_ref(3)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(store.sql("similar"))?;
            let cos = cosine_bytes(q, qn, blob);
            // Cheap rejection before building a key.
            if heap.len() >= limit && heap.peek().is_some_and(|w| w.0 .0 .0 >= cos) {
                continue;
            }
            let key = SightingKey {
                origin: r.get(0).map_err(store.sql("similar"))?,
                seq: r.get::<_, i64>(1).map_err(store.sql("similar"))? as u64,
            };
            let t: i64 = r.get(2).map_err(store.sql("similar"))?;
            offer(&mut heap, key, t, cos);
        }
    }
    let mut out: Vec<(SightingKey, f32, i64)> = heap
        .into_iter()
        .map(|Reverse((s, t, k))| (k, s.0, t))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::testutil::{at, look, plateless, town};

    #[test]
    fn similar_ranks_the_same_vehicle_first_and_respects_the_filter() {
        let store = town();
        let mut batch = Vec::new();
        for v in 0..30u64 {
            let class = if v % 2 == 0 {
                VehicleClass::Suv
            } else {
                VehicleClass::Car
            };
            batch.push(plateless(
                "c-north",
                at(v as i64),
                class,
                VehicleColor::White,
                PlateState::Unreadable,
                look(v, 0, 10),
            ));
        }
        // Vehicle 4 again, later, elsewhere.
        batch.push(plateless(
            "c-far",
            at(100),
            VehicleClass::Suv,
            VehicleColor::White,
            PlateState::Covered,
            look(4, 1, 10),
        ));
        let stored = store.record("e", batch).unwrap();
        let probe = Probe::Sighting(stored[30].key.clone());
        let day = Filter::between(at(0), at(1440));
        let got = store.similar(&probe, &day, 3).unwrap().result;
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].sighting.key, stored[4].key);
        assert!(got[0].cosine > 0.9 && got[1].cosine < 0.5, "{got:?}");
        assert!(got.iter().all(|s| s.sighting.key != stored[30].key));
        assert!(got[0].sighting.embedding.is_some());
        // Restricted to cars, vehicle 4 (an SUV) is not there.
        let cars = Filter {
            classes: vec![VehicleClass::Car],
            ..day.clone()
        };
        let got = store.similar(&probe, &cars, 5).unwrap().result;
        assert!(got.iter().all(|s| s.sighting.class == VehicleClass::Car));
        // By raw embedding, restricted to a camera.
        let far = Filter {
            cameras: vec!["c-far".into()],
            ..day
        };
        let got = store
            .similar(&Probe::Embedding(Box::new(look(4, 9, 10))), &far, 5)
            .unwrap();
        assert_eq!(got.result.len(), 1);
        assert_eq!(got.coverage.cameras, Some(vec!["c-far".to_string()]));
    }
}
