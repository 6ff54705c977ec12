//! The analysis stage: one thread that owns the detector and every camera's tracker.
//!
//! Each turn it takes the newest frame of every camera that is due (at most `analysis_fps` per
//! camera; 0 = whenever a new frame is there), runs the detector once over the batch, feeds each
//! camera's tracker, and sends the finished sightings to the recorder over a bounded channel.
//! That send blocks when the recorder is behind: back-pressure reaches the mailboxes, where
//! frames (never sightings) are skipped and counted. On stop every open track is flushed, so
//! a vehicle in view at shutdown still becomes a sighting.
//!
//! When the tracker says a detection is its track's new best shot, the lane keeps that frame
//! (shared, not copied): up to [`SHOTS`] best shots per track, at least [`SHOT_GAP_MS`] apart,
//! the latest always last. When the track ends, its shots are classified in one batch (vehicle
//! type voted over them, see `vision::TypeVote`), the last one gives colour, appearance
//! embedding and the JPEG crop (see `crops`). So attributes cost a few crops per vehicle, never
//! a full frame, and never run per frame.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use base::{BBox, Frame, Sighting};
use crossbeam_channel::Sender;
use track::{TrackId, Tracker, TrackerConfig};
use vision::detector::Detector;
use vision::VehicleClassifier;

/// Best shots kept per track for its attributes.
const SHOTS: usize = 3;
/// Two kept shots are at least this far apart; a newer best inside the gap replaces the last.
const SHOT_GAP_MS: i64 = 300;

/// One best shot: the frame (shared) and the vehicle's box in it.
struct Shot {
    frame: Frame,
    bbox: BBox,
}

use crate::mailbox::Mailbox;

/// A change to the set of cameras, applied between two turns.
pub enum LaneCmd {
    Add(Box<Lane>),
    /// Flushes the camera's open tracks into sightings, then forgets it.
    Remove(String),
}

/// One camera as the analysis stage sees it.
pub struct Lane {
    pub camera: String,
    pub device_id: String,
    pub mailbox: Arc<Mailbox>,
    pub tracker: Tracker,
    /// The best shots of each open track, oldest first.
    shots: HashMap<TrackId, Vec<Shot>>,
    next_due: Instant,
}

/// A sighting on its way to the recorder, with the JPEG of its best shot.
pub struct Finished {
    pub sighting: Sighting,
    pub crop: Option<Vec<u8>>,
}

impl Lane {
    pub fn new(camera: &str, device_id: String, mailbox: Arc<Mailbox>) -> Self {
        Lane {
            camera: camera.to_owned(),
            device_id,
            mailbox,
            tracker: Tracker::new(camera, TrackerConfig::default()),
            shots: HashMap::new(),
            next_due: Instant::now(),
        }
    }
}

pub struct Analysis {
    pub node: String,
    pub detector: Detector,
    pub classifier: VehicleClassifier,
    pub lanes: Vec<Lane>,
    /// Cameras added or removed at run time.
    pub commands: crossbeam_channel::Receiver<LaneCmd>,
    /// Minimum time between two analysed frames of one camera; `None` = no limit.
    pub period: Option<Duration>,
    pub out: Sender<Vec<Finished>>,
    pub stop: Arc<AtomicBool>,
    /// Mean detector milliseconds per frame so far, for reports.
    pub detector_ms: Arc<std::sync::Mutex<f64>>,
}

impl Analysis {
    pub fn run(mut self) {
        let mut last_expire = Instant::now();
        let mut failing = false;
        while !self.stop.load(Relaxed) {
            for cmd in self.commands.try_iter().collect::<Vec<_>>() {
                match cmd {
                    LaneCmd::Add(lane) => {
                        self.lanes.retain(|l| l.camera != lane.camera);
                        self.lanes.push(*lane);
                    }
                    LaneCmd::Remove(camera) => {
                        // Its open tracks become sightings before it goes.
                        if let Some(lane) = self.lanes.iter_mut().find(|l| l.camera == camera) {
                            lane.tracker.flush();
                            lane.mailbox.clear();
                        }
                        if !self.emit() {
                            return;
                        }
                        self.lanes.retain(|l| l.camera != camera);
                    }
                }
            }
            let now = Instant::now();
            let mut frames: Vec<Frame> = Vec::new();
            let mut lanes: Vec<usize> = Vec::new();
            for (i, lane) in self.lanes.iter_mut().enumerate() {
                if now < lane.next_due {
                    continue;
                }
                if let Some(frame) = lane.mailbox.take() {
                    lane.next_due = self.period.map_or(now, |p| now + p);
                    frames.push(frame);
                    lanes.push(i);
                }
            }
            if frames.is_empty() {
                std::thread::sleep(Duration::from_millis(5));
            } else {
                let refs: Vec<&Frame> = frames.iter().collect();
                match self.detector.detect_batch(&refs) {
                    Ok(dets) => {
                        failing = false;
                        *self.detector_ms.lock().unwrap_or_else(|p| p.into_inner()) =
                            self.detector.timings().ms_per_frame();
                        for ((frame, dets), i) in frames.iter().zip(&dets).zip(&lanes) {
                            let lane = &mut self.lanes[*i];
                            let assigned = lane.tracker.push(
                                frame.captured_ms,
                                (frame.width, frame.height),
                                dets,
                            );
                            for (a, d) in assigned.iter().zip(dets.iter()) {
                                if let (true, Some(track)) = (a.best, a.track) {
                                    let shots = lane.shots.entry(track).or_default();
                                    let shot = Shot {
                                        frame: frame.clone(),
                                        bbox: d.bbox,
                                    };
                                    match shots.last_mut() {
                                        Some(last)
                                            if frame.captured_ms - last.frame.captured_ms
                                                < SHOT_GAP_MS =>
                                        {
                                            *last = shot
                                        }
                                        _ => shots.push(shot),
                                    }
                                    if shots.len() > SHOTS {
                                        shots.remove(0);
                                    }
                                }
                            }
                            lane.mailbox.analysed.fetch_add(1, Relaxed);
                        }
                    }
                    Err(e) => {
                        for i in &lanes {
                            self.lanes[*i].mailbox.skipped.fetch_add(1, Relaxed);
                        }
                        if !failing {
                            tracing::error!(node = %self.node, error = %e, "detector failed; frames skipped");
                        }
                        failing = true;
                    }
                }
            }
            // Cameras that stopped sending frames still end their tracks.
            if last_expire.elapsed() > Duration::from_millis(250) {
                let t = base::now_ms();
                for lane in &mut self.lanes {
                    lane.tracker.expire(t);
                }
                last_expire = Instant::now();
            }
            if !self.emit() {
                return;
            }
        }
        for lane in &mut self.lanes {
            lane.tracker.flush();
            lane.mailbox.clear();
        }
        self.emit();
    }

    /// Sends finished sightings on; false when the recorder is gone.
    fn emit(&mut self) -> bool {
        let mut ended = Vec::new();
        for lane in &mut self.lanes {
            while let Some(end) = lane.tracker.pull() {
                let shots = lane.shots.remove(&end.track).unwrap_or_default();
                // A flicker ends without a sighting.
                let Some(mut s) = end.sighting else { continue };
                s.device_id = lane.device_id.clone();
                lane.mailbox.sightings.fetch_add(1, Relaxed);
                ended.push((s, shots));
            }
        }
        let batch: Vec<Finished> = ended
            .into_iter()
            .map(|(s, shots)| self.finish(s, &shots))
            .collect();
        if batch.is_empty() {
            return true;
        }
        let n = batch.len();
        if self.out.send(batch).is_err() {
            tracing::error!(node = %self.node, lost = n, "recorder stopped; sightings not recorded");
            return false;
        }
        true
    }

    /// Type (voted over the track's shots), colour, appearance and crop of a finished vehicle.
    /// A classifier failure leaves the detector's class and no embedding, never the sighting.
    fn finish(&mut self, mut s: Sighting, shots: &[Shot]) -> Finished {
        let Some(last) = shots.last() else {
            return Finished {
                sighting: s,
                crop: None,
            };
        };
        let crops: Vec<(&Frame, BBox)> = shots.iter().map(|sh| (&sh.frame, sh.bbox)).collect();
        match self.classifier.classify_batch(&crops) {
            Ok(attrs) => {
                let mut vote = vision::TypeVote::new();
                for a in &attrs {
                    vote.add(&a.masses);
                }
                let d = vote.decide(s.class, s.class_confidence, vision::TYPE_CUT);
                s.class = d.class;
                s.class_confidence = d.confidence;
                s.embedding = attrs.last().map(|a| a.embedding.clone());
            }
            Err(e) => {
                tracing::warn!(node = %self.node, camera = %s.camera, error = %e, "vehicle classifier failed; detector class kept");
            }
        }
        let (color, confidence) =
            vision::body_colour(&last.frame, &last.bbox, vision::frame_gain(&last.frame));
        if confidence >= vision::colour::MIN_CONFIDENCE {
            (s.color, s.color_confidence) = (color, confidence);
        }
        let crop = crate::crops::encode(&last.frame, &last.bbox);
        Finished { sighting: s, crop }
    }
}
