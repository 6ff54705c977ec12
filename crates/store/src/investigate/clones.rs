//! Cloned-plate suspects (套牌): one plate read at two places faster than a car can drive
//! between them, or on two clearly different vehicles.
//!
//! Speed: a plate's sightings in time order; for each consecutive pair at two cameras with
//! known positions, the implied speed is the great-circle distance over the time between them
//! plus `tolerance_ms` (camera clocks and pass times are not exact). Above `max_speed_kmh` it
//! is evidence. Straight-line distance underestimates the road, so this errs towards missing a
//! clone, never towards accusing a plate.
//!
//! Appearance: the plate's sightings carry different vehicle classes from different families
//! (small car/SUV/pickup/van, bus, truck, two-wheeler), or colours that a classifier does not
//! confuse (white vs grey and grey vs black are neighbours, white vs red is not); each variant
//! must be seen at least `min_support` times, so one misclassified sighting is not an
//! accusation. The embedding cosine of the two closest-in-time conflicting sightings is
//! reported alongside when both have one.
//!
//! Cost, two paths with one judgement ([`Judge`]):
//! - **unscoped** (whole city, optionally a plate pattern; `max_speed_kmh` at least
//!   [`super::HOP_FLOOR_KMH`]): the window's hops (`plate_hops`, kept as sightings are
//!   committed, see [`super::hops`]) are the only candidates. Fast pairs are judged from the
//!   hop rows themselves; only a plate with a changed pair has its window's sightings read
//!   (appearance needs their support), and only answered plates are counted. A city-day is one
//!   range read of its hops, not a scan of a million sightings.
//! - **scoped** (cameras, counties, regions, classes or colours): one pass over the filter's
//!   read plates from a covering index, grouped by plate in memory (a scope is a part of the
//!   city, so this stays small).

use std::collections::{BTreeMap, HashMap};

use base::{PlateState, SightingKey, VehicleClass, VehicleColor};
use rusqlite::params;

use super::filter::{compile, Filter};
use super::{coverage, distance_km, embedding_of, geo, Answer, FxMap, Hit};
use crate::{Error, Store};

/// Most read sightings one cloned-plate check groups in memory (~5 days of a 1 M/day city).
const MAX_CLONE_ROWS: usize = 5_000_000;

/// A cloned-plate question.
#[derive(Debug, Clone, PartialEq)]
pub struct ClonedPlates {
    /// Time range, scope and (optionally) a plate pattern.
    pub filter: Filter,
    /// Faster than this between two cameras is impossible (e.g. 150 km/h).
    pub max_speed_kmh: f64,
    /// Added to every time difference (clock skew), e.g. 30 s.
    pub tolerance_ms: i64,
    /// Sightings needed of each conflicting appearance.
    pub min_support: usize,
    pub limit: usize,
}

/// Why a plate is suspect.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CloneEvidence {
    /// Two consecutive sightings too far apart for the time between them.
    Speed {
        from: SightingKey,
        to: SightingKey,
        from_camera: String,
        to_camera: String,
        km: f64,
        seconds: f64,
        /// Implied speed (tolerance included).
        kmh: f64,
    },
    /// Two different vehicles carry the plate.
    Appearance {
        a: SightingKey,
        b: SightingKey,
        /// e.g. `class car vs truck`, `colour white vs red`.
        what: String,
        /// Embedding cosine of `a` and `b`, when both have one.
        cosine: Option<f32>,
    },
}

/// A plate with evidence of cloning.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClonedPlate {
    pub plate: String,
    pub sightings: usize,
    pub evidence: Vec<CloneEvidence>,
}

pub(crate) fn class_family(c: VehicleClass) -> Option<u8> {
    use VehicleClass::*;
    match c {
        Unknown => None,
        Car | Suv | Pickup | Van => Some(0),
        Bus => Some(1),
        Truck => Some(2),
        Motorcycle | Bicycle => Some(3),
    }
}

pub(crate) fn colours_conflict(a: VehicleColor, b: VehicleColor) -> bool {
    use VehicleColor::*;
    if a == b || a == Unknown || b == Unknown {
        return false;
    }
    let near = [
        (White, Grey),
        (Grey, Black),
        (Red, Orange),
        (Orange, Yellow),
        (Red, Brown),
        (Red, Purple),
        (Blue, Purple),
        (Grey, Blue),
    ];
    !near.contains(&(a, b)) && !near.contains(&(b, a))
}

impl Store {
    /// Plates with evidence of cloning, strongest first (fastest implied speed or most
    /// evidence).
    pub fn cloned_plates(&self, q: &ClonedPlates) -> Result<Answer<Vec<ClonedPlate>>, Error> {
        q.filter.validate()?;
        if q.max_speed_kmh <= 0.0 {
            return Err(Error::Query("max_speed_kmh must be positive".into()));
        }
        let f = Filter {
            plate_states: vec![PlateState::Read],
            ..q.filter.clone()
        };
        let conn = self.conn();
        let c = compile(&conn, &f).map_err(self.sql("resolve scope"))?;
        let geo: HashMap<String, (f64, f64)> = geo::read_geo(&conn)
            .map_err(self.sql("read cameras_geo"))?
            .into_iter()
            .map(|g| (g.camera, (g.lat, g.lon)))
            .collect();
        if c.is_empty() {
            let coverage = coverage::coverage(self, &conn, &c.scope, f.from_ms, f.to_ms)?;
            return Ok(Answer {
                result: Vec::new(),
                coverage,
            });
        }
        let judge = Judge {
            store: self,
            conn: &conn,
            q,
            geo: &geo,
        };
        let mut names = Interner::default();
        let mut out = Vec::new();
        let unscoped = c.scope.is_none() && f.classes.is_empty() && f.colors.is_empty();
        let hop_path = unscoped && q.max_speed_kmh >= super::HOP_FLOOR_KMH && q.tolerance_ms >= 0;
        if hop_path {
            let hops = super::hops::between(&conn, f.from_ms, f.to_ms)
                .map_err(self.sql("read plate hops"))?;
            let mut by_plate: BTreeMap<&str, Vec<&super::hops::Hop>> = BTreeMap::new();
            for h in &hops {
                if f.plate.as_ref().is_none_or(|p| p.matches(&h.plate)) {
                    by_plate.entry(h.plate.as_str()).or_default().push(h);
                }
            }
            // Plates whose pairs only went fast are judged from their hops; a plate with a
            // changed pair needs its window's sightings (appearance needs their support).
            let mut changed: Vec<(&str, f64)> = Vec::new();
            for (plate, hs) in by_plate {
                let fast = judge.fast_hops(plate, &hs);
                if hs.iter().any(|h| h.changed) {
                    changed.push((plate, fast.map_or(0.0, |(strongest, _)| strongest)));
                } else {
                    out.extend(fast);
                }
            }
            // Appearance adds at most two items, so a changed plate ranks at best (2, its
            // strongest speed): below the limit-th plate already judged it cannot be answered,
            // and its sightings are not read (the answer is the same, without the reads).
            let floor = nth_best(&out, q.limit.max(1));
            for (plate, strongest) in changed {
                if floor.is_some_and(|(n, s)| n == 2 && strongest < s) {
                    continue;
                }
                let seen = plate_window(&conn, &mut names, plate, f.from_ms, f.to_ms)
                    .map_err(self.sql("cloned plates"))?;
                out.extend(judge.plate(plate, &seen, &names)?);
            }
        } else {
            self.scan_plates(&conn, &c, &mut names, |plate, seen, names| {
                out.extend(judge.plate(plate, seen, names)?);
                Ok(())
            })?;
        }
        out.sort_by(|a, b| {
            (b.1.evidence.len().min(2), b.0)
                .partial_cmp(&(a.1.evidence.len().min(2), a.0))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.1.plate.cmp(&b.1.plate))
        });
        let mut result: Vec<ClonedPlate> = out.into_iter().map(|(_, p)| p).collect();
        result.truncate(q.limit.max(1));
        // Plates judged from their hops alone are counted only when they are answered.
        for p in result.iter_mut().filter(|p| p.sightings == 0) {
            p.sightings = plate_window(&conn, &mut names, &p.plate, f.from_ms, f.to_ms)
                .map_err(self.sql("count plate sightings"))?
                .len();
        }
        let coverage = coverage::coverage(self, &conn, &c.scope, f.from_ms, f.to_ms)?;
        Ok(Answer { result, coverage })
    }
}

impl Store {
    /// The scoped path: one pass over the filter's read plates, then each plate's sightings in
    /// time order to `each`.
    fn scan_plates(
        &self,
        conn: &rusqlite::Connection,
        c: &super::filter::Compiled,
        names: &mut Interner,
        mut each: impl FnMut(&str, &[Seen], &Interner) -> Result<(), Error>,
    ) -> Result<(), Error> {
        // One pass over the covering index; cameras and origins interned, a plate's text
        // allocated once.
        let mut plates = Interner::default();
        let mut all: Vec<(u32, Seen)> = Vec::new();
        {
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT s.plate_text, s.camera, s.origin, s.seq, s.pass_time, s.class, s.color
                     {}",
                    c.sql_from_where()
                ))
                .map_err(self.sql("cloned plates"))?;
            let mut rows = st
                .query(rusqlite::params_from_iter(c.args.iter()))
                .map_err(self.sql("cloned plates"))?;
            while let Some(r) = rows.next().map_err(self.sql("cloned plates"))? {
                let get = |i| r.get_ref(i).map_err(self.sql("cloned plates"));
                let Ok(plate) = get(0)?.as_str() else {
                    continue;
                };
                let seen = Seen {
                    camera: names.id(get(1)?.as_str().unwrap_or("")),
                    origin: names.id(get(2)?.as_str().unwrap_or("")),
                    seq: get(3)?.as_i64().unwrap_or(0) as u64,
                    t: get(4)?.as_i64().unwrap_or(0),
                    class: VehicleClass::from_code(get(5)?.as_i64().unwrap_or(0) as i32),
                    color: VehicleColor::from_code(get(6)?.as_i64().unwrap_or(0) as i32),
                };
                all.push((plates.id(plate), seen));
                if all.len() > MAX_CLONE_ROWS {
                    return Err(Error::Query(format!(
                        "more than {MAX_CLONE_ROWS} read plates in the range; narrow its time \
                         or cameras"
                    )));
                }
            }
        }
        // Grouped by plate and ordered in time (ties by origin name, then seq, as the hops
        // are) by one sort, not a vector per plate.
        all.sort_unstable_by(|(pa, a), (pb, b)| {
            (pa, a.t)
                .cmp(&(pb, b.t))
                .then_with(|| names.name(a.origin).cmp(names.name(b.origin)))
                .then(a.seq.cmp(&b.seq))
        });
        for group in all.chunk_by(|a, b| a.0 == b.0) {
            let seen: Vec<Seen> = group.iter().map(|g| g.1).collect();
            each(plates.name(group[0].0), &seen, names)?;
        }
        Ok(())
    }
}

/// One plate's read sightings in `[from_ms, to_ms)`, in (time, origin, seq) order.
fn plate_window(
    conn: &rusqlite::Connection,
    names: &mut Interner,
    plate: &str,
    from_ms: i64,
    to_ms: i64,
) -> rusqlite::Result<Vec<Seen>> {
    let mut st = conn.prepare_cached(
        "SELECT s.camera, s.origin, s.seq, s.pass_time, s.class, s.color
         FROM sightings s INDEXED BY sightings_by_plate
         WHERE s.plate_norm = ?1 AND s.pass_time >= ?2 AND s.pass_time < ?3
           AND s.plate_text = ?4 AND s.plate_state = ?5
         ORDER BY s.pass_time, s.origin, s.seq",
    )?;
    let mut rows = st.query(params![
        super::normalize(plate),
        from_ms,
        to_ms,
        plate,
        PlateState::Read.code()
    ])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Seen {
            camera: names.id(r.get_ref(0)?.as_str().unwrap_or("")),
            origin: names.id(r.get_ref(1)?.as_str().unwrap_or("")),
            seq: r.get::<_, i64>(2)? as u64,
            t: r.get(3)?,
            class: VehicleClass::from_code(r.get(4)?),
            color: VehicleColor::from_code(r.get(5)?),
        });
    }
    Ok(out)
}

/// The rank key `(evidence items capped at 2, strongest speed)` of the `n`-th best plate in
/// `out`, when there are at least `n`.
fn nth_best(out: &[(f64, ClonedPlate)], n: usize) -> Option<(usize, f64)> {
    if out.len() < n {
        return None;
    }
    let mut keys: Vec<(usize, f64)> = out
        .iter()
        .map(|(s, p)| (p.evidence.len().min(2), *s))
        .collect();
    keys.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
    Some(keys[n - 1])
}

/// The evidence against one plate, from its sightings in time order (both paths), or from its
/// fast hops alone when none of its pairs changed appearance (the unscoped path).
struct Judge<'a> {
    store: &'a Store,
    conn: &'a rusqlite::Connection,
    q: &'a ClonedPlates,
    geo: &'a HashMap<String, (f64, f64)>,
}

impl Judge<'_> {
    /// Speed evidence from a plate's hops in the window (in time order), exactly as
    /// [`Judge::plate`] finds it among consecutive sightings; `sightings` is left 0 for the
    /// caller to count.
    fn fast_hops(&self, plate: &str, hops: &[&super::hops::Hop]) -> Option<(f64, ClonedPlate)> {
        let q = self.q;
        let mut evidence = Vec::new();
        let mut strongest = 0.0f64;
        for h in hops {
            let Some(km) = h.km else { continue };
            let dt = (h.b_time - h.a_time) as f64;
            let kmh = km / ((dt + q.tolerance_ms as f64) / 3_600_000.0).max(1e-9);
            if kmh > q.max_speed_kmh {
                strongest = strongest.max(kmh);
                evidence.push(CloneEvidence::Speed {
                    from: h.a.clone(),
                    to: h.b.clone(),
                    from_camera: h.a_camera.clone(),
                    to_camera: h.b_camera.clone(),
                    km,
                    seconds: dt / 1000.0,
                    kmh,
                });
            }
        }
        (!evidence.is_empty()).then(|| {
            (
                strongest,
                ClonedPlate {
                    plate: plate.to_owned(),
                    sightings: 0,
                    evidence,
                },
            )
        })
    }

    /// `(strongest implied speed, the plate)` when there is evidence.
    fn plate(
        &self,
        plate: &str,
        seen: &[Seen],
        names: &Interner,
    ) -> Result<Option<(f64, ClonedPlate)>, Error> {
        if seen.len() < 2 {
            return Ok(None);
        }
        let q = self.q;
        let mut evidence = Vec::new();
        let mut strongest = 0.0f64;
        for w in seen.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if a.camera == b.camera {
                continue;
            }
            let (Some(pa), Some(pb)) = (
                self.geo.get(names.name(a.camera)),
                self.geo.get(names.name(b.camera)),
            ) else {
                continue;
            };
            let km = distance_km(*pa, *pb);
            let dt = (b.t - a.t) as f64;
            let kmh = km / ((dt + q.tolerance_ms as f64) / 3_600_000.0).max(1e-9);
            if kmh > q.max_speed_kmh {
                strongest = strongest.max(kmh);
                evidence.push(CloneEvidence::Speed {
                    from: names.key(a),
                    to: names.key(b),
                    from_camera: names.name(a.camera).to_owned(),
                    to_camera: names.name(b.camera).to_owned(),
                    km,
                    seconds: dt / 1000.0,
                    kmh,
                });
            }
        }
        let hs: Vec<Hit> = if has_conflict(seen, q.min_support.max(1)) {
            seen.iter().map(|s| names.hit(s, plate)).collect()
        } else {
            Vec::new()
        };
        for (a, b, what) in appearance_conflicts(&hs, q.min_support.max(1)) {
            let sql = |e| self.store.sql("read embedding")(e);
            let cosine = match (
                embedding_of(self.conn, a).map_err(sql)?,
                embedding_of(self.conn, b).map_err(sql)?,
            ) {
                (Some(x), Some(y)) => Some(x.cosine(&y)),
                _ => None,
            };
            evidence.push(CloneEvidence::Appearance {
                a: a.key.clone(),
                b: b.key.clone(),
                what,
                cosine,
            });
        }
        Ok((!evidence.is_empty()).then(|| {
            (
                strongest,
                ClonedPlate {
                    plate: plate.to_owned(),
                    sightings: seen.len(),
                    evidence,
                },
            )
        }))
    }
}

/// A plate's sighting, interned (see [`Interner`]).
#[derive(Debug, Clone, Copy)]
struct Seen {
    origin: u32,
    seq: u64,
    camera: u32,
    t: i64,
    class: VehicleClass,
    color: VehicleColor,
}

/// Camera and origin names, each stored once.
#[derive(Default)]
struct Interner {
    ids: FxMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    fn key(&self, s: &Seen) -> SightingKey {
        SightingKey {
            origin: self.name(s.origin).to_owned(),
            seq: s.seq,
        }
    }

    fn hit(&self, s: &Seen, plate: &str) -> Hit {
        Hit {
            key: self.key(s),
            camera: self.name(s.camera).to_owned(),
            pass_time_ms: s.t,
            class: s.class,
            color: s.color,
            state: PlateState::Read,
            plate: Some(plate.to_owned()),
        }
    }
}

/// Cheap pre-check, linear in the sightings: could [`appearance_conflicts`] find anything?
fn has_conflict(seen: &[Seen], min_support: usize) -> bool {
    if seen.len() < 2 * min_support {
        return false;
    }
    let mut families = [0usize; 4];
    let mut colours = [0usize; 16];
    for s in seen {
        if let Some(f) = class_family(s.class) {
            families[f as usize] += 1;
        }
        colours[(s.color.code() as usize).min(15)] += 1;
    }
    let supported_families = families.iter().filter(|n| **n >= min_support).count();
    let supported: Vec<VehicleColor> = VehicleColor::ALL
        .iter()
        .copied()
        .filter(|c| colours[(c.code() as usize).min(15)] >= min_support)
        .collect();
    supported_families > 1
        || supported
            .iter()
            .any(|a| supported.iter().any(|b| colours_conflict(*a, *b)))
}

/// Class-family and colour conflicts with enough support, each as the closest-in-time pair.
fn appearance_conflicts(hs: &[Hit], min_support: usize) -> Vec<(&Hit, &Hit, String)> {
    let mut out = Vec::new();
    let mut families: BTreeMap<u8, Vec<&Hit>> = BTreeMap::new();
    let mut colours: BTreeMap<VehicleColor, Vec<&Hit>> = BTreeMap::new();
    for h in hs {
        if let Some(f) = class_family(h.class) {
            families.entry(f).or_default().push(h);
        }
        if h.color != VehicleColor::Unknown {
            colours.entry(h.color).or_default().push(h);
        }
    }
    let closest = |xs: &[&Hit], ys: &[&Hit]| -> Option<(usize, usize)> {
        let mut best: Option<(i64, usize, usize)> = None;
        for (i, x) in xs.iter().enumerate() {
            for (j, y) in ys.iter().enumerate() {
                let d = (x.pass_time_ms - y.pass_time_ms).abs();
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, i, j));
                }
            }
        }
        best.map(|b| (b.1, b.2))
    };
    let fam: Vec<_> = families
        .values()
        .filter(|v| v.len() >= min_support)
        .collect();
    for i in 0..fam.len() {
        for j in i + 1..fam.len() {
            if let Some((x, y)) = closest(fam[i], fam[j]) {
                let (a, b) = (fam[i][x], fam[j][y]);
                out.push((a, b, format!("class {} vs {}", a.class, b.class)));
            }
        }
    }
    let col: Vec<_> = colours
        .iter()
        .filter(|(_, v)| v.len() >= min_support)
        .collect();
    for i in 0..col.len() {
        for j in i + 1..col.len() {
            if !colours_conflict(*col[i].0, *col[j].0) {
                continue;
            }
            if let Some((x, y)) = closest(col[i].1, col[j].1) {
                let (a, b) = (col[i].1[x], col[j].1[y]);
                out.push((a, b, format!("colour {} vs {}", a.color, b.color)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::testutil::{at, plated, town};

    fn q(from: i64, to: i64) -> ClonedPlates {
        ClonedPlates {
            filter: Filter::between(from, to),
            max_speed_kmh: 150.0,
            tolerance_ms: 30_000,
            min_support: 2,
            limit: 10,
        }
    }

    #[test]
    fn impossible_speed_and_two_vehicles_on_one_plate() {
        let store = town();
        let truck = |cam: &str, t| {
            let mut s = plated("晋M77777", cam, t);
            s.class = VehicleClass::Truck;
            s.color = VehicleColor::Red;
            s
        };
        let batch = vec![
            // 晋M12345: c-north, then c-far (~55 km) 10 minutes later: ~330 km/h.
            plated("晋M12345", "c-north", at(0)),
            plated("晋M12345", "c-far", at(10)),
            // 晋M55555: c-north then c-south (~22 km) 30 minutes later: fine.
            plated("晋M55555", "c-north", at(0)),
            plated("晋M55555", "c-south", at(30)),
            // 晋M66666: two cameras 55 m apart, same second: clock noise, not a clone.
            plated("晋M66666", "c-north", at(0)),
            plated("晋M66666", "c-north-2", at(0)),
            // 晋M77777: a black car twice and a red truck twice, hours apart at one camera.
            plated("晋M77777", "c-north", at(0)),
            plated("晋M77777", "c-north", at(60)),
            truck("c-north", at(300)),
            truck("c-north", at(400)),
            // 晋M88888: one grey sighting among black ones: a neighbour colour, seen once.
            plated("晋M88888", "c-north", at(0)),
            {
                let mut s = plated("晋M88888", "c-north", at(100));
                s.color = VehicleColor::White;
                s
            },
            plated("晋M88888", "c-north", at(200)),
        ];
        let stored = store.record("e", batch).unwrap();
        let got = store.cloned_plates(&q(at(-60), at(1440))).unwrap().result;
        let plates: Vec<_> = got.iter().map(|c| c.plate.as_str()).collect();
        assert_eq!(plates, ["晋M77777", "晋M12345"], "{got:?}");
        let m7 = &got[0];
        assert_eq!(m7.evidence.len(), 2, "{m7:?}");
        assert!(
            matches!(&m7.evidence[0], CloneEvidence::Appearance { what, a, b, .. }
            if what == "class car vs truck" && *a == stored[7].key && *b == stored[8].key)
        );
        assert!(
            matches!(&m7.evidence[1], CloneEvidence::Appearance { what, .. }
            if what == "colour black vs red")
        );
        match &got[1].evidence[..] {
            [CloneEvidence::Speed {
                kmh, km, to_camera, ..
            }] => {
                assert!((km - 55.6).abs() < 1.0, "{km}");
                assert!(*kmh > 300.0 && *kmh < 320.0, "{kmh}");
                assert_eq!(to_camera, "c-far");
            }
            other => panic!("{other:?}"),
        }
        // The scan over a scope naming every camera judges the same: the hops miss nothing.
        let mut scoped = q(at(-60), at(1440));
        scoped.filter.cameras = ["c-north", "c-north-2", "c-east", "c-south", "c-far"]
            .map(String::from)
            .to_vec();
        assert_eq!(store.cloned_plates(&scoped).unwrap().result, got);
        // Arriving out of order changes nothing: 晋M12345 seen again at c-north between the
        // two (5 minutes after the first) makes the fast pair c-north → c-far 5 minutes apart.
        store
            .record("e2", vec![plated("晋M12345", "c-north", at(5))])
            .unwrap();
        let again = store.cloned_plates(&q(at(-60), at(1440))).unwrap().result;
        let again_scoped = store.cloned_plates(&scoped).unwrap().result;
        assert_eq!(again, again_scoped);
        match &again
            .iter()
            .find(|c| c.plate == "晋M12345")
            .unwrap()
            .evidence[..]
        {
            [CloneEvidence::Speed { from, seconds, .. }] => {
                assert_eq!(from.origin, "e2");
                assert_eq!(*seconds, 300.0);
            }
            other => panic!("{other:?}"),
        }
        // A window holding only one end of the fast pair accuses nothing.
        let half = store.cloned_plates(&q(at(-60), at(7))).unwrap().result;
        assert!(half.iter().all(|c| c.plate != "晋M12345"), "{half:?}");
        // With a short answer, plates that cannot make it are not read, and the answer is the
        // one the scan gives: 晋M99999 twice too fast outranks 晋M77777's two vehicles.
        store
            .record(
                "e3",
                vec![
                    plated("晋M99999", "c-north", at(0)),
                    plated("晋M99999", "c-far", at(10)),
                    plated("晋M99999", "c-north", at(20)),
                ],
            )
            .unwrap();
        let mut one = q(at(-60), at(1440));
        one.limit = 1;
        let top = store.cloned_plates(&one).unwrap().result;
        assert_eq!(top.len(), 1);
        assert_eq!((top[0].plate.as_str(), top[0].sightings), ("晋M99999", 3));
        one.filter.cameras = scoped.filter.cameras.clone();
        assert_eq!(store.cloned_plates(&one).unwrap().result, top);
        // An unknown class between a car and a truck still shows the two vehicles.
        let seen = |class| {
            let mut s = plated("晋M44444", "c-east", at(0));
            s.class = class;
            s
        };
        let mut bridged = vec![
            seen(VehicleClass::Car),
            seen(VehicleClass::Unknown),
            seen(VehicleClass::Truck),
        ];
        for (i, s) in bridged.iter_mut().enumerate() {
            s.pass_time_ms = at(60 * i as i64);
        }
        store.record("e4", bridged).unwrap();
        let mut single = q(at(-60), at(1440));
        single.min_support = 1;
        let unscoped = store.cloned_plates(&single).unwrap().result;
        assert!(
            unscoped.iter().any(|c| c.plate == "晋M44444"),
            "{unscoped:?}"
        );
        single.filter.cameras = scoped.filter.cameras.clone();
        assert_eq!(store.cloned_plates(&single).unwrap().result, unscoped);
        // A plate pattern narrows the scan.
        let mut only = q(at(-60), at(1440));
        only.filter.plate = Some(super::super::PlatePattern::exact("晋M123*").unwrap());
        let got = store.cloned_plates(&only).unwrap().result;
        assert_eq!(got.len(), 1);
    }
}
