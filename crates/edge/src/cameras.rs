//! The edge's set of cameras: starting, stopping and changing them at run time, and what the
//! node reports about each (its counters for people, its health for the platforms).
//!
//! Each camera is a slot: the supervisor thread pulling it (`ingest`), the mailbox it fills,
//! and its last problem. Adding a camera starts its thread and hands the analysis thread a
//! new lane; removing one stops its thread first, then tells the analysis thread to flush its
//! open tracks into sightings and forget it. A camera whose URL cannot even be parsed gets a
//! slot without a thread, so it is still reported (state offline, with the reason).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use base::{CameraHealth, HealthReport};
use crossbeam_channel::Sender;
use ingest::{CameraEvent, CameraHandle, CameraSpec, CameraStats, QualityConfig, QualityMonitor};

use crate::analysis::{Lane, LaneCmd};
use crate::mailbox::Mailbox;
use crate::CameraConfig;

/// One camera's line in [`crate::EdgeStats`].
#[derive(Debug, Clone, PartialEq)]
pub struct CameraReport {
    pub id: String,
    /// `connecting`, `online`, `offline`, `finished`, `stopped`, or `failed` (never started).
    pub state: String,
    /// Why the camera is not online, URL passwords redacted.
    pub reason: String,
    pub frames_decoded: u64,
    pub frames_analysed: u64,
    /// Decoded but not analysed (above the analysis rate, or while the detector was busy).
    pub frames_skipped: u64,
    pub sightings: u64,
    pub reconnects: u64,
}

struct Slot {
    cfg: CameraConfig,
    mailbox: Arc<Mailbox>,
    handle: Option<CameraHandle>,
    /// Kept apart from the handle so the counters outlive a stopped camera.
    stats: Option<Arc<CameraStats>>,
    reason: Arc<Mutex<String>>,
    /// Video quality diagnosis, fed by the camera thread (a sample every few hundred ms).
    quality: Arc<Mutex<QualityMonitor>>,
}

/// What [`Cameras::apply`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CameraChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

pub(crate) struct Cameras {
    node: String,
    slots: Vec<Slot>,
    lanes: Sender<LaneCmd>,
    quality: QualityConfig,
    tracker: track::TrackerConfig,
}

impl Cameras {
    pub fn new(
        node: &str,
        lanes: Sender<LaneCmd>,
        quality: QualityConfig,
        tracker: track::TrackerConfig,
    ) -> Self {
        Cameras {
            node: node.to_owned(),
            slots: Vec::new(),
            lanes,
            quality,
            tracker,
        }
    }

    /// Makes the running set equal to `wanted` (validated: unique ids); cameras whose config
    /// did not change keep running untouched.
    pub fn apply(&mut self, wanted: &[CameraConfig]) -> CameraChanges {
        let mut changes = CameraChanges::default();
        let mut keep = Vec::new();
        for slot in std::mem::take(&mut self.slots) {
            match wanted.iter().find(|c| c.id == slot.cfg.id) {
                Some(c) if *c == slot.cfg => keep.push(slot),
                Some(_) => {
                    changes.changed.push(slot.cfg.id.clone());
                    self.stop(slot);
                }
                None => {
                    changes.removed.push(slot.cfg.id.clone());
                    self.stop(slot);
                }
            }
        }
        self.slots = keep;
        for c in wanted {
            if self.slots.iter().any(|s| s.cfg.id == c.id) {
                continue;
            }
            if !changes.changed.contains(&c.id) {
                changes.added.push(c.id.clone());
            }
            let slot = self.start(c);
            self.slots.push(slot);
        }
        changes
    }

    fn start(&self, c: &CameraConfig) -> Slot {
        let mailbox = Arc::new(Mailbox::default());
        let reason = Arc::new(Mutex::new(String::new()));
        let quality = Arc::new(Mutex::new(QualityMonitor::new(&c.id, self.quality.clone())));
        let handle = match c
            .resolved_url()
            .and_then(|url| CameraSpec::new(c.id.clone(), &url).map_err(|e| e.to_string()))
        {
            Ok(spec) => Some(spawn(
                spec,
                mailbox.clone(),
                reason.clone(),
                quality.clone(),
            )),
            Err(e) => {
                tracing::error!(node = %self.node, camera = %c.id, error = %e, "camera not started");
                *reason.lock().unwrap_or_else(|p| p.into_inner()) = e;
                None
            }
        };
        let device_id = c.device_id.clone().unwrap_or_else(|| c.id.clone());
        // The analysis thread outlives every slot; a send only fails during shutdown.
        let _ = self.lanes.send(LaneCmd::Add(Box::new(Lane::new(
            &c.id,
            device_id,
            mailbox.clone(),
            self.tracker,
        ))));
        Slot {
            cfg: c.clone(),
            mailbox,
            stats: handle.as_ref().map(|h| h.stats().clone()),
            handle,
            reason,
            quality,
        }
    }

    fn stop(&self, mut slot: Slot) {
        if let Some(h) = slot.handle.take() {
            h.stop();
        }
        let _ = self.lanes.send(LaneCmd::Remove(slot.cfg.id.clone()));
    }

    /// Stops every camera thread (their lanes are flushed by the analysis thread's own stop).
    pub fn stop_all(&mut self) {
        for slot in &mut self.slots {
            if let Some(h) = slot.handle.take() {
                h.stop();
            }
        }
    }

    pub fn reports(&self) -> Vec<CameraReport> {
        self.slots
            .iter()
            .map(|c| {
                let snap = c.stats.as_ref().map(|s| s.snapshot());
                let state = match snap.map(|s| s.state) {
                    None => "failed",
                    Some(ingest::CameraState::Connecting) => "connecting",
                    Some(ingest::CameraState::Online) => "online",
                    Some(ingest::CameraState::Offline) => "offline",
                    Some(ingest::CameraState::Finished) => "finished",
                    Some(ingest::CameraState::Stopped) => "stopped",
                };
                CameraReport {
                    id: c.cfg.id.clone(),
                    state: state.into(),
                    reason: c.reason.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                    frames_decoded: snap.map_or(0, |s| s.frames_decoded),
                    frames_analysed: c.mailbox.analysed.load(Relaxed),
                    frames_skipped: c.mailbox.skipped.load(Relaxed),
                    sightings: c.mailbox.sightings.load(Relaxed),
                    reconnects: snap.map_or(0, |s| s.reconnects),
                }
            })
            .collect()
    }

    /// The node's health report now: one entry per configured camera.
    pub fn health(&self) -> HealthReport {
        let now = base::now_ms();
        let cameras = self
            .slots
            .iter()
            .map(|c| {
                let reason = c.reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let Some(stats) = &c.stats else {
                    return CameraHealth {
                        camera: c.cfg.id.clone(),
                        state: base::CameraState::Offline,
                        reason,
                        ..Default::default()
                    };
                };
                let snap = stats.snapshot();
                let info = stats.stream_info();
                let state = match snap.state {
                    ingest::CameraState::Connecting => base::CameraState::Connecting,
                    ingest::CameraState::Online => base::CameraState::Online,
                    _ => base::CameraState::Offline,
                };
                CameraHealth {
                    camera: c.cfg.id.clone(),
                    state,
                    since_ms: snap.state_since_ms,
                    reason: if state == base::CameraState::Online {
                        String::new()
                    } else {
                        reason
                    },
                    frames_decoded: snap.frames_decoded,
                    reconnects: snap.reconnects,
                    decode_errors: snap.decode_errors,
                    fps: snap.fps.unwrap_or(0.0),
                    expected_fps: snap.expected_fps.unwrap_or(0.0),
                    bitrate_kbps: snap.bitrate_kbps.unwrap_or(0.0),
                    last_frame_ms: snap.last_frame_ms,
                    codec: info
                        .as_ref()
                        .and_then(|i| i.codec.clone())
                        .unwrap_or_default(),
                    width: info.as_ref().map_or(0, |i| i.width),
                    height: info.as_ref().map_or(0, |i| i.height),
                    clock_skew_ms: snap.clock_skew_ms,
                    // A camera that delivers no frames has no picture to judge.
                    diagnoses: if state == base::CameraState::Online {
                        diagnoses(&c.quality)
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        HealthReport {
            node: self.node.clone(),
            county: String::new(),
            at_ms: now,
            cameras,
        }
    }
}

fn diagnoses(quality: &Mutex<QualityMonitor>) -> Vec<base::Diagnosis> {
    quality
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .active()
        .into_iter()
        .map(|d| base::Diagnosis {
            kind: d.kind.name().to_owned(),
            score: d.score.unwrap_or(0.0),
            threshold: d.threshold,
            since_ms: d.since_ms.unwrap_or(0),
        })
        .collect()
}

fn spawn(
    spec: CameraSpec,
    mailbox: Arc<Mailbox>,
    reason: Arc<Mutex<String>>,
    quality: Arc<Mutex<QualityMonitor>>,
) -> CameraHandle {
    let camera = spec.id.clone();
    let sink = move |frame: base::Frame| {
        // Cheap between samples (a time comparison); a sample is ~0.15 ms.
        let events = quality
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(&frame);
        for e in events {
            if e.raised() {
                tracing::warn!(%camera, kind = %e.kind(), score = ?e.diagnosis.score, "video quality problem");
            } else {
                tracing::info!(%camera, kind = %e.kind(), "video quality problem cleared");
            }
        }
        mailbox.put(frame)
    };
    // The supervisor logs state changes; here they only feed the node's reports.
    let events = move |ev: CameraEvent| {
        let mut r = reason.lock().unwrap_or_else(|p| p.into_inner());
        match ev {
            CameraEvent::Online { .. } => r.clear(),
            CameraEvent::Offline { reason, .. } => *r = reason,
            CameraEvent::Connecting { .. }
            | CameraEvent::Finished { .. }
            | CameraEvent::Stopped { .. } => {}
        }
    };
    ingest::spawn_camera(spec, sink, events)
}
