//! Xueliang tracker: detections of one camera over time in, one sighting per vehicle out.
//!
//! Sans-IO: `tracker.push(t_ms, &detections)` then `while let Some(s) = tracker.pull() {…}`;
//! no clock, no threads, so it is tested with synthetic tracks. This is the walking-skeleton
//! tracker: greedy IoU association within a vehicle class family, a track ends when unseen for
//! `lost_after_ms` or when it has lasted `max_duration_ms` (a parked car still yields periodic
//! sightings). A track seen in fewer than `min_hits` frames is a flicker and yields nothing.
//! The best shot is the detection with the largest `area × score`.
//!
//! Performance: O(tracks × detections) per frame, which is tiny at a few dozen vehicles.

use std::collections::VecDeque;

use base::{BBox, Detection, Sighting, VehicleClass};

/// Tracker settings; see the crate docs for their meaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    pub iou_match: f32,
    pub lost_after_ms: i64,
    pub max_duration_ms: i64,
    pub min_hits: u32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            iou_match: 0.3,
            lost_after_ms: 1500,
            max_duration_ms: 60_000,
            min_hits: 2,
        }
    }
}

#[derive(Debug, Clone)]
struct Track {
    bbox: BBox,
    first_ms: i64,
    last_ms: i64,
    hits: u32,
    /// Votes per class, weighted by score.
    class_votes: Vec<(VehicleClass, f32)>,
    best: Detection,
    best_ms: i64,
    best_quality: f32,
}

impl Track {
    fn new(t_ms: i64, d: &Detection) -> Self {
        Track {
            bbox: d.bbox,
            first_ms: t_ms,
            last_ms: t_ms,
            hits: 1,
            class_votes: vec![(d.class, d.score)],
            best: *d,
            best_ms: t_ms,
            best_quality: quality(d),
        }
    }

    fn update(&mut self, t_ms: i64, d: &Detection) {
        self.bbox = d.bbox;
        self.last_ms = t_ms;
        self.hits += 1;
        match self.class_votes.iter_mut().find(|(c, _)| *c == d.class) {
            Some((_, w)) => *w += d.score,
            None => self.class_votes.push((d.class, d.score)),
        }
        let q = quality(d);
        if q > self.best_quality {
            self.best = *d;
            self.best_ms = t_ms;
            self.best_quality = q;
        }
    }

    fn class(&self) -> (VehicleClass, f32) {
        let total: f32 = self.class_votes.iter().map(|(_, w)| w).sum();
        let (class, w) =
            self.class_votes
                .iter()
                .copied()
                .fold(
                    (VehicleClass::Unknown, 0.0),
                    |a, b| if b.1 > a.1 { b } else { a },
                );
        (class, if total > 0.0 { w / total } else { 0.0 })
    }
}

fn quality(d: &Detection) -> f32 {
    d.bbox.area() * d.score
}

/// Detector classes that one physical vehicle may flip between from frame to frame.
fn family(c: VehicleClass) -> u8 {
    match c {
        VehicleClass::Bicycle | VehicleClass::Motorcycle => 1,
        _ => 0,
    }
}

/// A multi-object tracker for one camera.
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    camera: String,
    frame_size: (u32, u32),
    tracks: Vec<Track>,
    out: VecDeque<Sighting>,
}

impl Tracker {
    pub fn new(camera: impl Into<String>, cfg: TrackerConfig) -> Self {
        Tracker {
            cfg,
            camera: camera.into(),
            frame_size: (0, 0),
            tracks: Vec::new(),
            out: VecDeque::new(),
        }
    }

    /// Number of vehicles currently followed.
    pub fn active(&self) -> usize {
        self.tracks.len()
    }

    /// Feeds the detections of one analysed frame taken at `t_ms` of size `frame_size`.
    pub fn push(&mut self, t_ms: i64, frame_size: (u32, u32), dets: &[Detection]) {
        self.frame_size = frame_size;
        // Greedy association: best IoU pairs first.
        let mut pairs = Vec::new();
        for (ti, t) in self.tracks.iter().enumerate() {
            for (di, d) in dets.iter().enumerate() {
                if family(t.best.class) != family(d.class) {
                    continue;
                }
                let iou = t.bbox.iou(&d.bbox);
                if iou >= self.cfg.iou_match {
                    pairs.push((iou, ti, di));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_used = vec![false; self.tracks.len()];
        let mut det_used = vec![false; dets.len()];
        for (_, ti, di) in pairs {
            if track_used[ti] || det_used[di] {
                continue;
            }
            track_used[ti] = true;
            det_used[di] = true;
            self.tracks[ti].update(t_ms, &dets[di]);
        }
        for (di, d) in dets.iter().enumerate() {
            if !det_used[di] {
                self.tracks.push(Track::new(t_ms, d));
            }
        }
        self.expire(t_ms);
    }

    /// Ends tracks that are lost or too long as of `t_ms` (call when no frame arrives).
    pub fn expire(&mut self, t_ms: i64) {
        let cfg = self.cfg;
        let mut i = 0;
        while i < self.tracks.len() {
            let t = &self.tracks[i];
            let lost = t_ms - t.last_ms > cfg.lost_after_ms;
            let too_long = t.last_ms - t.first_ms >= cfg.max_duration_ms;
            if lost || too_long {
                let t = self.tracks.swap_remove(i);
                self.emit(t);
            } else {
                i += 1;
            }
        }
    }

    /// Ends every track now (camera stopped or shutting down).
    pub fn flush(&mut self) {
        for t in std::mem::take(&mut self.tracks) {
            self.emit(t);
        }
    }

    /// Next finished sighting, if any.
    pub fn pull(&mut self) -> Option<Sighting> {
        self.out.pop_front()
    }

    fn emit(&mut self, t: Track) {
        if t.hits < self.cfg.min_hits {
            return;
        }
        let (class, share) = t.class();
        self.out.push_back(Sighting {
            camera: self.camera.clone(),
            device_id: self.camera.clone(),
            pass_time_ms: t.best_ms,
            first_seen_ms: t.first_ms,
            last_seen_ms: t.last_ms,
            class,
            class_confidence: t.best.score * share,
            bbox: t.best.bbox,
            frame_width: self.frame_size.0,
            frame_height: self.frame_size.1,
            frames: t.hits,
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, class: VehicleClass) -> Detection {
        Detection {
            bbox: BBox {
                x1: x,
                y1: y,
                x2: x + 40.0,
                y2: y + 30.0,
            },
            class,
            score: 0.8,
        }
    }

    fn drain(t: &mut Tracker) -> Vec<Sighting> {
        std::iter::from_fn(|| t.pull()).collect()
    }

    #[test]
    fn one_vehicle_moving_is_one_sighting() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        for i in 0..20 {
            t.push(
                i * 100,
                (640, 480),
                &[det(i as f32 * 5.0, 100.0, VehicleClass::Car)],
            );
        }
        assert!(drain(&mut t).is_empty(), "still visible");
        t.expire(1900 + 1501);
        let s = drain(&mut t);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].frames, 20);
        assert_eq!((s[0].first_seen_ms, s[0].last_seen_ms), (0, 1900));
        assert_eq!(s[0].class, VehicleClass::Car);
        assert_eq!(s[0].camera, "cam");
    }

    #[test]
    fn two_vehicles_apart_are_two_sightings_and_flicker_is_none() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        for i in 0..5 {
            let mut dets = vec![
                det(10.0 + i as f32, 10.0, VehicleClass::Car),
                det(300.0 - i as f32, 200.0, VehicleClass::Truck),
            ];
            if i == 2 {
                dets.push(det(500.0, 400.0, VehicleClass::Bus)); // a one-frame flicker
            }
            t.push(i * 100, (640, 480), &dets);
        }
        t.flush();
        let mut classes: Vec<_> = drain(&mut t).iter().map(|s| s.class).collect();
        classes.sort();
        assert_eq!(classes, [VehicleClass::Car, VehicleClass::Truck]);
    }

    #[test]
    fn class_is_the_weighted_vote() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        t.push(0, (640, 480), &[det(0.0, 0.0, VehicleClass::Truck)]);
        for i in 1..4 {
            t.push(i * 100, (640, 480), &[det(0.0, 0.0, VehicleClass::Car)]);
        }
        t.flush();
        let s = drain(&mut t);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].class, VehicleClass::Car);
        assert!(s[0].class_confidence < 0.8);
    }

    #[test]
    fn long_track_is_cut_at_max_duration() {
        let cfg = TrackerConfig {
            max_duration_ms: 1000,
            ..Default::default()
        };
        let mut t = Tracker::new("cam", cfg);
        for i in 0..25 {
            t.push(i * 100, (640, 480), &[det(0.0, 0.0, VehicleClass::Car)]);
        }
        assert_eq!(drain(&mut t).len(), 2);
    }
}
