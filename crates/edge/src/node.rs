//! A running edge node: builds the stages from the sink backward (forwarder, recorder,
//! attributes, analysis, cameras) so that every stage's consumer exists before it produces, then serves
//! `/metrics` and `/api/v1/cameras` and reports camera health upward every
//! `health_interval_s`.
//!
//! Failure scope: a missing model or ONNX Runtime library stops a node at start with one
//! clear error (nothing could be analysed); a bad or unreachable camera only affects that
//! camera — it is reported (state, reason) and retried while the others keep running. Cameras
//! can be added, removed or changed while the node runs ([`Edge::apply_cameras`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base::Sighting;
use store::Store;
use tokio::sync::{broadcast, watch, Notify};
use uplink::{Forwarder, ForwarderConfig, ForwarderStats};

use crate::analysis::Analysis;
use crate::cameras::{CameraChanges, CameraReport, Cameras};
use crate::vehicles::{Ended, Finished};
use crate::{CameraConfig, EdgeConfig, Error};

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

/// The parts of a node that the HTTP server and the health reporter read.
#[derive(Clone)]
pub(crate) struct Shared {
    pub node: String,
    /// Set when shutdown begins: stopped cameras are not news for the operators.
    pub stopping: Arc<AtomicBool>,
    pub store: Arc<Store>,
    pub cameras: Arc<Mutex<Cameras>>,
    pub forwarder: Arc<ForwarderStats>,
    pub detector_ms: Arc<Mutex<f64>>,
}

impl Shared {
    pub fn stats(&self) -> EdgeStats {
        let cameras = lock(&self.cameras).reports();
        let st = self.store.stats().unwrap_or_default();
        EdgeStats {
            cameras,
            recorded: st.sightings,
            outbox_pending: st.outbox_pending,
            outbox_shed: st.outbox_shed_total,
            upstream_connected: self.forwarder.connected.load(Relaxed),
            detector_ms: *lock(&self.detector_ms),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running edge node.
pub struct Edge {
    cfg: EdgeConfig,
    shared: Shared,
    http_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    analysis: Option<JoinHandle<()>>,
    attributes: Option<JoinHandle<()>>,
    recorder: Option<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    recorded: broadcast::Sender<Sighting>,
}

impl Edge {
    /// Starts the node; must be called inside a tokio runtime (the forwarder, the health
    /// reporter and the HTTP server run on it).
    pub async fn start(cfg: EdgeConfig) -> Result<Edge, Error> {
        cfg.validate()?;
        let node = cfg.node.clone();
        let vision_err = |source| Error::Vision {
            node: node.clone(),
            source: Box::new(source),
        };
        let models = crate::vehicles::Models::open(&cfg.detector).map_err(vision_err)?;
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
                .with_outbox_capacity(cfg.outbox_capacity)
                .with_crop_capacity(cfg.crop_capacity_mb.saturating_mul(1 << 20)),
        );
        let media_listener = tokio::net::TcpListener::bind(cfg.media_listen)
            .await
            .map_err(|source| Error::Listen {
                node: node.clone(),
                addr: format!("{} (media_listen)", cfg.media_listen),
                source,
            })?;
        let media_addr = media_listener
            .local_addr()
            .map_err(|source| Error::Listen {
                node: node.clone(),
                addr: cfg.media_listen.to_string(),
                source,
            })?;
        let http = tokio::net::TcpListener::bind(cfg.http_listen)
            .await
            .map_err(|source| Error::Listen {
                node: node.clone(),
                addr: cfg.http_listen.to_string(),
                source,
            })?;
        let http_addr = http.local_addr().map_err(|source| Error::Listen {
            node: node.clone(),
            addr: cfg.http_listen.to_string(),
            source,
        })?;

        // Sink first: forwarder, then recorder, then analysis, then cameras.
        let wake = Arc::new(Notify::new());
        let mut upward = ForwarderConfig::new(node.clone(), cfg.upstream.clone());
        upward.tls = match &cfg.tls {
            Some(t) => Some(t.client().map_err(|e| Error::Config {
                node: node.clone(),
                message: e.to_string(),
            })?),
            None => None,
        };
        let scheme = if cfg.tls.is_some() { "https" } else { "http" };
        upward.media_url = cfg
            .media_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{media_addr}"));
        let forwarder = Forwarder::new(upward, store.clone(), wake.clone());
        let forwarder_stats = forwarder.stats();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(forwarder.run(shutdown_rx.clone()))];

        tasks.push(serve_media(
            &cfg,
            store.clone(),
            media_listener,
            shutdown_rx.clone(),
        )?);

        let (to_recorder, from_attributes) = crossbeam_channel::bounded::<Vec<Finished>>(64);
        let (recorded, _) = broadcast::channel(4096);
        let recorder = {
            let (store, node, recorded, wake) =
                (store.clone(), node.clone(), recorded.clone(), wake.clone());
            spawn(&node.clone(), "recorder", move || {
                for finished in from_attributes {
                    // Crops first, so each sighting goes out with its reference. A crop that
                    // cannot be stored leaves the sighting without one (logged), never stalls it.
                    let batch: Vec<Sighting> = finished
                        .into_iter()
                        .map(|f| {
                            let mut s = f.sighting;
                            for (jpeg, slot) in [
                                (f.crop, &mut s.crop_ref),
                                (f.plate_crop, &mut s.plate_crop_ref),
                            ] {
                                let Some(jpeg) = jpeg else { continue };
                                match store.put_crop(&jpeg) {
                                    Ok(id) => *slot = store::crop_ref(&node, id),
                                    Err(e) => tracing::warn!(%node, error = %e, "crop not kept"),
                                }
                            }
                            s
                        })
                        .collect();
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

        // Ended vehicles carry their shots' frames: a short queue, so a slow attributes thread
        // pushes back on the mailboxes (frames skipped, counted) instead of holding frames.
        let (to_attributes, from_analysis) = crossbeam_channel::bounded::<Vec<Ended>>(4);
        let crate::vehicles::Models {
            detector,
            attributes,
        } = models;
        let attributes = {
            let node = node.clone();
            spawn(&node.clone(), "attributes", move || {
                crate::analysis::attributes(&node, attributes, from_analysis, to_recorder)
            })?
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (lane_tx, lane_rx) = crossbeam_channel::unbounded();
        let detector_ms = Arc::new(Mutex::new(0.0));
        let analysis = Analysis {
            node: node.clone(),
            detector,
            lanes: Vec::new(),
            commands: lane_rx,
            period: (cfg.analysis_fps > 0.0)
                .then(|| Duration::from_secs_f32(1.0 / cfg.analysis_fps)),
            out: to_attributes,
            stop: stop.clone(),
            detector_ms: detector_ms.clone(),
        };
        let analysis = spawn(&node, "analysis", move || analysis.run())?;
        let mut cameras = Cameras::new(&node, lane_tx, cfg.quality.clone(), cfg.tracker);
        cameras.apply(&cfg.cameras);
        let shared = Shared {
            node: node.clone(),
            stopping: Arc::new(AtomicBool::new(false)),
            store,
            cameras: Arc::new(Mutex::new(cameras)),
            forwarder: forwarder_stats,
            detector_ms,
        };
        tasks.push(tokio::spawn(report_health(
            shared.clone(),
            wake,
            Duration::from_secs(cfg.health_interval_s),
            shutdown_rx.clone(),
        )));
        let app = crate::http::router(shared.clone());
        let mut stop_http = shutdown_rx;
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(http, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_http.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "edge HTTP server stopped");
            }
        }));
        tracing::info!(%node, cameras = cfg.cameras.len(), upstream = %cfg.upstream, %http_addr, "edge started");
        Ok(Edge {
            cfg,
            shared,
            http_addr,
            stop,
            analysis: Some(analysis),
            attributes: Some(attributes),
            recorder: Some(recorder),
            shutdown,
            tasks,
            recorded,
        })
    }

    pub fn node(&self) -> &str {
        &self.cfg.node
    }

    /// `http://addr` of `/metrics` and `/api/v1/cameras`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Sightings as they are recorded here (keys assigned).
    pub fn subscribe(&self) -> broadcast::Receiver<Sighting> {
        self.recorded.subscribe()
    }

    pub fn stats(&self) -> EdgeStats {
        self.shared.stats()
    }

    /// This node's camera health now (what the next report upward will say).
    pub fn health(&self) -> base::HealthReport {
        lock(&self.shared.cameras).health()
    }

    /// Makes the node pull exactly `cameras` from now on, without a restart: new ones start,
    /// removed ones stop (their open tracks become sightings), changed ones restart.
    pub fn apply_cameras(&self, cameras: &[CameraConfig]) -> Result<CameraChanges, Error> {
        let mut probe = self.cfg.clone();
        probe.cameras = cameras.to_vec();
        if !cameras.is_empty() {
            probe.validate()?;
        }
        let changes = tokio::task::block_in_place(|| lock(&self.shared.cameras).apply(cameras));
        tracing::info!(node = %self.cfg.node, added = ?changes.added, removed = ?changes.removed, changed = ?changes.changed, "cameras changed");
        Ok(changes)
    }

    /// Stops cameras, flushes open tracks into sightings, records them, reports health a last
    /// time, then stops forwarding after giving the outbox up to `drain` to empty. What is
    /// left stays in the outbox for the next start.
    pub async fn shutdown(mut self, drain: Duration) -> EdgeStats {
        self.shared.stopping.store(true, Relaxed);
        tokio::task::block_in_place(|| lock(&self.shared.cameras).stop_all());
        self.stop.store(true, Relaxed);
        for t in [
            self.analysis.take(),
            self.attributes.take(),
            self.recorder.take(),
        ]
        .into_iter()
        .flatten()
        {
            tokio::task::block_in_place(|| {
                let _ = t.join();
            });
        }
        let store = self.shared.store.clone();
        let deadline = tokio::time::Instant::now() + drain;
        while tokio::time::Instant::now() < deadline
            && store.stats().map(|s| s.outbox_pending).unwrap_or(0) > 0
            && self.shared.forwarder.connected.load(Relaxed)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.shutdown.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
        self.shared.stats()
    }
}

/// Queues a health report every `every` (superseding the previous unsent one).
async fn report_health(
    shared: Shared,
    wake: Arc<Notify>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if shared.stopping.load(Relaxed) {
            return;
        }
        let s = shared.clone();
        let done = tokio::task::spawn_blocking(move || {
            let report = lock(&s.cameras).health();
            s.store.record_health(&report)
        })
        .await;
        match done {
            Ok(Ok(())) => wake.notify_one(),
            Ok(Err(e)) => {
                tracing::error!(node = %shared.node, error = %e, "cannot queue health report")
            }
            Err(e) => tracing::error!(node = %shared.node, error = %e, "health task failed"),
        }
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

/// Serves `Media.FetchCrop` for this node's crops. With TLS only other nodes of the deployment
/// (a certificate from the CA) may fetch; without it, anyone who can reach the port.
fn serve_media(
    cfg: &EdgeConfig,
    store: Arc<Store>,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let node = cfg.node.clone();
    let bad = |message: String| Error::Config {
        node: node.clone(),
        message,
    };
    let mut server = tonic::transport::Server::builder();
    let tls = cfg.tls.is_some();
    if let Some(t) = &cfg.tls {
        let t = t.server().map_err(|e| bad(e.to_string()))?;
        server = server.tls_config(t).map_err(|e| bad(format!("TLS: {e}")))?;
    } else {
        tracing::warn!(%node, "no [edge.tls]: crops are served to anyone who reaches media_listen");
    }
    let gate: uplink::Gate = Arc::new(move |req| {
        if !tls || uplink::tls::peer_node(req).is_some() {
            Ok(())
        } else {
            Err(tonic::Status::permission_denied(
                "crops are served to nodes of this deployment only (present a client certificate)",
            ))
        }
    });
    let media = uplink::MediaService::new(
        node.clone(),
        store,
        uplink::MediaDirectory::default(),
        None,
        gate,
    );
    Ok(tokio::spawn(async move {
        let served = server
            .add_service(media.into_server())
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            )
            .await;
        if let Err(e) = served {
            tracing::error!(%node, error = %e, "media server stopped");
        }
    }))
}
