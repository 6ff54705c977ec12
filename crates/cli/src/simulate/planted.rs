//! The planted cases of the simulated city and their answers ([`Truth`]): a white SUV with a
//! covered plate at three night-time scenes among look-alikes, a cloned plate (a second car far
//! away minutes later, of another colour), a companion pair (a second plate a few seconds behind
//! the subject at every camera) and a first entry (an out-of-province plate entering the city
//! proper through a checkpoint on the last day). Which vehicles, cameras, nights and plates
//! varies with the seed; each case is built so that the store's operation finds exactly it.

use base::{PlateColor, VehicleClass, VehicleColor};

use super::city::{mix, random_vector, Gen, Pass, Site, Vehicle, HOUR_MS, MIN_MS};

/// A place and time window an investigator would give for one scene.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scene {
    pub camera: String,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// A sighting as the edge's outbox will number it: `origin#seq`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SightingRef {
    pub origin: String,
    pub seq: u64,
}

/// The white SUV with a covered plate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CoveredSuv {
    pub vehicle: u32,
    /// Three night-time scenes it passed, in time order.
    pub scenes: Vec<Scene>,
    /// Its sighting in each scene (same order).
    pub sightings: Vec<SightingRef>,
    /// Look-alike white SUVs (plateless, cosine ~0.7) and plated white SUVs placed at some
    /// of the scenes, never all three.
    pub distractors: Vec<u32>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ClonedPlate {
    pub plate: String,
    pub genuine_vehicle: u32,
    pub clone_vehicle: u32,
    /// (class, colour) of each.
    pub genuine: (String, String),
    pub clone: (String, String),
    /// The impossible hop: genuine at `from` then the clone at `to`.
    pub from: (String, i64),
    pub to: (String, i64),
    pub km: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CompanionPair {
    pub subject: String,
    pub companion: String,
    /// Camera passes they made together.
    pub times: usize,
    pub max_gap_ms: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FirstEntry {
    pub plate: String,
    /// The region: this county (the city proper).
    pub county: String,
    pub camera: String,
    pub pass_time_ms: i64,
    /// The window asked about (the last day) and how far back to look.
    pub from_ms: i64,
    pub to_ms: i64,
    pub lookback_ms: i64,
}

/// The planted cases and their answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Truth {
    pub seed: u64,
    pub covered_suv: CoveredSuv,
    pub cloned_plate: ClonedPlate,
    pub companions: CompanionPair,
    pub first_entry: FirstEntry,
}

impl Gen {
    /// A night-time moment: local 21:00–05:00 of some night within the simulated days.
    pub(super) fn night_time(&mut self) -> i64 {
        let hours = [0, 1, 2, 3, 4, 21, 22, 23];
        let day = self.rng.below(self.p.days as usize) as u32;
        let h = hours[self.rng.below(hours.len())];
        self.day_start(day) + h * HOUR_MS + self.rng.range(0, HOUR_MS - 5 * MIN_MS)
    }

    pub(super) fn plant_covered_suv(&mut self) -> CoveredSuv {
        let (class, color) = (VehicleClass::Suv, VehicleColor::White);
        let appearance = self.appearance(class, color);
        let n = self.cameras.len();
        let home = self.rng.below(n);
        let w = self.add_vehicle(Vehicle {
            plate: None,
            plate_color: PlateColor::Unknown,
            class,
            color,
            appearance: appearance.clone(),
            home,
            commute: None,
            covered: true,
            exact: true,
        });
        // Three scenes: distinct cameras, at least three hours apart (so a plated vehicle at
        // two of them never looks cloned).
        let mut picks: Vec<(usize, i64)> = Vec::new();
        while picks.len() < 3 {
            let cam = self.rng.below(n);
            let t = self.night_time();
            if picks
                .iter()
                .all(|&(c, u)| c != cam && (t - u).abs() > 3 * HOUR_MS)
            {
                picks.push((cam, t));
            }
        }
        picks.sort_by_key(|&(_, t)| t);
        let mut scenes = Vec::new();
        for &(cam, t) in &picks {
            // The scene, and a little of the road after it.
            let len = 2 + self.rng.below(2);
            let route = self.walk(cam, len);
            self.drive(w, &route, t, true);
            let from = (t - self.rng.range(10, 30) * MIN_MS) / MIN_MS * MIN_MS;
            let to = (t + self.rng.range(10, 30) * MIN_MS) / MIN_MS * MIN_MS;
            scenes.push(Scene {
                camera: self.cameras[cam].id.clone(),
                from_ms: from,
                to_ms: to,
            });
        }
        // Distractors: look-alike plateless white SUVs (cosine ~0.7 to it) at one or two
        // scenes, and plated white SUVs at two.
        let mut distractors = Vec::new();
        for k in 0..6 {
            let plated = k >= 4;
            let own = random_vector(&mut self.rng);
            let look = if plated {
                self.appearance(class, color)
            } else {
                mix(&appearance, 0.7, &own, 0.714)
            };
            let plate = plated.then(|| self.plate(class));
            let home = self.rng.below(n);
            let d = self.add_vehicle(Vehicle {
                plate: plate.as_ref().map(|p| p.0.clone()),
                plate_color: plate.map_or(PlateColor::Unknown, |p| p.1),
                class,
                color,
                appearance: look,
                home,
                commute: None,
                covered: !plated,
                exact: plated,
            });
            let at = if plated || k % 2 == 0 { 2 } else { 1 };
            let skip = self.rng.below(3);
            for (i, s) in picks.iter().enumerate() {
                if (at == 2 && i == skip) || (at == 1 && i != skip) {
                    continue;
                }
                let sc = &scenes[i];
                let t = self.rng.range(sc.from_ms + 1000, sc.to_ms - 1000);
                self.drive(d, &[s.0], t, true);
            }
            distractors.push(d as u32);
        }
        CoveredSuv {
            vehicle: w as u32,
            scenes,
            sightings: Vec::new(),
            distractors,
        }
    }

    pub(super) fn plant_clone(&mut self) -> ClonedPlate {
        // The genuine vehicle: a black car commuting in one county; the clone: a white car
        // with the same plate, living in the county farthest from it.
        let genuine = self.ordinary_vehicle();
        let gv = &mut self.vehicles[genuine];
        gv.class = VehicleClass::Car;
        gv.color = VehicleColor::Black;
        gv.exact = true;
        let plate = gv.plate.clone().expect("ordinary vehicles have plates");
        let plate_color = gv.plate_color;
        self.vehicles[genuine].appearance = self.appearance(VehicleClass::Car, VehicleColor::Black);
        self.traffic(genuine);
        let home_g = self.vehicles[genuine].home;
        let far = (0..self.cameras.len())
            .max_by(|&a, &b| self.km(home_g, a).total_cmp(&self.km(home_g, b)))
            .unwrap_or(0);
        let appearance = self.appearance(VehicleClass::Car, VehicleColor::White);
        let clone = self.add_vehicle(Vehicle {
            plate: Some(plate.clone()),
            plate_color,
            class: VehicleClass::Car,
            color: VehicleColor::White,
            appearance,
            home: far,
            commute: None,
            covered: false,
            exact: true,
        });
        self.traffic(clone);
        // The impossible hop: on the last day, the clone seen far away minutes after the
        // genuine car, at over 250 km/h in a straight line.
        let last = self.day_start(self.p.days - 1);
        let t = last + 10 * HOUR_MS + self.rng.range(0, 4 * HOUR_MS);
        let km = self.km(home_g, far);
        let dt = ((km / 250.0 * HOUR_MS as f64) as i64).max(90_000);
        self.drive(genuine, &[home_g], t, true);
        self.drive(clone, &[far], t + dt, true);
        let look = |v: &Vehicle| (v.class.name().to_owned(), v.color.name().to_owned());
        ClonedPlate {
            plate,
            genuine_vehicle: genuine as u32,
            clone_vehicle: clone as u32,
            genuine: look(&self.vehicles[genuine]),
            clone: look(&self.vehicles[clone]),
            from: (self.cameras[home_g].id.clone(), t),
            to: (self.cameras[far].id.clone(), t + dt),
            km,
        }
    }

    pub(super) fn plant_companions(&mut self) -> CompanionPair {
        let subject = loop {
            let v = self.ordinary_vehicle();
            if self.vehicles[v].commute.is_some() {
                break v;
            }
            // Not a commuter: still ordinary traffic, try another.
            self.traffic(v);
        };
        self.vehicles[subject].exact = true;
        let companion = self.ordinary_vehicle();
        self.vehicles[companion].exact = true;
        self.vehicles[companion].commute = None;
        let before = self.passes.len();
        self.traffic(subject);
        let own: Vec<Pass> = self.passes[before..].to_vec();
        for p in &own {
            self.passes.push(Pass {
                vehicle: companion,
                camera: p.camera,
                t: p.t + self.rng.range(5_000, 25_000),
                sure: true,
            });
        }
        let plate = |v: usize| self.vehicles[v].plate.clone().unwrap_or_default();
        CompanionPair {
            subject: plate(subject),
            companion: plate(companion),
            times: own.len(),
            max_gap_ms: 30_000,
        }
    }

    pub(super) fn plant_entry(&mut self) -> FirstEntry {
        let (class, color) = self.random_look();
        let prefix = self.foreign_prefix();
        let plate = self.unique_plate(&prefix, false);
        let appearance = self.appearance(class, color);
        let cps: Vec<usize> = (0..self.cameras.len())
            .filter(|&c| self.cameras[c].county == 0 && self.cameras[c].site == Site::Checkpoint)
            .collect();
        let cp = cps[self.rng.below(cps.len())];
        let v = self.add_vehicle(Vehicle {
            plate: Some(plate.clone()),
            plate_color: PlateColor::Blue,
            class,
            color,
            appearance,
            home: cp,
            commute: None,
            covered: false,
            exact: true,
        });
        let last = self.day_start(self.p.days - 1);
        let t = last + 8 * HOUR_MS + self.rng.range(0, 8 * HOUR_MS);
        let route = self.walk(cp, 4);
        let end = self.drive(v, &route, t, true);
        let rev: Vec<usize> = route.iter().rev().copied().collect();
        self.drive(v, &rev, end + 2 * HOUR_MS, true);
        FirstEntry {
            plate,
            county: self.counties[0].id.clone(),
            camera: self.cameras[cp].id.clone(),
            pass_time_ms: t,
            from_ms: last,
            to_ms: self.end_ms(),
            lookback_ms: last - self.p.start_ms,
        }
    }
}
