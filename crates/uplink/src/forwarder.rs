//! The sending side of `Uplink.Push`: drains this node's outbox to its upstream.
//!
//! One long-lived stream: Hello → the upstream's high-water mark → batches of up to
//! `batch_size` items, each awaited until acked (stop-and-wait keeps the protocol obviously
//! correct; a batch of 256 sightings is ~100 KB, so a loopback or WAN link is not the limit).
//! On any error the stream is dropped and re-opened with exponential backoff; unacked items
//! stay in the outbox and are resent. Nothing is deleted from the outbox before its ack.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::v1::{self, uplink_client::UplinkClient};
use store::Store;
use tokio::sync::{mpsc, watch, Notify};
use tonic::transport::Endpoint;

use crate::Error;

/// Forwarder settings.
#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    /// This node's id, as the upstream knows it.
    pub source: String,
    /// Upstream gRPC address, e.g. `http://127.0.0.1:7100`.
    pub upstream: String,
    pub batch_size: usize,
    pub max_backoff: Duration,
    pub ack_timeout: Duration,
    /// TLS to the upstream (`https://` upstreams); `None` for plain text.
    pub tls: Option<tonic::transport::ClientTlsConfig>,
    /// Where this node's Media service answers, announced in the Hello so the upstream can
    /// fetch crops through it; empty when it has none.
    pub media_url: String,
}

impl ForwarderConfig {
    pub fn new(source: impl Into<String>, upstream: impl Into<String>) -> Self {
        ForwarderConfig {
            source: source.into(),
            upstream: upstream.into(),
            batch_size: 256,
            max_backoff: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(30),
            tls: None,
            media_url: String::new(),
        }
    }
}

/// Counters an operator (or the demo summary) reads.
#[derive(Debug, Default)]
pub struct ForwarderStats {
    pub connected: AtomicBool,
    pub items_sent: AtomicU64,
    pub acked_through: AtomicU64,
    pub reconnects: AtomicU64,
    pub last_error: Mutex<String>,
}

/// Drains an outbox to the upstream until shut down.
pub struct Forwarder {
    cfg: ForwarderConfig,
    store: Arc<Store>,
    wake: Arc<Notify>,
    stats: Arc<ForwarderStats>,
}

impl Forwarder {
    /// `wake` is notified by whoever queues into the outbox, so items leave at once.
    pub fn new(cfg: ForwarderConfig, store: Arc<Store>, wake: Arc<Notify>) -> Self {
        Forwarder {
            cfg,
            store,
            wake,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<ForwarderStats> {
        self.stats.clone()
    }

    /// Runs until `shutdown` turns true. Errors are logged once per outage, not per retry.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        let mut failing = false;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let result = tokio::select! {
                r = self.session(&mut backoff) => r,
                _ = shutdown.changed() => return,
            };
            self.stats.connected.store(false, Ordering::Relaxed);
            if let Err(e) = result {
                if !failing {
                    tracing::warn!(upstream = %self.cfg.upstream, error = %e, "uplink down; will retry");
                }
                failing = true;
                *self
                    .stats
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = e.to_string();
            }
            self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            backoff = (backoff * 2).min(self.cfg.max_backoff);
        }
    }

    fn upstream_err(&self, message: impl std::fmt::Display) -> Error {
        Error::Upstream {
            url: self.cfg.upstream.clone(),
            message: message.to_string(),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, store::Error> + Send + 'static,
    ) -> Result<T, Error> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| self.upstream_err(format!("outbox task failed: {e}")))?
            .map_err(Error::from)
    }

    /// One connection: returns only on error.
    async fn session(&self, backoff: &mut Duration) -> Result<(), Error> {
        let mut endpoint = Endpoint::from_shared(self.cfg.upstream.clone())
            .map_err(|e| self.upstream_err(format!("bad address: {e}")))?;
        if let Some(tls) = &self.cfg.tls {
            endpoint = endpoint
                .tls_config(tls.clone())
                .map_err(|e| self.upstream_err(format!("TLS: {e}")))?;
        }
        let channel = endpoint
            .connect_timeout(Duration::from_secs(3))
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| {
                self.upstream_err(format!("cannot connect: {}", crate::error_chain(&e)))
            })?;
        let mut client = UplinkClient::new(channel)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES);
        let (tx, rx) = mpsc::channel::<v1::PushRequest>(2);
        tx.send(v1::PushRequest {
            msg: Some(v1::push_request::Msg::Hello(v1::Hello {
                source: self.cfg.source.clone(),
                media_url: self.cfg.media_url.clone(),
            })),
        })
        .await
        .map_err(|_| self.upstream_err("stream closed"))?;
        let mut acks = client
            .push(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map_err(|s| self.upstream_err(s.message()))?
            .into_inner();
        let mut acked = self.next_ack(&mut acks).await?;
        let source = self.cfg.source.clone();
        let moved = self
            .blocking(move |s| s.rebase_outbox(&source, acked))
            .await?;
        if moved > 0 {
            tracing::warn!(
                upstream = %self.cfg.upstream, high_water = acked, moved,
                "upstream has seen more from this node than its outbox numbered: local database was reset; renumbered pending items"
            );
        }
        self.blocking(move |s| s.ack(acked)).await?;
        self.stats.connected.store(true, Ordering::Relaxed);
        self.stats.acked_through.store(acked, Ordering::Relaxed);
        tracing::info!(upstream = %self.cfg.upstream, acked_through = acked, "uplink connected");
        *backoff = Duration::from_millis(200);
        loop {
            let limit = self.cfg.batch_size;
            let (items, shed_total, crops_shed_total) = self
                .blocking(move |s| {
                    Ok((
                        s.pending(acked, limit)?,
                        s.shed_total()?,
                        s.crops_shed_total()?,
                    ))
                })
                .await?;
            if items.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
                continue;
            }
            let last = items.last().map(|i| i.seq).unwrap_or(acked);
            let n = items.len() as u64;
            let batch = v1::Batch {
                items: items
                    .iter()
                    .map(|i| v1::Item {
                        seq: i.seq,
                        body: Some(match &i.item {
                            store::Item::Sighting(s) => v1::item::Body::Sighting(s.into()),
                            store::Item::Health(h) => v1::item::Body::Health(h.into()),
                        }),
                    })
                    .collect(),
                shed_total,
                crops_shed_total,
            };
            tx.send(v1::PushRequest {
                msg: Some(v1::push_request::Msg::Batch(batch)),
            })
            .await
            .map_err(|_| self.upstream_err("stream closed while sending"))?;
            let through = self.next_ack(&mut acks).await?;
            if through < last {
                return Err(self.upstream_err(format!(
                    "acked through {through} after a batch ending at {last}"
                )));
            }
            self.blocking(move |s| s.ack(through)).await?;
            acked = through;
            self.stats.items_sent.fetch_add(n, Ordering::Relaxed);
            self.stats.acked_through.store(acked, Ordering::Relaxed);
        }
    }

    async fn next_ack(&self, acks: &mut tonic::Streaming<v1::PushAck>) -> Result<u64, Error> {
        match tokio::time::timeout(self.cfg.ack_timeout, acks.message()).await {
            Err(_) => Err(self.upstream_err("no ack within the timeout")),
            Ok(Err(status)) => Err(self.upstream_err(status.message())),
            Ok(Ok(None)) => Err(self.upstream_err("stream ended by upstream")),
            Ok(Ok(Some(ack))) => Ok(ack.acked_through),
        }
    }
}
