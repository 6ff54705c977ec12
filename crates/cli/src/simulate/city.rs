//! A synthetic city for `xueliang simulate` and its tests: Yuncheng (运城, plates 晋M) with its
//! 13 county-level divisions, cameras on the three rings of the city proper and at checkpoints
//! and town centres of every county, days of ordinary traffic, and four planted cases whose
//! answers are known ([`Truth`]): a white SUV with a covered plate at three night-time scenes
//! (among look-alike white SUVs), a cloned plate, a companion pair and a first entry.
//!
//! The planted cases are built in `planted.rs`, which owns [`Truth`].
//!
//! Pure and seeded: [`generate`] does no I/O and reads no clock, so one seed always gives the
//! same sightings, in the same order per edge node, and the planted cases (which vehicles,
//! cameras, nights and plates) change with the seed. Every sighting passes the uplink's
//! admission checks (valid plate text, box inside the frame, pass time within first/last seen)
//! as long as `start_ms` is within the receivers' retention.
//!
//! Ordinary traffic: vehicles live at a camera of their county; commuters drive the same route
//! to work in the morning rush and back in the evening, others run errands at times drawn from
//! a daily profile (few at night); a quarter of the county trips go into the city through a
//! county checkpoint and a city checkpoint. Hops are timed at road speeds (straight-line
//! distance × 1.3 at 30–80 km/h), so no ordinary plate looks cloned. Embeddings: a vehicle is
//! its (class, colour) prototype plus an individual part (cosine ~0.35 between two white SUVs),
//! each sighting adds noise (cosine ~0.9 between two sightings of one vehicle).
//!
//! Cost: linear in the sightings made (~9 per vehicle and day); 18 k sightings (1 000 vehicles,
//! 2 days, 13 counties) in 0.5 s in a debug build.

use std::collections::HashSet;

use base::{
    BBox, Embedding, PlateColor, PlateRead, PlateState, Sighting, VehicleClass, VehicleColor,
};

use super::planted::{ClonedPlate, CompanionPair, CoveredSuv, FirstEntry, SightingRef, Truth};

const DAY_MS: i64 = 86_400_000;
pub(super) const HOUR_MS: i64 = 3_600_000;
pub(super) const MIN_MS: i64 = 60_000;
/// China Standard Time: local hours (rush hours, nights) are UTC+8.
pub const UTC_OFFSET_MS: i64 = 8 * HOUR_MS;

/// Yuncheng's county-level divisions: id (also the edge/county node suffix), name, division
/// code (the first six digits of its cameras' GA/T 1400 device ids), centre.
const COUNTIES: [(&str, &str, u32, f64, f64); 13] = [
    ("yanhu", "盐湖区", 140802, 35.027, 111.007),
    ("linyi", "临猗县", 140821, 35.144, 110.774),
    ("xiaxian", "夏县", 140828, 35.141, 111.220),
    ("yongji", "永济市", 140881, 34.867, 110.447),
    ("wenxi", "闻喜县", 140823, 35.356, 111.224),
    ("pinglu", "平陆县", 140829, 34.838, 111.218),
    ("wanrong", "万荣县", 140822, 35.415, 110.838),
    ("ruicheng", "芮城县", 140830, 34.694, 110.694),
    ("jishan", "稷山县", 140824, 35.604, 110.983),
    ("xinjiang", "新绛县", 140825, 35.616, 111.225),
    ("jiangxian", "绛县", 140826, 35.491, 111.568),
    ("yuanqu", "垣曲县", 140827, 35.298, 111.670),
    ("hejin", "河津市", 140882, 35.597, 110.712),
];

/// Most counties a city has (the first is always the city proper, 盐湖区).
pub const MAX_COUNTIES: usize = COUNTIES.len();

/// Other Shanxi prefectures' letters (晋A 太原 … 晋L 临汾).
const SHANXI_LETTERS: &[u8] = b"ABCDEFHJKL";
/// Provinces of out-of-province plates seen here (neighbours first).
const OTHER_PROVINCES: [&str; 6] = ["陕", "豫", "京", "冀", "蒙", "鲁"];
/// Letters and digits after the prefix (no I or O).
const PLATE_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const PLATE_LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Relative traffic per local hour for errands (rush hours, few at night).
const HOURLY: [f64; 24] = [
    0.3, 0.2, 0.15, 0.15, 0.2, 0.5, 1.5, 3.0, 3.5, 2.5, 2.0, 2.0, 2.2, 2.0, 2.0, 2.2, 2.5, 3.5,
    3.2, 2.2, 1.6, 1.2, 0.8, 0.5,
];

/// What to make.
#[derive(Debug, Clone)]
pub struct Params {
    pub seed: u64,
    pub days: u32,
    /// Ordinary vehicles (the planted ones come on top).
    pub vehicles: u32,
    /// Counties with cameras, 2..=13; the city proper is always one.
    pub counties: usize,
    /// Local midnight (UTC+8) at which the first day starts, Unix ms.
    pub start_ms: i64,
}

impl Params {
    pub fn validate(&self) -> Result<(), String> {
        if self.days < 2 {
            return Err("a city needs at least 2 days (the first entry looks back a day)".into());
        }
        if !(2..=MAX_COUNTIES).contains(&self.counties) {
            return Err(format!("counties must be 2 to {MAX_COUNTIES}"));
        }
        if self.vehicles < 50 {
            return Err("at least 50 vehicles".into());
        }
        Ok(())
    }
}

/// One county (an edge node and a county platform in the federation).
#[derive(Debug, Clone, serde::Serialize)]
pub struct County {
    pub id: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

impl County {
    /// The edge node that records this county's cameras.
    pub fn edge_node(&self) -> String {
        format!("edge-{}", self.id)
    }

    /// The county platform.
    pub fn platform_node(&self) -> String {
        format!("county-{}", self.id)
    }
}

/// Where a camera stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    InnerRing,
    MiddleRing,
    OuterRing,
    Checkpoint,
    Town,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Camera {
    pub id: String,
    pub device_id: String,
    /// Index into [`City::counties`].
    pub county: usize,
    pub site: Site,
    pub lat: f64,
    pub lon: f64,
    #[serde(skip)]
    frame: (u32, u32),
}

/// The generated city.
#[derive(Debug, Clone)]
pub struct City {
    pub counties: Vec<County>,
    pub cameras: Vec<Camera>,
    /// Sightings per edge node (one per county, same order), in time order.
    pub sightings: Vec<(String, Vec<Sighting>)>,
    pub truth: Truth,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl City {
    /// Camera positions, as `Store::put_cameras_geo` takes them.
    pub fn geo(&self) -> Vec<store::CameraGeo> {
        self.cameras
            .iter()
            .map(|c| store::CameraGeo {
                camera: c.id.clone(),
                county: self.counties[c.county].id.clone(),
                lat: c.lat,
                lon: c.lon,
            })
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.sightings.iter().map(|(_, s)| s.len() as u64).sum()
    }
}

/// SplitMix64: small, fast, good enough for traffic, and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_F42D_4C95_7F2D)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo).max(1) as u64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.f64().max(1e-12);
        let v = self.f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    pub(super) fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

pub(super) type Vector = Vec<f64>;

pub(super) fn random_vector(rng: &mut Rng) -> Vector {
    (0..Embedding::DIM).map(|_| rng.normal()).collect()
}

pub(super) fn mix(a: &[f64], wa: f64, b: &[f64], wb: f64) -> Vector {
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

#[derive(Debug, Clone)]
pub(super) struct Vehicle {
    pub(super) plate: Option<String>,
    pub(super) plate_color: PlateColor,
    pub(super) class: VehicleClass,
    pub(super) color: VehicleColor,
    pub(super) appearance: Vector,
    pub(super) home: usize,
    /// Commuters drive this route every morning and back every evening.
    pub(super) commute: Option<Vec<usize>>,
    /// Plate covered on every sighting.
    pub(super) covered: bool,
    /// Never missed and always read (planted cases that need it).
    pub(super) exact: bool,
}

/// One sighting before it is built: vehicle, camera, time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pass {
    pub(super) vehicle: usize,
    pub(super) camera: usize,
    pub(super) t: i64,
    /// Planted: never missed.
    pub(super) sure: bool,
}

pub(super) struct Gen {
    pub(super) rng: Rng,
    pub(super) p: Params,
    pub(super) counties: Vec<County>,
    pub(super) cameras: Vec<Camera>,
    pub(super) neighbours: Vec<Vec<usize>>,
    pub(super) prototypes: Vec<((VehicleClass, VehicleColor), Vector)>,
    pub(super) plates: HashSet<String>,
    pub(super) vehicles: Vec<Vehicle>,
    pub(super) passes: Vec<Pass>,
}

fn offset_km(lat: f64, lon: f64, north_km: f64, east_km: f64) -> (f64, f64) {
    (
        lat + north_km / 111.0,
        lon + east_km / (111.0 * lat.to_radians().cos()),
    )
}

/// Makes the city: cameras, traffic, planted cases. Deterministic in `p`.
pub fn generate(p: &Params) -> Result<City, String> {
    p.validate()?;
    let mut g = Gen {
        rng: Rng::new(p.seed),
        p: p.clone(),
        counties: Vec::new(),
        cameras: Vec::new(),
        neighbours: Vec::new(),
        prototypes: Vec::new(),
        plates: HashSet::new(),
        vehicles: Vec::new(),
        passes: Vec::new(),
    };
    g.cameras_and_roads();
    for _ in 0..p.vehicles {
        g.ordinary_vehicle();
    }
    for v in 0..g.vehicles.len() {
        g.traffic(v);
    }
    let covered = g.plant_covered_suv();
    let cloned = g.plant_clone();
    let companions = g.plant_companions();
    let entry = g.plant_entry();
    Ok(g.finish(covered, cloned, companions, entry))
}

impl Gen {
    pub(super) fn cameras_and_roads(&mut self) {
        for &(id, name, code, lat, lon) in &COUNTIES[..self.p.counties] {
            let county = self.counties.len();
            self.counties.push(County {
                id: id.into(),
                name: name.into(),
                lat,
                lon,
            });
            let add = |g: &mut Gen, site: Site, label: String, north: f64, east: f64| {
                let (lat, lon) = offset_km(lat, lon, north, east);
                let n = g.cameras.len();
                let frame = if g.rng.chance(0.3) {
                    (2560, 1440)
                } else {
                    (1920, 1080)
                };
                g.cameras.push(Camera {
                    id: format!("{id}-{label}"),
                    device_id: format!("{code}{:04}132{:07}", county, n),
                    county,
                    site,
                    lat,
                    lon,
                    frame,
                });
            };
            let jitter = |g: &mut Gen| g.rng.normal() * 0.2;
            if county == 0 {
                for (site, label, n, r) in [
                    (Site::InnerRing, "inner", 8, 2.5),
                    (Site::MiddleRing, "middle", 12, 5.0),
                    (Site::OuterRing, "outer", 16, 9.0),
                    (Site::Checkpoint, "cp", 4, 14.0),
                ] {
                    for i in 0..n {
                        let a = std::f64::consts::TAU * (i as f64 + 0.5) / n as f64;
                        let (dn, de) = (jitter(self), jitter(self));
                        add(
                            self,
                            site,
                            format!("{label}-{:02}", i + 1),
                            r * a.cos() + dn,
                            r * a.sin() + de,
                        );
                    }
                }
            } else {
                for i in 0..3 {
                    let a = std::f64::consts::TAU * i as f64 / 3.0;
                    let (dn, de) = (jitter(self), jitter(self));
                    add(
                        self,
                        Site::Town,
                        format!("town-{}", i + 1),
                        1.2 * a.cos() + dn,
                        1.2 * a.sin() + de,
                    );
                }
                // One checkpoint towards the city, one away from it.
                let (cn, ce) = (
                    (COUNTIES[0].3 - lat) * 111.0,
                    (COUNTIES[0].4 - lon) * 111.0 * lat.to_radians().cos(),
                );
                let d = (cn * cn + ce * ce).sqrt().max(1e-6);
                add(
                    self,
                    Site::Checkpoint,
                    "cp-1".into(),
                    4.0 * cn / d,
                    4.0 * ce / d,
                );
                add(
                    self,
                    Site::Checkpoint,
                    "cp-2".into(),
                    -4.0 * cn / d,
                    -4.0 * ce / d,
                );
            }
        }
        // Roads: each camera to its three nearest in the same county; a county's city-side
        // checkpoint to the nearest checkpoint of the city proper.
        let n = self.cameras.len();
        self.neighbours = vec![Vec::new(); n];
        for a in 0..n {
            let mut near: Vec<(f64, usize)> = (0..n)
                .filter(|&b| b != a && self.cameras[b].county == self.cameras[a].county)
                .map(|b| (self.km(a, b), b))
                .collect();
            near.sort_by(|x, y| x.0.total_cmp(&y.0));
            for &(_, b) in near.iter().take(3) {
                self.link(a, b);
            }
        }
        for a in 0..n {
            if self.cameras[a].county != 0 && self.cameras[a].id.ends_with("cp-1") {
                let b = self.nearest_city_checkpoint(a);
                self.link(a, b);
            }
        }
    }

    pub(super) fn link(&mut self, a: usize, b: usize) {
        if !self.neighbours[a].contains(&b) {
            self.neighbours[a].push(b);
        }
        if !self.neighbours[b].contains(&a) {
            self.neighbours[b].push(a);
        }
    }

    pub(super) fn nearest_city_checkpoint(&self, a: usize) -> usize {
        (0..self.cameras.len())
            .filter(|&b| self.cameras[b].county == 0 && self.cameras[b].site == Site::Checkpoint)
            .min_by(|&x, &y| self.km(a, x).total_cmp(&self.km(a, y)))
            .unwrap_or(0)
    }

    pub(super) fn km(&self, a: usize, b: usize) -> f64 {
        let (a, b) = (&self.cameras[a], &self.cameras[b]);
        store::distance_km((a.lat, a.lon), (b.lat, b.lon))
    }

    pub(super) fn cameras_of(&self, county: usize) -> Vec<usize> {
        (0..self.cameras.len())
            .filter(|&c| self.cameras[c].county == county)
            .collect()
    }

    /// A route from `start`: a walk of `len` cameras over the roads, not doubling back.
    pub(super) fn walk(&mut self, start: usize, len: usize) -> Vec<usize> {
        let mut route = vec![start];
        while route.len() < len {
            let here = *route.last().expect("non-empty");
            let options: Vec<usize> = self.neighbours[here]
                .iter()
                .copied()
                .filter(|c| !route.contains(c))
                .collect();
            if options.is_empty() {
                break;
            }
            route.push(options[self.rng.below(options.len())]);
        }
        route
    }

    /// A trip from `home`: local, or (a quarter of county trips) into the city.
    pub(super) fn trip(&mut self, home: usize) -> Vec<usize> {
        let county = self.cameras[home].county;
        let len = 2 + self.rng.below(5);
        if county != 0 && self.rng.chance(0.25) {
            let cams = self.cameras_of(county);
            let Some(&cp) = cams.iter().find(|&&c| self.cameras[c].id.ends_with("cp-1")) else {
                return self.walk(home, len);
            };
            let mut route = vec![home];
            if cp != home {
                route.push(cp);
            }
            let city_cp = self.nearest_city_checkpoint(cp);
            let len = 2 + self.rng.below(3);
            route.extend(self.walk(city_cp, len));
            route
        } else {
            self.walk(home, len)
        }
    }

    pub(super) fn unique_plate(&mut self, prefix: &str, new_energy: bool) -> String {
        loop {
            let mut s = String::from(prefix);
            let n = if new_energy { 6 } else { 5 };
            for i in 0..n {
                let c = if new_energy && i == 0 {
                    *[b'D', b'F'].get(self.rng.below(2)).unwrap_or(&b'D')
                } else if i == 0 && self.rng.chance(0.5) {
                    PLATE_LETTERS[self.rng.below(PLATE_LETTERS.len())]
                } else {
                    PLATE_CHARS[self.rng.below(PLATE_CHARS.len())]
                };
                s.push(c as char);
            }
            if self.plates.insert(s.clone()) {
                return s;
            }
        }
    }

    /// A plate: mostly 晋M, some other Shanxi prefectures, a few from other provinces.
    pub(super) fn plate(&mut self, class: VehicleClass) -> (String, PlateColor) {
        let x = self.rng.f64();
        let prefix = if x < 0.85 {
            "晋M".to_owned()
        } else if x < 0.95 {
            let l = SHANXI_LETTERS[self.rng.below(SHANXI_LETTERS.len())] as char;
            format!("晋{l}")
        } else {
            self.foreign_prefix()
        };
        let big = matches!(class, VehicleClass::Truck | VehicleClass::Bus);
        let new_energy = !big && self.rng.chance(0.06);
        let color = if big {
            PlateColor::Yellow
        } else if new_energy {
            PlateColor::Green
        } else {
            PlateColor::Blue
        };
        (self.unique_plate(&prefix, new_energy), color)
    }

    pub(super) fn foreign_prefix(&mut self) -> String {
        let p = OTHER_PROVINCES[self.rng.below(OTHER_PROVINCES.len())];
        let l = PLATE_LETTERS[self.rng.below(12)] as char;
        format!("{p}{l}")
    }

    pub(super) fn prototype(&mut self, class: VehicleClass, color: VehicleColor) -> Vector {
        if let Some((_, v)) = self.prototypes.iter().find(|(k, _)| *k == (class, color)) {
            return v.clone();
        }
        let v = random_vector(&mut self.rng);
        self.prototypes.push(((class, color), v.clone()));
        v
    }

    pub(super) fn appearance(&mut self, class: VehicleClass, color: VehicleColor) -> Vector {
        let proto = self.prototype(class, color);
        let own = random_vector(&mut self.rng);
        mix(&proto, 0.6, &own, 0.8)
    }

    pub(super) fn random_look(&mut self) -> (VehicleClass, VehicleColor) {
        use VehicleClass as C;
        use VehicleColor as K;
        let classes = [
            C::Car,
            C::Suv,
            C::Van,
            C::Pickup,
            C::Truck,
            C::Bus,
            C::Motorcycle,
        ];
        let cw = [55.0, 25.0, 6.0, 3.0, 6.0, 3.0, 2.0];
        let colors = [
            K::White,
            K::Black,
            K::Grey,
            K::Red,
            K::Blue,
            K::Yellow,
            K::Green,
            K::Brown,
            K::Orange,
            K::Purple,
        ];
        let kw = [30.0, 22.0, 15.0, 8.0, 10.0, 3.0, 2.0, 3.0, 1.0, 1.0];
        let class = classes[self.rng.weighted(&cw)];
        let color = colors[self.rng.weighted(&kw)];
        (class, color)
    }

    pub(super) fn add_vehicle(&mut self, v: Vehicle) -> usize {
        self.vehicles.push(v);
        self.vehicles.len() - 1
    }

    pub(super) fn ordinary_vehicle(&mut self) -> usize {
        let (class, color) = self.random_look();
        let (plate, plate_color) = self.plate(class);
        // Half the fleet lives in the city proper.
        let county = if self.rng.chance(0.5) {
            0
        } else {
            1 + self.rng.below(self.counties.len() - 1)
        };
        let cams = self.cameras_of(county);
        let home = cams[self.rng.below(cams.len())];
        let commute = if self.rng.chance(0.6) {
            let route = self.trip(home);
            (route.len() > 1).then_some(route)
        } else {
            None
        };
        let appearance = self.appearance(class, color);
        self.add_vehicle(Vehicle {
            plate: Some(plate),
            plate_color,
            class,
            color,
            appearance,
            home,
            commute,
            covered: false,
            exact: false,
        })
    }

    pub(super) fn day_start(&self, day: u32) -> i64 {
        self.p.start_ms + i64::from(day) * DAY_MS
    }

    pub(super) fn end_ms(&self) -> i64 {
        self.day_start(self.p.days)
    }

    /// Passes along `route` from `t0`, at road speeds; returns the time at the last camera.
    pub(super) fn drive(&mut self, vehicle: usize, route: &[usize], t0: i64, sure: bool) -> i64 {
        let mut t = t0;
        for (i, &cam) in route.iter().enumerate() {
            if i > 0 {
                let km = self.km(route[i - 1], cam) * 1.3;
                let kmh = if km > 5.0 {
                    60.0 + 20.0 * self.rng.f64()
                } else {
                    30.0 + 20.0 * self.rng.f64()
                };
                t += (km / kmh * HOUR_MS as f64) as i64 + self.rng.range(10_000, 60_000);
            }
            if t < self.end_ms() {
                self.passes.push(Pass {
                    vehicle,
                    camera: cam,
                    t,
                    sure,
                });
            }
        }
        t
    }

    /// An ordinary vehicle's days: commutes and errands, every trip back home.
    pub(super) fn traffic(&mut self, v: usize) {
        // Never two trips at once, not even across midnight.
        let mut busy_until = self.day_start(0);
        for day in 0..self.p.days {
            let d0 = self.day_start(day);
            busy_until = busy_until.max(d0);
            if let Some(route) = self.vehicles[v].commute.clone() {
                let go =
                    d0 + 7 * HOUR_MS + 45 * MIN_MS + (self.rng.normal() * 40.0) as i64 * MIN_MS;
                let go = go.max(d0 + 5 * HOUR_MS).max(busy_until + 10 * MIN_MS);
                let at_work = self.drive(v, &route, go, false);
                let back = (d0 + 18 * HOUR_MS + (self.rng.normal() * 60.0) as i64 * MIN_MS)
                    .max(at_work + HOUR_MS);
                let rev: Vec<usize> = route.iter().rev().copied().collect();
                busy_until = self.drive(v, &rev, back, false);
            }
            let errands = if self.vehicles[v].commute.is_some() {
                self.rng.below(2)
            } else {
                1 + self.rng.below(3)
            };
            for _ in 0..errands {
                let hour = self.rng.weighted(&HOURLY) as i64;
                let t = d0 + hour * HOUR_MS + self.rng.range(0, HOUR_MS);
                if t < busy_until {
                    continue;
                }
                let home = self.vehicles[v].home;
                let out = self.trip(home);
                let end = self.drive(v, &out, t, false);
                let rev: Vec<usize> = out.iter().rev().copied().collect();
                let stay = self.rng.range(10 * MIN_MS, 90 * MIN_MS);
                busy_until = self.drive(v, &rev, end + stay, false);
            }
        }
    }

    pub(super) fn embedding(&mut self, appearance: &[f64]) -> Embedding {
        let mut c = [0i8; Embedding::DIM];
        for (x, a) in c.iter_mut().zip(appearance) {
            let v = (a + 0.3 * self.rng.normal()) * 30.0;
            *x = v.round().clamp(-127.0, 127.0) as i8;
        }
        Embedding::from_components(c)
    }

    pub(super) fn sighting(&mut self, pass: &Pass) -> Option<Sighting> {
        let v = self.vehicles[pass.vehicle].clone();
        if !(pass.sure || v.exact) && self.rng.chance(0.05) {
            return None; // missed: occluded, out of focus
        }
        let cam = &self.cameras[pass.camera];
        let (fw, fh) = cam.frame;
        let local_hour = ((pass.t - self.p.start_ms).rem_euclid(DAY_MS)) / HOUR_MS;
        let night = !(6..20).contains(&local_hour);
        let plate = if v.covered {
            PlateRead {
                state: PlateState::Covered,
                text: None,
                color: PlateColor::Unknown,
                confidence: 0.0,
                char_confidences: Vec::new(),
            }
        } else if v.exact || self.rng.f64() < if night { 0.8 } else { 0.9 } {
            let text = v.plate.clone().unwrap_or_default();
            let n = text.chars().count();
            let conf = 0.85 + 0.14 * self.rng.f64() as f32;
            PlateRead {
                state: PlateState::Read,
                char_confidences: (0..n).map(|_| (conf + 0.01).min(1.0)).collect(),
                text: Some(text),
                color: v.plate_color,
                confidence: conf,
            }
        } else {
            PlateRead {
                state: PlateState::Unreadable,
                text: None,
                color: v.plate_color,
                confidence: 0.0,
                char_confidences: Vec::new(),
            }
        };
        let w = 250.0 + 350.0 * self.rng.f64() as f32;
        let h = w * 0.75;
        let x = self.rng.f64() as f32 * (fw as f32 - w);
        let y = 300.0 + self.rng.f64() as f32 * (fh as f32 - h - 300.0);
        let camera = cam.id.clone();
        let device_id = cam.device_id.clone();
        let up = self.rng.chance(0.5);
        let direction = (if up { 0.0 } else { 180.0 }) + 10.0 * self.rng.normal() as f32;
        let embedding = self.embedding(&v.appearance);
        Some(Sighting {
            camera,
            device_id,
            pass_time_ms: pass.t,
            first_seen_ms: pass.t - self.rng.range(800, 2500),
            last_seen_ms: pass.t + self.rng.range(300, 1500),
            class: v.class,
            class_confidence: 0.7 + 0.29 * self.rng.f64() as f32,
            color: v.color,
            color_confidence: 0.6 + 0.39 * self.rng.f64() as f32,
            plate,
            bbox: BBox {
                x1: x,
                y1: y,
                x2: x + w,
                y2: y + h,
            },
            frame_width: fw,
            frame_height: fh,
            frames: 4 + self.rng.below(16) as u32,
            direction_deg: Some(direction.rem_euclid(360.0)),
            embedding: Some(embedding),
            ..Default::default()
        })
    }

    pub(super) fn finish(
        mut self,
        mut covered_suv: CoveredSuv,
        cloned_plate: ClonedPlate,
        companions: CompanionPair,
        first_entry: FirstEntry,
    ) -> City {
        let mut passes = std::mem::take(&mut self.passes);
        passes.sort_by_key(|p| (p.t, p.camera, p.vehicle));
        let mut per: Vec<Vec<(Pass, Sighting)>> = vec![Vec::new(); self.counties.len()];
        for p in &passes {
            if let Some(s) = self.sighting(p) {
                per[self.cameras[p.camera].county].push((*p, s));
            }
        }
        // The covered SUV's sighting in each scene, as the edge will number it.
        let w = covered_suv.vehicle as usize;
        for sc in &covered_suv.scenes {
            for (c, list) in per.iter().enumerate() {
                if let Some(i) = list.iter().position(|(p, s)| {
                    p.vehicle == w
                        && s.camera == sc.camera
                        && (sc.from_ms..sc.to_ms).contains(&s.pass_time_ms)
                }) {
                    covered_suv.sightings.push(SightingRef {
                        origin: self.counties[c].edge_node(),
                        seq: i as u64 + 1,
                    });
                }
            }
        }
        let sightings = per
            .into_iter()
            .enumerate()
            .map(|(c, list)| {
                (
                    self.counties[c].edge_node(),
                    list.into_iter().map(|(_, s)| s).collect(),
                )
            })
            .collect();
        City {
            counties: self.counties,
            cameras: self.cameras,
            sightings,
            truth: Truth {
                seed: self.p.seed,
                covered_suv,
                cloned_plate,
                companions,
                first_entry,
            },
            start_ms: self.p.start_ms,
            end_ms: self.p.start_ms + i64::from(self.p.days) * DAY_MS,
        }
    }
}

/// Local midnight (UTC+8) at or before `t_ms`.
pub fn local_midnight(t_ms: i64) -> i64 {
    (t_ms + UTC_OFFSET_MS).div_euclid(DAY_MS) * DAY_MS - UTC_OFFSET_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn params(seed: u64) -> Params {
        Params {
            seed,
            days: 2,
            vehicles: 200,
            counties: 4,
            start_ms: local_midnight(1_790_000_000_000),
        }
    }

    #[test]
    pub(super) fn same_seed_same_city_other_seed_other_cases() {
        let a = generate(&params(1)).unwrap();
        let b = generate(&params(1)).unwrap();
        let c = generate(&params(2)).unwrap();
        assert_eq!(a.sightings, b.sightings);
        assert_eq!(a.truth.covered_suv.scenes, b.truth.covered_suv.scenes);
        assert_ne!(a.truth.covered_suv.scenes, c.truth.covered_suv.scenes);
        assert_ne!(a.truth.cloned_plate.plate, c.truth.cloned_plate.plate);
        assert_eq!(a.truth.covered_suv.sightings.len(), 3);
    }

    #[test]
    pub(super) fn every_sighting_is_admissible_and_plates_are_valid() {
        let city = generate(&params(7)).unwrap();
        let admission = uplink::Admission::default();
        let now = city.end_ms + HOUR_MS;
        let mut n = 0;
        for (_, list) in &city.sightings {
            for s in list {
                admission.sighting(s, now).unwrap();
                n += 1;
            }
            assert!(list
                .windows(2)
                .all(|w| w[0].pass_time_ms <= w[1].pass_time_ms));
        }
        assert!(n > 2_000, "{n} sightings");
        // Scenes are at night, local time.
        for sc in &city.truth.covered_suv.scenes {
            let h = (sc.from_ms + UTC_OFFSET_MS).rem_euclid(DAY_MS) / HOUR_MS;
            assert!(!(6..20).contains(&h), "scene at {h}h");
        }
    }
}
