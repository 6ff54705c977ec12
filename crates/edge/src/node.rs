//! A running edge node: builds the stages from the sink backward (forwarder, recorder,
//! analysis, cameras) so that every stage's consumer exists before it produces.
//!
//! Failure scope: a missing model or ONNX Runtime library stops the node at start with one
//! clear error (nothing could be analysed); a bad or unreachable camera only affects that
//! camera — it is reported (state, reason) and retried while the others keep running.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base::Sighting;
use ingest::{CameraEvent, CameraHandle, CameraSpec, CameraState};
use store::Store;
use tokio::sync::{broadcast, watch, Notify};
use uplink::{Forwarder, ForwarderConfig, ForwarderStats};
use vision::detector::{Detector, DetectorConfig};

use crate::analysis::{Analysis, Lane};
use crate::mailbox::Mailbox;
use crate::{EdgeConfig, Error};

/// One camera's line in [`EdgeStats`].
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

/// What an edge node has done so far.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeStats {
    pub cameras: Vec<CameraReport>,
    pub recorded: u64,
    pub outbox_pending: u64,
    pub outbox_shed: u64,
    pub upstream_connected: bool,
    /// Mean detector time per frame so far, ms.
    pub detector_ms: f64,
}

struct CameraSlot {
    id: String,
    mailbox: Arc<Mailbox>,
    handle: Option<CameraHandle>,
    /// Kept apart from the handle so the counters outlive a stopped camera.
    stats: Option<Arc<ingest::CameraStats>>,
    reason: Arc<Mutex<String>>,
}

/// A running edge node.
pub struct Edge {
    cfg: EdgeConfig,
    store: Arc<Store>,
    cameras: Vec<CameraSlot>,
    stop: Arc<AtomicBool>,
    analysis: Option<JoinHandle<()>>,
    recorder: Option<JoinHandle<()>>,
    forwarder: Arc<ForwarderStats>,
    shutdown: watch::Sender<bool>,
    forward_task: Option<tokio::task::JoinHandle<()>>,
    recorded: broadcast::Sender<Sighting>,
    detector_ms: Arc<Mutex<f64>>,
}

impl Edge {
    /// Starts the node; must be called inside a tokio runtime (the forwarder runs on it).
    pub fn start(cfg: EdgeConfig) -> Result<Edge, Error> {
        cfg.validate()?;
        let node = cfg.node.clone();
        let vision_err = |source| Error::Vision {
            node: node.clone(),
            source: Box::new(source),
        };
        let runtime = cfg
            .detector
            .runtime
            .clone()
            .unwrap_or_else(vision::runtime::default_lib_path);
        vision::runtime::init(&runtime).map_err(vision_err)?;
        let model = cfg
            .detector
            .model
            .clone()
            .unwrap_or_else(vision::detector::default_model_path);
        let detector = Detector::open(
            &model,
            DetectorConfig {
                conf: cfg.detector.confidence,
                threads: cfg.detector.threads.max(1),
                ..DetectorConfig::default()
            },
        )
        .map_err(vision_err)?;
        ingest::init().map_err(|source| Error::Ingest {
            node: node.clone(),
            source: Box::new(source),
        })?;
        let store = Arc::new(
            Store::open(&cfg.database_path())
                .map_err(|source| Error::Store {
                    node: node.clone(),
                    source: Box::new(source),
                })?
                .with_outbox_capacity(cfg.outbox_capacity),
        );

        // Sink first: forwarder, then recorder, then analysis, then cameras.
        let wake = Arc::new(Notify::new());
        let forwarder = Forwarder::new(
            ForwarderConfig::new(node.clone(), cfg.upstream.clone()),
            store.clone(),
            wake.clone(),
        );
        let forwarder_stats = forwarder.stats();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let forward_task = tokio::spawn(forwarder.run(shutdown_rx));

        let (to_recorder, from_analysis) = crossbeam_channel::bounded::<Vec<Sighting>>(64);
        let (recorded, _) = broadcast::channel(4096);
        let recorder = {
            let (store, node, recorded) = (store.clone(), node.clone(), recorded.clone());
            spawn(&node.clone(), "recorder", move || {
                for batch in from_analysis {
                    // A failed write is retried: the sightings exist nowhere else yet.
                    let mut delay = Duration::from_millis(100);
                    loop {
                        match store.record(&node, batch.clone()) {
                            Ok(done) => {
                                for s in done {
                                    let _ = recorded.send(s);
                                }
                                wake.notify_one();
                                break;
                            }
                            Err(e) => {
                                tracing::error!(%node, error = %e, "cannot record sightings; retrying");
                                std::thread::sleep(delay);
                                delay = (delay * 2).min(Duration::from_secs(5));
                            }
                        }
                    }
                }
            })?
        };

        let stop = Arc::new(AtomicBool::new(false));
        let mut cameras = Vec::new();
        let mut lanes = Vec::new();
        for c in &cfg.cameras {
            let mailbox = Arc::new(Mailbox::default());
            let reason = Arc::new(Mutex::new(String::new()));
            let handle = match c
                .resolved_url()
                .and_then(|url| CameraSpec::new(c.id.clone(), &url).map_err(|e| e.to_string()))
            {
                Ok(spec) => Some(start_camera(spec, mailbox.clone(), reason.clone())),
                Err(e) => {
                    tracing::error!(node = %node, camera = %c.id, error = %e, "camera not started");
                    *reason.lock().unwrap_or_else(|p| p.into_inner()) = e;
                    None
                }
            };
            lanes.push(Lane::new(
                &c.id,
                c.device_id.clone().unwrap_or_else(|| c.id.clone()),
                mailbox.clone(),
            ));
            cameras.push(CameraSlot {
                id: c.id.clone(),
                mailbox,
                stats: handle.as_ref().map(|h| h.stats().clone()),
                handle,
                reason,
            });
        }
        let detector_ms = Arc::new(Mutex::new(0.0));
        let analysis = Analysis {
            node: node.clone(),
            detector,
            lanes,
            period: (cfg.analysis_fps > 0.0)
                .then(|| Duration::from_secs_f32(1.0 / cfg.analysis_fps)),
            out: to_recorder,
            stop: stop.clone(),
            detector_ms: detector_ms.clone(),
        };
        let analysis = spawn(&node, "analysis", move || analysis.run())?;
        tracing::info!(%node, cameras = cfg.cameras.len(), upstream = %cfg.upstream, "edge started");
        Ok(Edge {
            cfg,
            store,
            cameras,
            stop,
            analysis: Some(analysis),
            recorder: Some(recorder),
            forwarder: forwarder_stats,
            shutdown,
            forward_task: Some(forward_task),
            recorded,
            detector_ms,
        })
    }

    pub fn node(&self) -> &str {
        &self.cfg.node
    }

    /// Sightings as they are recorded here (keys assigned).
    pub fn subscribe(&self) -> broadcast::Receiver<Sighting> {
        self.recorded.subscribe()
    }

    pub fn stats(&self) -> EdgeStats {
        let cameras = self
            .cameras
            .iter()
            .map(|c| {
                let snap = c.stats.as_ref().map(|s| s.snapshot());
                let state = match snap.map(|s| s.state) {
                    None => "failed",
                    Some(CameraState::Connecting) => "connecting",
                    Some(CameraState::Online) => "online",
                    Some(CameraState::Offline) => "offline",
                    Some(CameraState::Finished) => "finished",
                    Some(CameraState::Stopped) => "stopped",
                };
                CameraReport {
                    id: c.id.clone(),
                    state: state.into(),
                    reason: c.reason.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                    frames_decoded: snap.map_or(0, |s| s.frames_decoded),
                    frames_analysed: c.mailbox.analysed.load(Relaxed),
                    frames_skipped: c.mailbox.skipped.load(Relaxed),
                    sightings: c.mailbox.sightings.load(Relaxed),
                    reconnects: snap.map_or(0, |s| s.reconnects),
                }
            })
            .collect();
        let st = self.store.stats().unwrap_or_default();
        EdgeStats {
            cameras,
            recorded: st.sightings,
            outbox_pending: st.outbox_pending,
            outbox_shed: st.outbox_shed_total,
            upstream_connected: self.forwarder.connected.load(Relaxed),
            detector_ms: *self.detector_ms.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Stops cameras, flushes open tracks into sightings, records them, then stops forwarding
    /// after giving the outbox up to `drain` to empty. What is left stays in the outbox.
    pub async fn shutdown(mut self, drain: Duration) -> EdgeStats {
        for c in &mut self.cameras {
            if let Some(h) = c.handle.take() {
                tokio::task::block_in_place(|| h.stop());
            }
        }
        self.stop.store(true, Relaxed);
        for t in [self.analysis.take(), self.recorder.take()]
            .into_iter()
            .flatten()
        {
            tokio::task::block_in_place(|| {
                let _ = t.join();
            });
        }
        let deadline = tokio::time::Instant::now() + drain;
        while tokio::time::Instant::now() < deadline
            && self.store.stats().map(|s| s.outbox_pending).unwrap_or(0) > 0
            && self.forwarder.connected.load(Relaxed)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.shutdown.send(true);
        if let Some(t) = self.forward_task.take() {
            let _ = t.await;
        }
        self.stats()
    }
}

fn spawn(
    node: &str,
    what: &str,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name(format!("{what}-{node}"))
        .spawn(f)
        .map_err(|source| Error::Thread {
            node: node.to_owned(),
            source,
        })
}

fn start_camera(
    spec: CameraSpec,
    mailbox: Arc<Mailbox>,
    reason: Arc<Mutex<String>>,
) -> CameraHandle {
    let sink = move |frame| mailbox.put(frame);
    // The supervisor logs state changes; here they only feed the node's report.
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
