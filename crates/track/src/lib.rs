//! Xueliang tracker: detections of one camera over time in, one sighting per vehicle out.
//!
//! Sans-IO: `tracker.push(t_ms, frame_size, &detections)` for every analysed frame, then
//! `while let Some(end) = tracker.pull() {…}`; no clock, no threads, so it is tested with
//! synthetic traffic. It is a ByteTrack-style multi-object tracker:
//!
//! 1. every track's constant-velocity Kalman filter (`motion.rs`) predicts its box at the
//!    frame's timestamp (frames arrive at irregular times: analysis drops frames under load);
//! 2. high-score detections are matched to confirmed tracks, lost ones included, by an optimal
//!    assignment (`assign.rs`) on IoU against the predicted boxes; for a new or lost track both
//!    boxes are buffered by its position uncertainty, so a vehicle hidden behind another is
//!    found again where it should be, not where it was;
//! 3. low-score detections (a vehicle half hidden or blurred) continue the confirmed tracks
//!    still unmatched, under a stricter IoU gate. Unlike ByteTrack, lost tracks take part: when
//!    a vehicle reappears weakly next to another, the lost track's prediction must be allowed to
//!    claim it, or the other vehicle's track takes it;
//! 4. remaining high-score detections continue tentative tracks, then start new ones.
//!
//! Detections are only matched within a class family (a bus never continues a motorcycle). A
//! new track is tentative until matched in `min_hits` consecutive analysed frames; one missed
//! before that was a flicker and ends without a sighting. A confirmed track ends when unseen for
//! `lost_after_ms`; one seen for `max_duration_ms` yields its sighting and goes on under a new
//! id, so a parked car still yields periodic sightings.
//!
//! Invariants the caller relies on: track ids are unique per tracker, never reused, and
//! increasing; every id that [`Tracker::push`] hands out (or [`Tracker::active_ids`] lists) ends
//! exactly once in a [`TrackEnd`] from [`Tracker::pull`] (after [`Tracker::flush`] at the
//! latest), with at most one sighting. So the
//! caller keeps whatever it computes per track (best-shot crop, plate reads to vote on) in a
//! `HashMap<TrackId, _>` and removes the entry when the track ends.
//!
//! Best shot: each detection's quality is `area × score × sharpness × edge`, where `sharpness`
//! is the caller's image-quality factor (the tracker never sees pixels; 1 when not given) and
//! `edge` is 0.25 for a box touching the frame border (truncated), else 1. [`Assignment::best`]
//! tells the caller at once that a detection became its track's best shot, so it can crop the
//! frame it still holds, and read the plate, only then.
//!
//! Tested by unit tests here and in each module, and by property tests over synthetic traffic
//! (`tests/traffic.rs`): N vehicles → N sightings, crossing vehicles keep their ids, flickers
//! yield nothing. Performance: O(tracks × detections) IoU plus an O(n²·m) assignment per frame,
//! microseconds at a few dozen vehicles.

mod assign;
mod motion;

use std::collections::VecDeque;

use base::{BBox, Detection, Sighting, VehicleClass};

use motion::{Motion, Travel};

/// Most an association gate grows, as a share of the predicted box size. Both boxes grow, so a
/// lost track bridges a gap of at most half its size: enough for a fresh track whose velocity
/// is unknown, too little to capture a vehicle in the next lane.
const MAX_BUFFER: f32 = 0.25;

/// Best-shot quality factor of a box truncated by the frame border.
const TRUNCATED: f32 = 0.25;

/// Tracker settings, ready to be a `[tracker]` table of a node config.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Detections scoring at least this start tracks and are matched first. Default 0.5.
    pub high_score: f32,
    /// Detections scoring below `high_score` but at least this only continue confirmed tracks;
    /// lower ones are ignored. Default 0.1 (the detector's own threshold usually cuts first).
    pub low_score: f32,
    /// Minimum buffered IoU of a high-score detection with a track's predicted box. Default 0.2.
    pub iou_match: f32,
    /// Minimum buffered IoU of a low-score detection with a track's predicted box. Default 0.4.
    pub low_iou_match: f32,
    /// Consecutive analysed frames a new track must be matched in to be a vehicle rather than a
    /// flicker. Default 2.
    pub min_hits: u32,
    /// A track unseen for longer than this ends. Default 1500.
    pub lost_after_ms: i64,
    /// A track seen for this long yields its sighting and goes on under a new id. Default 60000.
    pub max_duration_ms: i64,
    /// Acceleration noise of the motion model, in box sizes per s²: higher follows braking and
    /// turning vehicles better, lower holds identities through crossings better. Default 1.0.
    pub accel_noise: f32,
    /// Growth of the association gate of a new or lost track with its position uncertainty, in
    /// standard deviations (at most a quarter of the box size). Default 2.0.
    pub gate_sigmas: f32,
    /// A box closer than this share of the frame size to the border counts as truncated for the
    /// best shot. Default 0.005.
    pub edge_margin: f32,
    /// Minimum travel, in box sizes, for a sighting to get a direction. Default 0.5.
    pub min_travel: f32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            high_score: 0.5,
            low_score: 0.1,
            iou_match: 0.2,
            low_iou_match: 0.4,
            min_hits: 2,
            lost_after_ms: 1500,
            max_duration_ms: 60_000,
            accel_noise: 1.0,
            gate_sigmas: 2.0,
            edge_margin: 0.005,
            min_travel: 0.5,
        }
    }
}

/// Identity of a track within one tracker: unique, never reused, increasing from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(pub u64);

impl std::fmt::Display for TrackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "track {}", self.0)
    }
}

/// What became of one detection passed to [`Tracker::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Assignment {
    /// The track the detection belongs to; `None` for a low-score detection that continued no
    /// track.
    pub track: Option<TrackId>,
    /// The detection is its track's best shot so far: crop it (and read its plate) now.
    pub best: bool,
    /// The track has been matched in `min_hits` frames, so it will yield a sighting.
    pub confirmed: bool,
}

/// A track that ended, with its sighting unless it was a flicker.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackEnd {
    pub track: TrackId,
    pub sighting: Option<Sighting>,
}

/// Detector classes that one physical vehicle may flip between from frame to frame.
fn family(c: VehicleClass) -> u8 {
    match c {
        VehicleClass::Bicycle | VehicleClass::Motorcycle => 1,
        _ => 0,
    }
}

#[derive(Debug, Clone)]
struct Best {
    det: Detection,
    t_ms: i64,
    quality: f32,
}

/// What one sighting is made of: a track from its start, or from its last cut.
#[derive(Debug, Clone, Default)]
struct Segment {
    hits: u32,
    first_ms: i64,
    last_ms: i64,
    /// Votes per class, weighted by score.
    class_votes: Vec<(VehicleClass, f32)>,
    best: Option<Best>,
    travel: Travel,
}

impl Segment {
    /// Adds a detection; true when it is the new best shot.
    fn add(&mut self, t_ms: i64, d: &Detection, quality: f32) -> bool {
        if self.hits == 0 {
            self.first_ms = t_ms;
        }
        self.hits += 1;
        self.last_ms = t_ms;
        match self.class_votes.iter_mut().find(|(c, _)| *c == d.class) {
            Some((_, w)) => *w += d.score,
            None => self.class_votes.push((d.class, d.score)),
        }
        self.travel.add(t_ms, &d.bbox);
        let better = self.best.as_ref().is_none_or(|b| quality > b.quality);
        if better {
            self.best = Some(Best {
                det: *d,
                t_ms,
                quality,
            });
        }
        better
    }

    fn class(&self) -> (VehicleClass, f32) {
        let total: f32 = self.class_votes.iter().map(|(_, w)| w).sum();
        let (class, w) =
            self.class_votes
                .iter()
                .copied()
                .fold(
                    (VehicleClass::Unknown, 0.0),
                    |a, b| {
                        if b.1 > a.1 {
                            b
                        } else {
                            a
                        }
                    },
                );
        (class, if total > 0.0 { w / total } else { 0.0 })
    }
}

#[derive(Debug, Clone)]
struct Track {
    id: TrackId,
    family: u8,
    motion: Motion,
    confirmed: bool,
    /// Matched in the latest frame (ByteTrack's "tracked", as opposed to "lost").
    tracked: bool,
    seen_ms: i64,
    seg: Segment,
}

/// A track's predicted box and association margins for the current frame.
struct Gate {
    bbox: BBox,
    bx: f32,
    by: f32,
    family: u8,
}

/// A multi-object tracker for one camera.
#[derive(Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    camera: String,
    frame_size: (u32, u32),
    tracks: Vec<Track>,
    next_id: u64,
    out: VecDeque<TrackEnd>,
}

impl Tracker {
    pub fn new(camera: impl Into<String>, cfg: TrackerConfig) -> Self {
        Tracker {
            cfg,
            camera: camera.into(),
            frame_size: (0, 0),
            tracks: Vec::new(),
            next_id: 1,
            out: VecDeque::new(),
        }
    }

    /// Number of tracks currently followed, tentative and lost ones included.
    pub fn active(&self) -> usize {
        self.tracks.len()
    }

    /// Ids of the tracks currently followed, tentative and lost ones included.
    pub fn active_ids(&self) -> impl Iterator<Item = TrackId> + '_ {
        self.tracks.iter().map(|t| t.id)
    }

    /// Feeds the detections of one analysed frame taken at `t_ms` of size `frame_size`;
    /// returns one [`Assignment`] per detection, in order.
    pub fn push(
        &mut self,
        t_ms: i64,
        frame_size: (u32, u32),
        dets: &[Detection],
    ) -> Vec<Assignment> {
        self.push_with_sharpness(t_ms, frame_size, dets, &[])
    }

    /// [`Tracker::push`] with the caller's image-quality factor for each detection
    /// (`sharpness[i]` for `dets[i]`, ≥ 0, e.g. the variance of the Laplacian of the box's luma,
    /// on any scale that is the same for the whole camera). Missing or non-finite factors are 1.
    pub fn push_with_sharpness(
        &mut self,
        t_ms: i64,
        frame_size: (u32, u32),
        dets: &[Detection],
        sharpness: &[f32],
    ) -> Vec<Assignment> {
        let cfg = self.cfg;
        self.frame_size = frame_size;
        self.expire(t_ms);
        let gates: Vec<Gate> = self
            .tracks
            .iter_mut()
            .map(|tr| {
                tr.motion.predict(t_ms);
                let bbox = tr.motion.bbox();
                // A steady track is gated by plain IoU, as in ByteTrack; a new or lost one, whose
                // position is uncertain, by IoU buffered by that uncertainty.
                let (sx, sy) = if tr.confirmed && tr.tracked {
                    (0.0, 0.0)
                } else {
                    tr.motion.centre_std()
                };
                Gate {
                    bx: (cfg.gate_sigmas * sx).min(MAX_BUFFER * bbox.width()),
                    by: (cfg.gate_sigmas * sy).min(MAX_BUFFER * bbox.height()),
                    bbox,
                    family: tr.family,
                }
            })
            .collect();
        let high: Vec<usize> = (0..dets.len())
            .filter(|&i| dets[i].score >= cfg.high_score)
            .collect();
        let low: Vec<usize> = (0..dets.len())
            .filter(|&i| dets[i].score >= cfg.low_score && dets[i].score < cfg.high_score)
            .collect();
        let mut matched: Vec<Option<usize>> = vec![None; self.tracks.len()];
        let mut taken = vec![false; dets.len()];
        let by_state = |want: fn(&Track) -> bool| -> Vec<usize> {
            (0..self.tracks.len())
                .filter(|&i| want(&self.tracks[i]))
                .collect()
        };
        let confirmed = by_state(|t| t.confirmed);
        let tentative = by_state(|t| !t.confirmed);
        let stages = [
            (&confirmed, &high, cfg.iou_match),
            (&confirmed, &low, cfg.low_iou_match),
            (&tentative, &high, cfg.iou_match),
        ];
        for (pool, cands, min_iou) in stages {
            associate(&gates, pool, dets, cands, min_iou, &mut matched, &mut taken);
        }

        let mut out = vec![Assignment::default(); dets.len()];
        for (ti, di) in matched.iter().enumerate() {
            let tr = &mut self.tracks[ti];
            tr.tracked = di.is_some();
            let Some(di) = *di else { continue };
            let q = self.quality(&dets[di], sharpness.get(di).copied());
            let tr = &mut self.tracks[ti];
            tr.motion.update(&dets[di].bbox);
            tr.seen_ms = t_ms;
            let best = tr.seg.add(t_ms, &dets[di], q);
            tr.confirmed |= tr.seg.hits >= cfg.min_hits;
            out[di] = Assignment {
                track: Some(tr.id),
                best,
                confirmed: tr.confirmed,
            };
        }
        // A tentative track missed once was a flicker (ByteTrack): it must not linger and
        // capture a vehicle that appears next to it later.
        let (flickers, kept) = std::mem::take(&mut self.tracks)
            .into_iter()
            .partition(|t| !t.confirmed && !t.tracked);
        self.tracks = kept;
        for t in flickers {
            self.end(t);
        }
        for &di in &high {
            if taken[di] {
                continue;
            }
            let d = &dets[di];
            let q = self.quality(d, sharpness.get(di).copied());
            let mut tr = Track {
                id: self.next_id(),
                family: family(d.class),
                motion: Motion::new(t_ms, &d.bbox, cfg.accel_noise),
                confirmed: cfg.min_hits <= 1,
                tracked: true,
                seen_ms: t_ms,
                seg: Segment::default(),
            };
            tr.seg.add(t_ms, d, q);
            out[di] = Assignment {
                track: Some(tr.id),
                best: true,
                confirmed: tr.confirmed,
            };
            self.tracks.push(tr);
        }
        self.cut_long_tracks();
        out
    }

    /// Ends tracks unseen for longer than `lost_after_ms` as of `t_ms` (call when no frame
    /// arrives).
    pub fn expire(&mut self, t_ms: i64) {
        let lost_after = self.cfg.lost_after_ms;
        let (gone, kept) = std::mem::take(&mut self.tracks)
            .into_iter()
            .partition(|t| t_ms - t.seen_ms > lost_after);
        self.tracks = kept;
        for t in gone {
            self.end(t);
        }
    }

    /// Ends every track now (camera stopped or shutting down).
    pub fn flush(&mut self) {
        for t in std::mem::take(&mut self.tracks) {
            self.end(t);
        }
    }

    /// Next ended track, if any.
    pub fn pull(&mut self) -> Option<TrackEnd> {
        self.out.pop_front()
    }

    fn next_id(&mut self) -> TrackId {
        let id = TrackId(self.next_id);
        self.next_id += 1;
        id
    }

    fn quality(&self, d: &Detection, sharpness: Option<f32>) -> f32 {
        let sharpness = sharpness.filter(|s| s.is_finite()).unwrap_or(1.0).max(0.0);
        let (w, h) = (self.frame_size.0 as f32, self.frame_size.1 as f32);
        let (mx, my) = (w * self.cfg.edge_margin, h * self.cfg.edge_margin);
        let b = &d.bbox;
        let truncated =
            w > 0.0 && h > 0.0 && (b.x1 <= mx || b.y1 <= my || b.x2 >= w - mx || b.y2 >= h - my);
        let edge = if truncated { TRUNCATED } else { 1.0 };
        b.area() * d.score.max(0.0) * sharpness * edge
    }

    /// Tracks seen for `max_duration_ms` yield their sighting and go on under a new id.
    fn cut_long_tracks(&mut self) {
        for i in 0..self.tracks.len() {
            let seg = &self.tracks[i].seg;
            if seg.hits > 0 && seg.last_ms - seg.first_ms >= self.cfg.max_duration_ms {
                let id = self.next_id();
                let tr = &mut self.tracks[i];
                let ended = Track {
                    id: std::mem::replace(&mut tr.id, id),
                    seg: std::mem::take(&mut tr.seg),
                    ..tr.clone()
                };
                self.end(ended);
            }
        }
    }

    fn end(&mut self, t: Track) {
        let sighting = (t.confirmed && t.seg.hits > 0)
            .then(|| self.sighting(&t.seg))
            .flatten();
        self.out.push_back(TrackEnd {
            track: t.id,
            sighting,
        });
    }

    fn sighting(&self, seg: &Segment) -> Option<Sighting> {
        let best = seg.best.as_ref()?;
        let (class, share) = seg.class();
        Some(Sighting {
            camera: self.camera.clone(),
            device_id: self.camera.clone(),
            pass_time_ms: best.t_ms,
            first_seen_ms: seg.first_ms,
            last_seen_ms: seg.last_ms,
            class,
            class_confidence: best.det.score * share,
            bbox: best.det.bbox,
            frame_width: self.frame_size.0,
            frame_height: self.frame_size.1,
            frames: seg.hits,
            direction_deg: seg
                .travel
                .direction_deg(seg.last_ms - seg.first_ms, self.cfg.min_travel),
            ..Default::default()
        })
    }
}

/// Matches the still unmatched tracks of `pool` with the still untaken detections of `cands`.
fn associate(
    gates: &[Gate],
    pool: &[usize],
    dets: &[Detection],
    cands: &[usize],
    min_iou: f32,
    matched: &mut [Option<usize>],
    taken: &mut [bool],
) {
    let rows: Vec<usize> = pool
        .iter()
        .copied()
        .filter(|&t| matched[t].is_none())
        .collect();
    let cols: Vec<usize> = cands.iter().copied().filter(|&d| !taken[d]).collect();
    let mut iou = Vec::with_capacity(rows.len() * cols.len());
    for &t in &rows {
        let g = &gates[t];
        for &d in &cols {
            iou.push(if g.family == family(dets[d].class) {
                assign::buffered_iou(&g.bbox, &dets[d].bbox, g.bx, g.by)
            } else {
                0.0
            });
        }
    }
    for (r, c) in assign::match_iou(&iou, rows.len(), cols.len(), min_iou) {
        matched[rows[r]] = Some(cols[c]);
        taken[cols[c]] = true;
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

    fn drain(t: &mut Tracker) -> Vec<TrackEnd> {
        std::iter::from_fn(|| t.pull()).collect()
    }

    fn sightings(t: &mut Tracker) -> Vec<Sighting> {
        drain(t).into_iter().filter_map(|e| e.sighting).collect()
    }

    #[test]
    fn one_vehicle_moving_is_one_sighting() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        let mut ids = Vec::new();
        for i in 0..20 {
            let a = t.push(
                i * 100,
                (640, 480),
                &[det(100.0 + i as f32 * 5.0, 100.0, VehicleClass::Car)],
            );
            ids.push(a[0].track.unwrap());
            assert_eq!(a[0].confirmed, i >= 1);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1);
        assert_eq!(t.active_ids().collect::<Vec<_>>(), ids);
        assert!(drain(&mut t).is_empty(), "still visible");
        t.expire(1900 + 1501);
        let ends = drain(&mut t);
        assert_eq!(ends.len(), 1);
        assert_eq!(ends[0].track, ids[0]);
        let s = ends[0].sighting.as_ref().unwrap();
        assert_eq!(s.frames, 20);
        assert_eq!((s.first_seen_ms, s.last_seen_ms), (0, 1900));
        assert_eq!(s.class, VehicleClass::Car);
        assert_eq!(s.camera, "cam");
        assert_eq!(s.direction_name(), Some("right"));
        assert_eq!(t.active(), 0);
    }

    #[test]
    fn two_vehicles_apart_are_two_sightings_and_flicker_is_none() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        let mut flicker = None;
        for i in 0..5 {
            let mut dets = vec![
                det(10.0 + i as f32, 10.0, VehicleClass::Car),
                det(300.0 - i as f32, 200.0, VehicleClass::Truck),
            ];
            if i == 2 {
                dets.push(det(500.0, 400.0, VehicleClass::Bus)); // a one-frame flicker
            }
            let a = t.push(i * 100, (640, 480), &dets);
            if i == 2 {
                flicker = a[2].track;
                assert!(!a[2].confirmed);
            }
        }
        t.flush();
        let ends = drain(&mut t);
        assert_eq!(ends.len(), 3, "every id ends once, the flicker too");
        let f = ends.iter().find(|e| Some(e.track) == flicker).unwrap();
        assert_eq!(f.sighting, None);
        let mut classes: Vec<_> = ends
            .iter()
            .filter_map(|e| e.sighting.as_ref().map(|s| s.class))
            .collect();
        classes.sort();
        assert_eq!(classes, [VehicleClass::Car, VehicleClass::Truck]);
    }

    #[test]
    fn class_is_the_weighted_vote_within_a_family() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        t.push(0, (640, 480), &[det(100.0, 100.0, VehicleClass::Truck)]);
        for i in 1..4 {
            let a = t.push(i * 100, (640, 480), &[det(100.0, 100.0, VehicleClass::Car)]);
            assert_eq!(a[0].track, Some(TrackId(1)));
        }
        // Same place, other family: a new track, not a continuation.
        let a = t.push(
            400,
            (640, 480),
            &[det(100.0, 100.0, VehicleClass::Motorcycle)],
        );
        assert_eq!(a[0].track, Some(TrackId(2)));
        t.flush();
        let s = sightings(&mut t);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].class, VehicleClass::Car);
        assert!(s[0].class_confidence < 0.8);
        assert_eq!(s[0].direction_deg, None, "it did not move");
    }

    #[test]
    fn parked_car_yields_a_sighting_per_period_under_new_ids() {
        let cfg = TrackerConfig {
            max_duration_ms: 1000,
            ..Default::default()
        };
        let mut t = Tracker::new("cam", cfg);
        let mut ids = Vec::new();
        for i in 0..25 {
            let a = t.push(i * 100, (640, 480), &[det(100.0, 100.0, VehicleClass::Car)]);
            ids.push(a[0].track.unwrap());
            assert!(
                i == 0 || a[0].confirmed,
                "a continued track stays confirmed"
            );
        }
        let ends = drain(&mut t);
        assert_eq!(ends.len(), 2);
        ids.dedup();
        assert_eq!(ids.len(), 3);
        for (e, id) in ends.iter().zip(&ids) {
            assert_eq!(e.track, *id);
            let s = e.sighting.as_ref().unwrap();
            assert!(s.last_seen_ms - s.first_seen_ms >= 1000);
            assert_eq!(s.direction_deg, None);
        }
        assert_eq!(ends[1].sighting.as_ref().unwrap().first_seen_ms, 1100);
        t.flush();
        let last = drain(&mut t);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].track, ids[2]);
        assert_eq!(last[0].sighting.as_ref().unwrap().frames, 3);
    }

    #[test]
    fn low_score_continues_a_track_but_never_starts_one() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        let weak = |x: f32| Detection {
            score: 0.3,
            ..det(x, 100.0, VehicleClass::Car)
        };
        assert_eq!(t.push(0, (640, 480), &[weak(100.0)])[0].track, None);
        t.push(100, (640, 480), &[det(100.0, 100.0, VehicleClass::Car)]);
        t.push(200, (640, 480), &[det(104.0, 100.0, VehicleClass::Car)]);
        let a = t.push(300, (640, 480), &[weak(108.0)]);
        assert_eq!(a[0].track, Some(TrackId(1)));
        assert!(!a[0].best, "the weak detection is the worse shot");
        t.flush();
        let s = sightings(&mut t);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].first_seen_ms, s[0].last_seen_ms, s[0].frames),
            (100, 300, 3)
        );
    }

    #[test]
    fn vehicle_hidden_for_a_second_keeps_its_id() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        // 200 px/s to the right, hidden from 1 s to 2 s.
        let at = |ms: i64| det(50.0 + ms as f32 * 0.2, 200.0, VehicleClass::Car);
        for ms in (0..3000)
            .step_by(200)
            .filter(|ms| !(1000..2000).contains(ms))
        {
            let a = t.push(ms, (1280, 720), &[at(ms)]);
            assert_eq!(a[0].track, Some(TrackId(1)), "at {ms} ms");
        }
        t.flush();
        assert_eq!(sightings(&mut t).len(), 1);
    }

    #[test]
    fn car_stopping_where_another_vanished_does_not_take_its_id() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        // 200 px/s to the right, last seen at 0.8 s, hidden until 2 s; meanwhile another car
        // stands from 1.2 s right where the first one was last seen. Matching against the last
        // box rather than the predicted one would hand the first car's id to the second.
        let at = |ms: i64| det(50.0 + ms as f32 * 0.2, 200.0, VehicleClass::Car);
        let parked = at(800);
        for ms in (0..3000).step_by(200) {
            let mut dets = Vec::new();
            if !(1000..2000).contains(&ms) {
                dets.push(at(ms));
            }
            if ms >= 1200 {
                dets.push(parked);
            }
            let a = t.push(ms, (1280, 720), &dets);
            if !(1000..2000).contains(&ms) {
                assert_eq!(a[0].track, Some(TrackId(1)), "at {ms} ms");
            }
            if ms >= 1200 {
                assert_eq!(a.last().unwrap().track, Some(TrackId(2)), "at {ms} ms");
            }
        }
        t.flush();
        let s = sightings(&mut t);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].direction_name(), Some("right"));
        assert_eq!(s[1].direction_deg, None);
    }

    #[test]
    fn best_shot_weighs_sharpness_and_truncation() {
        let mut t = Tracker::new("cam", TrackerConfig::default());
        let big = |x: f32, y: f32, w: f32| Detection {
            bbox: BBox {
                x1: x,
                y1: y,
                x2: x + w,
                y2: y + w * 0.75,
            },
            class: VehicleClass::Car,
            score: 0.9,
        };
        // Frame 0: entering, cut by the left border; frame 1: inside but blurred;
        // frame 2: inside and sharp; frame 3: bigger but blurred again.
        let frames = [
            (big(0.0, 200.0, 100.0), 1.0),
            (big(20.0, 200.0, 100.0), 0.1),
            (big(40.0, 200.0, 100.0), 1.0),
            (big(60.0, 200.0, 110.0), 0.2),
        ];
        let mut flags = Vec::new();
        for (i, (d, sharp)) in frames.iter().enumerate() {
            let a = t.push_with_sharpness(i as i64 * 100, (640, 480), &[*d], &[*sharp]);
            flags.push(a[0].best);
        }
        assert_eq!(flags, [true, false, true, false]);
        t.flush();
        let s = sightings(&mut t);
        assert_eq!(s[0].bbox, frames[2].0.bbox);
        assert_eq!(s[0].pass_time_ms, 200);
        // Without a sharpness factor the biggest box wins.
        let mut t = Tracker::new("cam", TrackerConfig::default());
        for (i, (d, _)) in frames.iter().enumerate() {
            t.push(i as i64 * 100, (640, 480), &[*d]);
        }
        t.flush();
        assert_eq!(sightings(&mut t)[0].bbox, frames[3].0.bbox);
    }

    #[test]
    fn config_is_a_partial_table_with_defaults() {
        let c: TrackerConfig = serde_json::from_str(r#"{"min_hits": 3}"#).unwrap();
        assert_eq!(
            c,
            TrackerConfig {
                min_hits: 3,
                ..Default::default()
            }
        );
        let err = serde_json::from_str::<TrackerConfig>(r#"{"min_hit": 3}"#).unwrap_err();
        assert!(err.to_string().contains("min_hit"), "{err}");
    }
}
