//! The analysis stage: one thread that owns the detector and every camera's tracker.
//!
//! Each turn it takes the newest frame of every camera that is due (at most `analysis_fps` per
//! camera; 0 = whenever a new frame is there), runs the detector once over the batch, feeds each
//! camera's tracker, and sends the vehicles whose tracks ended to the attributes thread over a
//! bounded channel ([`attributes`]: type, colour, appearance, plate, crops; then the
//! recorder). That send blocks when the stages after it are behind: back-pressure reaches the
//! mailboxes, where frames (never sightings) are skipped and counted. On stop every open track
//! is flushed, so a vehicle in view at shutdown still becomes a sighting.
//!
//! The detector and the attribute networks run on two threads, so a vehicle ending (a few
//! classifier and plate runs) does not delay the next detection.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base::Frame;
use crossbeam_channel::Sender;
use track::TrackerConfig;

use crate::mailbox::Mailbox;
use crate::vehicles::{Attributes, Ended, Finished, VehicleTracks};
use vision::detector::Detector;

/// A change to the set of cameras, applied between two turns.
pub enum LaneCmd {
    Add(Box<Lane>),
    /// Flushes the camera's open tracks into sightings, then forgets it.
    Remove(String),
}

/// One camera as the analysis stage sees it.
pub struct Lane {
    pub camera: String,
    pub mailbox: Arc<Mailbox>,
    pub vehicles: VehicleTracks,
    next_due: Instant,
}

impl Lane {
    pub fn new(
        camera: &str,
        device_id: String,
        mailbox: Arc<Mailbox>,
        tracker: TrackerConfig,
    ) -> Self {
        Lane {
            camera: camera.to_owned(),
            vehicles: VehicleTracks::new(camera, device_id, tracker),
            mailbox,
            next_due: Instant::now(),
        }
    }
}

pub struct Analysis {
    pub node: String,
    pub detector: Detector,
    pub lanes: Vec<Lane>,
    /// Cameras added or removed at run time.
    pub commands: crossbeam_channel::Receiver<LaneCmd>,
    /// Minimum time between two analysed frames of one camera; `None` = no limit.
    pub period: Option<Duration>,
    pub out: Sender<Vec<Ended>>,
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
                            lane.vehicles.flush();
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
                            lane.vehicles.observe(frame, dets);
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
                    lane.vehicles.expire(t);
                }
                last_expire = Instant::now();
            }
            if !self.emit() {
                return;
            }
        }
        for lane in &mut self.lanes {
            lane.vehicles.flush();
            lane.mailbox.clear();
        }
        self.emit();
    }

    /// Sends ended vehicles on; false when the stages after this one are gone.
    fn emit(&mut self) -> bool {
        let mut batch = Vec::new();
        for lane in &mut self.lanes {
            let done = lane.vehicles.ended();
            lane.mailbox.sightings.fetch_add(done.len() as u64, Relaxed);
            batch.extend(done);
        }
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
}

/// The attributes stage: describes each ended vehicle ([`Attributes::finish`]) and sends the
/// finished ones to the recorder, until the analysis stage hangs up (after its last flush).
pub fn attributes(
    node: &str,
    mut attributes: Attributes,
    ended: crossbeam_channel::Receiver<Vec<Ended>>,
    out: Sender<Vec<Finished>>,
) {
    for batch in ended {
        let n = batch.len();
        let done: Vec<Finished> = batch.into_iter().map(|e| attributes.finish(e)).collect();
        if out.send(done).is_err() {
            tracing::error!(%node, lost = n, "recorder stopped; sightings not recorded");
            return;
        }
    }
}
