//! The receiving side of `Uplink.Push`: validates batches, commits them through
//! [`store::Store::append`] (sightings + high-water mark + forwarded outbox rows in one
//! transaction), and only then acks.
//!
//! A malformed stream (no Hello first, a batch too large, a sighting that does not convert) ends
//! the stream with `InvalidArgument` naming the problem; nothing of the bad batch is stored, and
//! the source will resend from its last ack once fixed. New sightings are also published on a
//! broadcast channel so a console or live alerting can follow them.

use std::pin::Pin;
use std::sync::Arc;

use proto::v1::{self, push_request::Msg, uplink_server::Uplink};
use store::{Item, Store};
use tokio::sync::broadcast;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::{Admission, Error};

/// Largest batch a receiver takes; a source sends a few hundred at a time.
pub const MAX_BATCH_ITEMS: usize = 10_000;

/// `Uplink` service over a store.
#[derive(Clone)]
pub struct Receiver {
    /// This node's id: health reports straight from an edge get it as their county.
    node: String,
    admission: Arc<Admission>,
    /// Demand a CA-signed client certificate naming the Hello's source (TLS deployments).
    require_certificate: bool,
    store: Arc<Store>,
    /// Queue accepted sightings for this node's own upstream.
    forward: bool,
    fresh: broadcast::Sender<base::Sighting>,
    /// Wakes this node's forwarder when something new was queued.
    queued: Arc<tokio::sync::Notify>,
    /// Where each source's Media service answers, as its latest Hello said.
    media: MediaDirectory,
}

/// Source node id → the URL of its Media service (from the sources' Hellos).
pub type MediaDirectory = Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>;

impl Receiver {
    pub fn new(
        node: impl Into<String>,
        store: Arc<Store>,
        forward: bool,
        queued: Arc<tokio::sync::Notify>,
    ) -> Self {
        let (fresh, _) = broadcast::channel(4096);
        Receiver {
            node: node.into(),
            admission: Arc::new(Admission::default()),
            require_certificate: false,
            store,
            forward,
            fresh,
            queued,
            media: MediaDirectory::default(),
        }
    }

    /// Where the sources' Media services answer; the platform's Media service routes by it.
    pub fn media_directory(&self) -> MediaDirectory {
        self.media.clone()
    }

    /// Replaces the default admission rules (any source, ±5 min / 30 days).
    pub fn with_admission(mut self, admission: Admission) -> Self {
        self.admission = Arc::new(admission);
        self
    }

    /// Refuses any source that did not prove its node id with a client certificate; set when
    /// the server runs TLS (see [`crate::tls`]).
    pub fn require_certificate(mut self, required: bool) -> Self {
        self.require_certificate = required;
        self
    }

    /// Sightings that were new here, as they are committed.
    pub fn subscribe(&self) -> broadcast::Receiver<base::Sighting> {
        self.fresh.subscribe()
    }

    pub fn into_server(self) -> v1::uplink_server::UplinkServer<Self> {
        v1::uplink_server::UplinkServer::new(self)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES)
    }

    /// Validates and commits one batch from `source`; returns the ack to send.
    async fn commit(&self, source: &str, batch: v1::Batch) -> Result<u64, Error> {
        let violation = |message: String| Error::Protocol {
            peer: source.to_owned(),
            message,
        };
        if batch.items.len() > MAX_BATCH_ITEMS {
            return Err(violation(format!(
                "batch of {} items exceeds the limit of {MAX_BATCH_ITEMS}",
                batch.items.len()
            )));
        }
        let mut items = Vec::with_capacity(batch.items.len());
        let mut rejected = Vec::new();
        let now = base::now_ms();
        let mut last = 0;
        for item in batch.items {
            if item.seq <= last {
                return Err(violation(format!(
                    "sequence {} after {last} is not increasing",
                    item.seq
                )));
            }
            last = item.seq;
            match item.body {
                Some(v1::item::Body::Sighting(s)) => {
                    let s = base::Sighting::try_from(s)
                        .map_err(|e| violation(format!("item {}: {e}", item.seq)))?;
                    match self.admission.sighting(&s, now) {
                        Ok(()) => items.push((item.seq, Item::Sighting(s))),
                        Err(why) => rejected.push((item.seq, why, Item::Sighting(s))),
                    }
                }
                Some(v1::item::Body::Health(h)) => {
                    let mut h = base::HealthReport::try_from(h)
                        .map_err(|e| violation(format!("item {}: {e}", item.seq)))?;
                    if h.county.is_empty() {
                        h.county = self.node.clone();
                    }
                    match self.admission.health(&h, now) {
                        Ok(()) => items.push((item.seq, Item::Health(h))),
                        Err(why) => rejected.push((item.seq, why, Item::Health(h))),
                    }
                }
                None => return Err(violation(format!("item {} has no body", item.seq))),
            }
        }
        let (store, source_owned, forward) = (self.store.clone(), source.to_owned(), self.forward);
        let ack_through = last;
        for (seq, why, _) in &rejected {
            tracing::warn!(%source, seq, reason = %why, "item quarantined");
        }
        let outcome = tokio::task::spawn_blocking(move || {
            let out = store.append(
                &store::Batch {
                    source: &source_owned,
                    items: &items,
                    rejected: &rejected,
                    through: ack_through,
                    shed_total: batch.shed_total,
                    crops_shed_total: batch.crops_shed_total,
                },
                forward,
            )?;
            Ok::<_, store::Error>((out, items))
        })
        .await
        .map_err(|e| violation(format!("commit task failed: {e}")))?;
        let (outcome, items) = outcome?;
        if forward && outcome.inserted > 0 {
            self.queued.notify_one();
        }
        for i in &outcome.fresh {
            if let Item::Sighting(s) = &items[*i].1 {
                let _ = self.fresh.send(s.clone());
            }
        }
        tracing::debug!(
            source,
            inserted = outcome.inserted,
            duplicates = outcome.duplicates,
            "batch committed"
        );
        Ok(outcome.high_water)
    }
}

type AckStream = Pin<Box<dyn Stream<Item = Result<v1::PushAck, Status>> + Send>>;

#[tonic::async_trait]
impl Uplink for Receiver {
    type PushStream = AckStream;

    async fn push(
        &self,
        request: Request<Streaming<v1::PushRequest>>,
    ) -> Result<Response<AckStream>, Status> {
        let peer = request
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "unknown peer".into());
        let proven = crate::tls::peer_node(&request);
        let mut inbound = request.into_inner();
        let (source, media_url) = match inbound.next().await {
            Some(Ok(v1::PushRequest {
                msg: Some(Msg::Hello(h)),
            })) if !h.source.is_empty() => (h.source, h.media_url),
            Some(Err(status)) => return Err(status),
            _ => {
                return Err(Error::Protocol {
                    peer,
                    message: "the first message of Push must be a Hello with a source".into(),
                }
                .into())
            }
        };
        if self.require_certificate {
            let refused = match &proven {
                None => Some(format!(
                    "{source:?} presented no client certificate; nodes must connect with a certificate signed by this platform's CA"
                )),
                Some(cn) if *cn != source => Some(format!(
                    "the client certificate is for {cn:?} but the Hello names {source:?}"
                )),
                Some(_) => None,
            };
            if let Some(why) = refused {
                tracing::warn!(%source, %peer, "uplink refused: {why}");
                return Err(Status::permission_denied(why));
            }
        }
        if let Err(why) = self.admission.source(&source) {
            tracing::warn!(%source, %peer, "uplink refused: {why}");
            return Err(Status::permission_denied(why));
        }
        let hw = {
            let store = self.store.clone();
            let s = source.clone();
            tokio::task::spawn_blocking(move || store.high_water(&s))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .map_err(|e| Status::from(Error::from(e)))?
        };
        tracing::info!(%source, %peer, high_water = hw, %media_url, "uplink opened");
        if !media_url.is_empty() {
            self.media
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(source.clone(), media_url);
        }
        let this = self.clone();
        let out = async_stream(source, hw, inbound, this);
        Ok(Response::new(Box::pin(out)))
    }
}

/// Acks the resume point, then one ack per committed batch; ends on the first error.
fn async_stream(
    source: String,
    hw: u64,
    inbound: Streaming<v1::PushRequest>,
    this: Receiver,
) -> impl Stream<Item = Result<v1::PushAck, Status>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut inbound = inbound;
        if tx
            .send(Ok(v1::PushAck { acked_through: hw }))
            .await
            .is_err()
        {
            return;
        }
        while let Some(msg) = inbound.next().await {
            let result = match msg {
                Ok(v1::PushRequest {
                    msg: Some(Msg::Batch(batch)),
                }) => this.commit(&source, batch).await.map_err(Status::from),
                Ok(_) => Err(Status::invalid_argument(format!(
                    "protocol violation from {source}: Hello sent twice or empty message"
                ))),
                Err(status) => Err(status),
            };
            let stop = result.is_err();
            if let Err(status) = &result {
                tracing::warn!(%source, error = %status.message(), "uplink batch rejected");
            }
            let reply = result.map(|through| v1::PushAck {
                acked_through: through,
            });
            if tx.send(reply).await.is_err() || stop {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
