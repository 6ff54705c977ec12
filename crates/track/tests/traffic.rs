//! Property tests of the tracker over synthetic traffic: vehicles moving along straight lines,
//! seen at irregular frame times with box jitter, missed and low-score detections, plus
//! one-frame false detections. Ground truth is known, so each test checks what an investigator
//! relies on: one sighting per vehicle, the right first and last seen, the right direction, and
//! no identity switch when two vehicles cross.

use std::collections::{HashMap, HashSet};

use base::{BBox, Detection, Sighting, VehicleClass};
use proptest::prelude::*;
use xueliang_track::{Assignment, TrackEnd, TrackId, Tracker, TrackerConfig};

const FRAME: (u32, u32) = (1280, 900);

/// splitmix64: noise that proptest's seed makes reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn chance(&mut self, p: f32) -> bool {
        self.f32(0.0, 1.0) < p
    }
}

/// One vehicle: its box centre moves at constant velocity while it is in view.
#[derive(Debug, Clone)]
struct Vehicle {
    start_ms: i64,
    end_ms: i64,
    /// Centre at `start_ms`, px.
    cx: f32,
    cy: f32,
    w: f32,
    h: f32,
    /// px/s.
    vx: f32,
    vy: f32,
    class: VehicleClass,
}

impl Vehicle {
    fn bbox(&self, t_ms: i64) -> BBox {
        let s = (t_ms - self.start_ms) as f32 / 1000.0;
        let (cx, cy) = (self.cx + self.vx * s, self.cy + self.vy * s);
        BBox {
            x1: cx - self.w / 2.0,
            y1: cy - self.h / 2.0,
            x2: cx + self.w / 2.0,
            y2: cy + self.h / 2.0,
        }
    }

    fn visible(&self, t_ms: i64) -> bool {
        (self.start_ms..=self.end_ms).contains(&t_ms)
    }

    /// Image direction, degrees clockwise from up.
    fn direction_deg(&self) -> f32 {
        self.vx.atan2(-self.vy).to_degrees().rem_euclid(360.0)
    }

    /// Distance travelled in `ms`, in box sizes.
    fn travel(&self, ms: i64) -> f32 {
        self.vx.hypot(self.vy) * ms as f32 / 1000.0 / (self.w * self.h).sqrt()
    }
}

/// How detections of a vehicle go wrong.
#[derive(Debug, Clone, Copy)]
struct Noise {
    /// Box edge jitter, share of the box size.
    jitter: f32,
    /// Chance that a vehicle is not detected in a frame (never twice in a row, never in its
    /// first two or last frame, which fix its track's start and first/last seen).
    miss: f32,
    /// Chance that a detection scores low (0.2–0.5) once the track has started.
    weak: f32,
}

/// What the tracker made of a run.
struct Run {
    /// For each vehicle, (frame time, ground-truth box, assignment) of each of its detections.
    per_vehicle: Vec<Vec<(i64, BBox, Assignment)>>,
    /// Tracks given to the flickers.
    flicker_ids: Vec<Option<TrackId>>,
    ends: Vec<TrackEnd>,
}

/// Frame times from the intervals, up to `until_ms`.
fn frame_times(intervals: &[i64], until_ms: i64) -> Vec<i64> {
    let mut t = 0;
    let mut out = vec![0];
    for dt in intervals.iter().cycle() {
        t += dt;
        if t > until_ms {
            break;
        }
        out.push(t);
    }
    out
}

/// Plays the traffic into a tracker. `flickers` are (frame index, box) one-frame false
/// detections; `hide` says whether vehicle `i` is hidden behind another at time `t`.
fn play(
    vehicles: &[Vehicle],
    times: &[i64],
    noise: Noise,
    flickers: &[(usize, BBox)],
    seed: u64,
    hide: impl Fn(usize, i64, &mut Rng) -> bool,
) -> Run {
    let mut rng = Rng(seed);
    let mut tracker = Tracker::new("cam", TrackerConfig::default());
    let mut per_vehicle = vec![Vec::new(); vehicles.len()];
    let mut flicker_ids = vec![None; flickers.len()];
    let mut seen = vec![0usize; vehicles.len()];
    let mut missed_last = vec![false; vehicles.len()];
    for (k, &t) in times.iter().enumerate() {
        let mut dets = Vec::new();
        let mut who = Vec::new();
        for (i, v) in vehicles.iter().enumerate() {
            if !v.visible(t) {
                continue;
            }
            let last = times.get(k + 1).is_none_or(|&next| !v.visible(next));
            let must = seen[i] < 2 || last || missed_last[i];
            if !must && (rng.chance(noise.miss) || hide(i, t, &mut rng)) {
                missed_last[i] = true;
                continue;
            }
            missed_last[i] = false;
            let truth = v.bbox(t);
            let j = noise.jitter;
            let (w, h) = (truth.width(), truth.height());
            let bbox = BBox {
                x1: truth.x1 + w * rng.f32(-j, j),
                y1: truth.y1 + h * rng.f32(-j, j),
                x2: truth.x2 + w * rng.f32(-j, j),
                y2: truth.y2 + h * rng.f32(-j, j),
            };
            let score = if seen[i] >= 2 && rng.chance(noise.weak) {
                rng.f32(0.2, 0.5)
            } else {
                rng.f32(0.5, 0.95)
            };
            seen[i] += 1;
            dets.push(Detection {
                bbox,
                class: v.class,
                score,
            });
            who.push(Some((i, truth)));
        }
        for (frame, bbox) in flickers {
            if *frame == k {
                dets.push(Detection {
                    bbox: *bbox,
                    class: VehicleClass::Car,
                    score: 0.9,
                });
                who.push(None);
            }
        }
        // The detector's output order carries no identity.
        let n = dets.len();
        for a in (1..n).rev() {
            let b = (rng.next() % (a as u64 + 1)) as usize;
            dets.swap(a, b);
            who.swap(a, b);
        }
        let assigned = tracker.push(t, FRAME, &dets);
        assert_eq!(assigned.len(), dets.len());
        for (w, a) in who.iter().zip(&assigned) {
            if let Some((i, truth)) = w {
                per_vehicle[*i].push((t, *truth, *a));
            }
        }
        for (f, (frame, bbox)) in flickers.iter().enumerate() {
            if *frame == k {
                let at = dets.iter().position(|d| d.bbox == *bbox).unwrap();
                flicker_ids[f] = assigned[at].track;
            }
        }
    }
    tracker.flush();
    let ends: Vec<TrackEnd> = std::iter::from_fn(|| tracker.pull()).collect();
    Run {
        per_vehicle,
        flicker_ids,
        ends,
    }
}

/// Checks that hold for every run: ids end once, each vehicle is one track start to end.
fn check_common(
    vehicles: &[Vehicle],
    run: &Run,
) -> Result<HashMap<TrackId, Sighting>, TestCaseError> {
    let mut ended = HashSet::new();
    let mut sightings = HashMap::new();
    for e in &run.ends {
        prop_assert!(ended.insert(e.track), "{} ended twice", e.track);
        if let Some(s) = &e.sighting {
            sightings.insert(e.track, s.clone());
        }
    }
    for dets in &run.per_vehicle {
        for (_, _, a) in dets {
            if let Some(id) = a.track {
                prop_assert!(ended.contains(&id), "{id} never ended");
            }
        }
    }
    for f in &run.flicker_ids {
        let id = f.expect("a high-score detection always gets a track");
        prop_assert!(!sightings.contains_key(&id), "flicker {id} made a sighting");
    }
    prop_assert_eq!(sightings.len(), vehicles.len(), "one sighting per vehicle");
    for (v, dets) in vehicles.iter().zip(&run.per_vehicle) {
        let id = dets[0].2.track.expect("its first detection starts a track");
        let s = sightings
            .get(&id)
            .ok_or_else(|| TestCaseError::fail(format!("no sighting for {v:?}")))?;
        prop_assert_eq!(s.first_seen_ms, dets[0].0);
        prop_assert_eq!(s.last_seen_ms, dets.last().unwrap().0);
        prop_assert_eq!(s.class, v.class);
        // The last detection flagged as the track's new best shot is the sighting's (it may be
        // the other vehicle's where two are indistinguishable).
        let last_best = run
            .per_vehicle
            .iter()
            .flatten()
            .filter(|d| d.2.track == Some(id) && d.2.best)
            .map(|d| d.0)
            .max();
        prop_assert_eq!(last_best, Some(s.pass_time_ms));
        // Twice the travel the tracker needs for a direction, between first and last seen.
        if v.travel(s.last_seen_ms - s.first_seen_ms) >= 1.0 {
            let got = s
                .direction_deg
                .ok_or_else(|| TestCaseError::fail("no direction"))?;
            let diff = (got - v.direction_deg() + 540.0).rem_euclid(360.0) - 180.0;
            prop_assert!(diff.abs() < 15.0, "direction {} for {:?}", got, v);
        }
    }
    Ok(sightings)
}

/// One vehicle per lane: (start ms, ms in view, where it enters as a share of the frame width,
/// width, height/width, speed in widths per second, to the right?, truck rather than car?).
type Lane = (i64, i64, f32, f32, f32, f32, bool, bool);

fn lane() -> impl Strategy<Value = Lane> {
    (
        0i64..3000,
        600i64..5000,
        0.0f32..1.0,
        60.0f32..120.0,
        0.6f32..0.8,
        0.2f32..3.0,
        any::<bool>(),
        any::<bool>(),
    )
}

/// Vehicles in separate lanes 150 px apart, and one-frame flickers, each (frame index, x shift),
/// in a lane of their own 300 px apart.
fn check_lanes(
    lanes: &[Lane],
    intervals: &[i64],
    flickers: &[(usize, f32)],
    noise: Noise,
    seed: u64,
) -> Result<(), TestCaseError> {
    let vehicles: Vec<Vehicle> = lanes
        .iter()
        .enumerate()
        .map(|(i, &(start, dur, at, w, ratio, speed, right, truck))| {
            let h = w * ratio;
            let drift = if speed > 1.0 { 0.04 } else { -0.03 };
            Vehicle {
                start_ms: start,
                end_ms: start + dur,
                cx: at * FRAME.0 as f32,
                cy: 80.0 + 150.0 * i as f32,
                w,
                h,
                vx: if right { speed * w } else { -speed * w },
                vy: drift * h,
                class: if truck {
                    VehicleClass::Truck
                } else {
                    VehicleClass::Car
                },
            }
        })
        .collect();
    let times = frame_times(intervals, 8000);
    let flickers: Vec<(usize, BBox)> = flickers
        .iter()
        .enumerate()
        .map(|(j, &(frame, dx))| {
            let x = 50.0 + 300.0 * j as f32 + 100.0 * dx;
            let bbox = BBox {
                x1: x,
                y1: 820.0,
                x2: x + 80.0,
                y2: 880.0,
            };
            (frame.min(times.len() - 1), bbox)
        })
        .collect();
    let run = play(&vehicles, &times, noise, &flickers, seed, |_, _, _| false);
    check_common(&vehicles, &run)?;
    // No identity switch: every detection of a vehicle that went to a track went to the same.
    for dets in &run.per_vehicle {
        let ids: HashSet<_> = dets.iter().filter_map(|d| d.2.track).collect();
        prop_assert_eq!(ids.len(), 1, "{:?}", dets);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (a) N vehicles in separate lanes → N sightings with the right first and last seen,
    /// class and (e) direction, whatever the noise; (c) one-frame flickers yield nothing.
    #[test]
    fn each_vehicle_is_one_sighting(
        lanes in prop::collection::vec(lane(), 1..=5),
        intervals in prop::collection::vec(80i64..=250, 1..40),
        flickers in prop::collection::vec((0usize..60, 0.0f32..1.0), 0..4),
        jitter in 0.0f32..0.03,
        miss in 0.0f32..0.25,
        weak in 0.0f32..0.2,
        seed in any::<u64>(),
    ) {
        check_lanes(&lanes, &intervals, &flickers, Noise { jitter, miss, weak }, seed)?;
    }
}

/// A track lost for a second must not capture a new vehicle in the next lane (found by
/// proptest when a lost track's gate could grow to a whole box size).
#[test]
fn lost_track_leaves_the_next_lane_alone() {
    let lanes = [
        (2076, 600, 0.0, 104.71341, 0.6, 2.4052064, true, false),
        (0, 911, 0.0, 119.61119, 0.7905017, 0.2, false, false),
    ];
    let quiet = Noise {
        jitter: 0.0,
        miss: 0.0,
        weak: 0.0,
    };
    if let Err(e) = check_lanes(&lanes, &[80], &[], quiet, 0) {
        panic!("{e}");
    }
}

/// Two vehicles meeting in the middle of the frame, `a` to the right and `b` to the left.
#[derive(Debug, Clone)]
struct Crossing {
    cross_ms: i64,
    /// Time in view before and after the crossing, of `a` and of `b`.
    before: (i64, i64),
    after: (i64, i64),
    widths: (f32, f32),
    /// Box widths per second.
    speeds: (f32, f32),
    /// Vertical offset of `b`, share of `a`'s height.
    dy: f32,
    intervals: Vec<i64>,
    noise: Noise,
    seed: u64,
}

fn check_crossing(c: &Crossing) -> Result<(), TestCaseError> {
    let Crossing {
        cross_ms,
        before,
        after,
        widths,
        speeds,
        dy,
        ..
    } = c.clone();
    let (cx, cy) = (640.0, 400.0);
    let make = |w: f32, speed: f32, sign: f32, y: f32, before: i64, after: i64| {
        let vx = sign * speed * w;
        let start = cross_ms - before;
        Vehicle {
            start_ms: start,
            end_ms: cross_ms + after,
            cx: cx - vx * before as f32 / 1000.0,
            cy: y,
            w,
            h: w * 0.7,
            vx,
            vy: 0.0,
            class: VehicleClass::Car,
        }
    };
    let a = make(widths.0, speeds.0, 1.0, cy, before.0, after.0);
    let b = make(
        widths.1,
        speeds.1,
        -1.0,
        cy + dy * widths.0 * 0.7,
        before.1,
        after.1,
    );
    let vehicles = vec![a, b];
    let times = frame_times(&c.intervals, 8000);
    let overlap = |t: i64| vehicles[0].bbox(t).iou(&vehicles[1].bbox(t));
    // The farther vehicle (b) is hidden half the time while the boxes overlap a lot.
    let hide = |i: usize, t: i64, rng: &mut Rng| i == 1 && overlap(t) > 0.3 && rng.chance(0.5);
    let run = play(&vehicles, &times, c.noise, &[], c.seed, hide);
    check_common(&vehicles, &run)?;
    // Where the two boxes are told apart (IoU < 0.5), each vehicle has one id of its own.
    let ids: Vec<HashSet<TrackId>> = run
        .per_vehicle
        .iter()
        .map(|dets| {
            dets.iter()
                .filter(|d| overlap(d.0) < 0.5)
                .filter_map(|d| d.2.track)
                .collect()
        })
        .collect();
    // Per vehicle: (time, track, IoU with the other vehicle) of each detection.
    let trace: Vec<Vec<(i64, Option<u64>, f32)>> = run
        .per_vehicle
        .iter()
        .map(|d| {
            d.iter()
                .map(|d| (d.0, d.2.track.map(|t| t.0), overlap(d.0)))
                .collect()
        })
        .collect();
    prop_assert_eq!(ids[0].len(), 1, "a switched: {:?} {:?}", ids, trace);
    prop_assert_eq!(ids[1].len(), 1, "b switched: {:?} {:?}", ids, trace);
    prop_assert!(ids[0] != ids[1]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (b) Two vehicles crossing, boxes overlapping (one may hide the other) keep their ids.
    #[test]
    fn crossing_vehicles_keep_their_identities(
        cross_ms in 1000i64..2500,
        before in (1000i64..2500, 1000i64..2500),
        after in (1000i64..2500, 1000i64..2500),
        widths in (60.0f32..120.0, 60.0f32..120.0),
        speeds in (0.5f32..3.0, 0.5f32..3.0),
        dy in 0.0f32..0.4,
        intervals in prop::collection::vec(80i64..=250, 1..40),
        jitter in 0.0f32..0.03,
        miss in 0.0f32..0.15,
        weak in 0.0f32..0.2,
        seed in any::<u64>(),
    ) {
        let noise = Noise { jitter, miss, weak };
        check_crossing(&Crossing { cross_ms, before, after, widths, speeds, dy, intervals, noise, seed })?;
    }
}

/// Crossings proptest once broke, kept as plain tests. The first: `a` reappears with a low
/// score next to `b` after a miss; a low-score stage that ignores lost tracks gives it to `b`.
#[test]
fn crossing_regressions() {
    let cases = [Crossing {
        cross_ms: 1308,
        before: (1000, 1308),
        after: (1000, 1000),
        widths: (60.0, 88.14971),
        speeds: (0.5, 1.4555627),
        dy: 0.0,
        intervals: vec![85, 154],
        noise: Noise {
            jitter: 0.0,
            miss: 0.1353789,
            weak: 0.051170457,
        },
        seed: 2322709251353050202,
    }];
    for c in &cases {
        if let Err(e) = check_crossing(c) {
            panic!("{c:?}: {e}");
        }
    }
}
