//! A running platform node: the gRPC server (Uplink + Search) on its listener, and the
//! forwarder to its upstream when it has one. [`Platform::start`] returns once the listener is
//! bound, so `local_addr` is usable at once (port 0 picks a free port).

use std::net::SocketAddr;
use std::sync::Arc;

use store::Store;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use uplink::{Forwarder, ForwarderConfig, ForwarderStats, Receiver};

use crate::auth::Role;

use crate::{Error, HealthService, PlatformConfig, SearchService};

/// Live statistics of a node.
#[derive(Debug, Clone, Default)]
pub struct PlatformStats {
    pub stats: store::Stats,
    /// Forwarder counters when the node has an upstream.
    pub upstream_connected: Option<bool>,
}

/// A running county or city node.
pub struct Platform {
    cfg: PlatformConfig,
    addr: SocketAddr,
    http_addr: SocketAddr,
    store: Arc<Store>,
    receiver: Receiver,
    forwarder: Option<Arc<ForwarderStats>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Platform {
    /// Opens the database, binds the listener and starts serving (and forwarding).
    pub async fn start(cfg: PlatformConfig) -> Result<Platform, Error> {
        cfg.validate()?;
        let bad = |message: String| Error::Config {
            node: cfg.node.clone(),
            message,
        };
        let auth = crate::auth::Auth::new(&cfg.token).map_err(bad)?;
        let tls_err = |e: uplink::Error| bad(e.to_string());
        let server_tls = cfg
            .tls
            .as_ref()
            .map(|t| t.server())
            .transpose()
            .map_err(tls_err)?;
        let client_tls = cfg
            .tls
            .as_ref()
            .map(|t| t.client())
            .transpose()
            .map_err(tls_err)?;
        if cfg.token.is_empty() {
            tracing::warn!(node = %cfg.node, "no [[platform.token]] configured: search and health calls will be refused");
        }
        if cfg.tls.is_none() {
            tracing::warn!(node = %cfg.node, "no [platform.tls]: federation runs in plain text and sources are trusted by name");
        }
        let path = cfg.database_path();
        let store = Arc::new(
            Store::open(&path)
                .map_err(|source| Error::Store {
                    node: cfg.node.clone(),
                    source: Box::new(source),
                })?
                .with_outbox_capacity(cfg.outbox_capacity),
        );
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| Error::Listen {
                node: cfg.node.clone(),
                addr: cfg.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Listen {
            node: cfg.node.clone(),
            addr: cfg.listen.to_string(),
            source,
        })?;
        let http_listener = tokio::net::TcpListener::bind(cfg.http_listen)
            .await
            .map_err(|source| Error::Listen {
                node: cfg.node.clone(),
                addr: format!("{} (http_listen)", cfg.http_listen),
                source,
            })?;
        let http_addr = http_listener.local_addr().map_err(|source| Error::Listen {
            node: cfg.node.clone(),
            addr: cfg.http_listen.to_string(),
            source,
        })?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let queued = Arc::new(Notify::new());
        let receiver = Receiver::new(
            cfg.node.clone(),
            store.clone(),
            cfg.upstream.is_some(),
            queued.clone(),
        )
        .with_admission(cfg.admission())
        .require_certificate(server_tls.is_some());
        if !cfg.camera.is_empty() {
            let geo: Vec<store::CameraGeo> = cfg
                .camera
                .iter()
                .map(|c| store::CameraGeo {
                    camera: c.id.clone(),
                    county: c.county.clone(),
                    lat: c.lat,
                    lon: c.lon,
                })
                .collect();
            store.put_cameras_geo(&geo).map_err(|source| Error::Store {
                node: cfg.node.clone(),
                source: Box::new(source),
            })?;
        }
        let search = SearchService::new(cfg.node.clone(), store.clone())
            .with_regions(cfg.region.iter().map(|r| r.region()))
            .with_live(receiver.clone(), shutdown_rx.clone());
        let investigator = search.investigator();
        // Coverage counts a camera whose edge went silent as unknown, as the overview does.
        store.set_health_stale_after_ms(cfg.health_stale_after_s as i64 * 1000);
        // Before the uplink listens, so no sighting is committed unchecked.
        let armed =
            crate::watchlists::arm_stored(&store, &investigator.regions).map_err(|source| {
                Error::Store {
                    node: cfg.node.clone(),
                    source: Box::new(source),
                }
            })?;
        if armed > 0 {
            tracing::info!(node = %cfg.node, armed, "watchlists armed");
        }
        let health = HealthService::new(store.clone(), cfg.health_stale_after_s as i64 * 1000);
        let mut tasks = Vec::new();
        let mut stop = shutdown_rx.clone();
        let (node, rx, grpc_health) = (cfg.node.clone(), receiver.clone(), health.clone());
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = server_tls {
            server = server
                .tls_config(tls)
                .map_err(|e| bad(format!("TLS: {e}")))?;
        }
        let search =
            InterceptedService::new(search.into_server(), auth.interceptor(Role::Investigator));
        let grpc_health =
            InterceptedService::new(grpc_health.into_server(), auth.interceptor(Role::Operator));
        // Crops: investigators (token) and other nodes of the deployment (certificate).
        let gate_auth = auth.clone();
        let gate: uplink::Gate = Arc::new(move |req| {
            if uplink::tls::peer_node(req).is_some() {
                return Ok(());
            }
            let header = req
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            gate_auth
                .check_header(header, Role::Investigator)
                .map(|_| ())
                .map_err(tonic::Status::from)
        });
        let media = uplink::MediaService::new(
            cfg.node.clone(),
            store.clone(),
            receiver.media_directory(),
            client_tls.clone(),
            gate,
        );
        let media_stats = media.stats();
        tasks.push(tokio::spawn(async move {
            let served = server
                .add_service(rx.into_server())
                .add_service(search)
                .add_service(grpc_health)
                .add_service(media.into_server())
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async move {
                        let _ = stop.wait_for(|s| *s).await;
                    },
                )
                .await;
            if let Err(e) = served {
                tracing::error!(%node, error = %e, "gRPC server stopped");
            }
        }));
        let mut forwarder = None;
        if let Some(up) = &cfg.upstream {
            let mut fc = ForwarderConfig::new(cfg.node.clone(), up.clone());
            fc.tls = client_tls;
            let scheme = if cfg.tls.is_some() { "https" } else { "http" };
            fc.media_url = format!("{scheme}://{addr}");
            let f = Forwarder::new(fc, store.clone(), queued);
            forwarder = Some(f.stats());
            tasks.push(tokio::spawn(f.run(shutdown_rx.clone())));
        }
        let app = crate::http::router(crate::http::HttpState {
            node: cfg.node.clone(),
            store: store.clone(),
            health,
            auth,
            media: media_stats,
            upstream_connected: forwarder.clone(),
            investigator,
        });
        let (node, mut stop) = (cfg.node.clone(), shutdown_rx);
        let https = match &cfg.tls {
            Some(t) => Some(t.https_acceptor().map_err(tls_err)?),
            None => None,
        };
        tasks.push(tokio::spawn(async move {
            let until = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let served = match https {
                Some(tls) => match crate::https::TlsListener::new(http_listener, tls) {
                    Ok(l) => axum::serve(l, app).with_graceful_shutdown(until).await,
                    Err(e) => Err(e),
                },
                None => {
                    axum::serve(http_listener, app)
                        .with_graceful_shutdown(until)
                        .await
                }
            };
            if let Err(e) = served {
                tracing::error!(%node, error = %e, "HTTP server stopped");
            }
        }));
        tracing::info!(node = %cfg.node, %addr, %http_addr, db = %path.display(), upstream = ?cfg.upstream, "platform started");
        Ok(Platform {
            cfg,
            addr,
            http_addr,
            store,
            receiver,
            forwarder,
            shutdown,
            tasks,
        })
    }

    pub fn node(&self) -> &str {
        &self.cfg.node
    }

    /// The bound listen address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://addr` (with TLS) or `http://addr`, for gRPC clients and the tier below.
    pub fn url(&self) -> String {
        let scheme = if self.cfg.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// `https://http_addr` (with TLS) or `http://http_addr`: `/metrics` and the JSON API.
    pub fn http_url(&self) -> String {
        let scheme = if self.cfg.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.http_addr)
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Sightings that were new at this node, as they are committed.
    pub fn subscribe(&self) -> broadcast::Receiver<base::Sighting> {
        self.receiver.subscribe()
    }

    pub fn stats(&self) -> Result<PlatformStats, Error> {
        let stats = self.store.stats().map_err(|source| Error::Store {
            node: self.cfg.node.clone(),
            source: Box::new(source),
        })?;
        Ok(PlatformStats {
            stats,
            upstream_connected: self
                .forwarder
                .as_ref()
                .map(|f| f.connected.load(std::sync::atomic::Ordering::Relaxed)),
        })
    }

    /// Stops serving and forwarding; what was not yet forwarded stays in the outbox.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
