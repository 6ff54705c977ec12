//! `Media.FetchCrop`: crops by reference across tiers (see `proto/xueliang/v1/media.proto`).
//!
//! Every node serves the same service. A reference `xl://<origin>/crop/<id>` whose origin is
//! this node is answered from the local store; any other is fetched from the next hop toward
//! its origin — the origin itself when it is a direct source, else the source its sightings
//! came through (`Store::origin_via`) — at the URL that source announced in its Hello, over
//! this node's own TLS identity. What was fetched is kept in a byte-bounded LRU cache, so an
//! investigator paging through results costs the WAN one fetch per crop.
//!
//! Who may ask is the caller's decision, passed in as a [`Gate`]: a platform admits API tokens
//! and other nodes' certificates; an edge admits only nodes.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::v1::{self, media_server::Media};
use store::{CropLookup, Store};
use tonic::transport::{ClientTlsConfig, Endpoint};
use tonic::{Request, Response, Status};

use crate::MediaDirectory;

/// Decides whether a request may fetch crops; `Err` is sent as is.
pub type Gate = Arc<dyn Fn(&Request<v1::FetchCropRequest>) -> Result<(), Status> + Send + Sync>;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct MediaStats {
    pub served: AtomicU64,
    pub cache_hits: AtomicU64,
    pub fetched: AtomicU64,
}

/// The Media service of one node.
#[derive(Clone)]
pub struct MediaService {
    node: String,
    store: Arc<Store>,
    directory: MediaDirectory,
    tls: Option<ClientTlsConfig>,
    gate: Gate,
    cache: Arc<Mutex<Cache>>,
    stats: Arc<MediaStats>,
}

impl MediaService {
    /// `tls` is this node's client identity toward the tiers below (`None`: plain text).
    pub fn new(
        node: impl Into<String>,
        store: Arc<Store>,
        directory: MediaDirectory,
        tls: Option<ClientTlsConfig>,
        gate: Gate,
    ) -> Self {
        MediaService {
            node: node.into(),
            store,
            directory,
            tls,
            gate,
            cache: Arc::new(Mutex::new(Cache::new(64 << 20))),
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<MediaStats> {
        self.stats.clone()
    }

    pub fn into_server(self) -> v1::media_server::MediaServer<Self> {
        v1::media_server::MediaServer::new(self)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES)
    }

    fn local(&self, id: u64, r: &str) -> Result<Vec<u8>, Status> {
        match self.store.crop(id) {
            Ok(CropLookup::Found(jpeg)) => Ok(jpeg),
            Ok(CropLookup::Shed) => Err(Status::not_found(format!(
                "{r}: evicted at {} for its crop storage budget (counted as shed)",
                self.node
            ))),
            Ok(CropLookup::Unknown) => Err(Status::not_found(format!(
                "{r}: no such crop at {}",
                self.node
            ))),
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }

    /// The Media URL of the next hop toward `origin`.
    fn route(&self, origin: &str, r: &str) -> Result<String, Status> {
        let via = match self.store.origin_via(origin) {
            Ok(Some(via)) => via,
            Ok(None) => origin.to_owned(),
            Err(e) => return Err(Status::unavailable(e.to_string())),
        };
        let dir = self.directory.lock().unwrap_or_else(|p| p.into_inner());
        dir.get(&via).cloned().ok_or_else(|| {
            Status::unavailable(format!(
                "{r}: no route from {} toward {origin}: {via} has not announced a media service since this node started",
                self.node
            ))
        })
    }

    async fn fetch(&self, url: &str, r: &str) -> Result<Vec<u8>, Status> {
        let hop = |e: String| Status::unavailable(format!("{r}: via {url}: {e}"));
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| hop(e.to_string()))?
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(15));
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.clone())
                .map_err(|e| hop(e.to_string()))?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| hop(crate::error_chain(&e)))?;
        let crop = v1::media_client::MediaClient::new(channel)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .fetch_crop(v1::FetchCropRequest {
                crop_ref: r.to_owned(),
            })
            .await
            // The tier below already said what is wrong (not found, shed, unreachable).
            .map_err(|s| Status::new(s.code(), s.message().to_owned()))?
            .into_inner();
        Ok(crop.jpeg)
    }
}

#[tonic::async_trait]
impl Media for MediaService {
    async fn fetch_crop(
        &self,
        request: Request<v1::FetchCropRequest>,
    ) -> Result<Response<v1::Crop>, Status> {
        (self.gate)(&request)?;
        let r = request.into_inner().crop_ref;
        let (origin, id) = store::parse_crop_ref(&r).map_err(Status::invalid_argument)?;
        let cached = (origin != self.node)
            .then(|| self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&r))
            .flatten();
        let jpeg = if origin == self.node {
            let store = self.clone();
            let r2 = r.clone();
            tokio::task::spawn_blocking(move || store.local(id, &r2))
                .await
                .map_err(|e| Status::internal(e.to_string()))??
        } else if let Some(hit) = cached {
            self.stats.cache_hits.fetch_add(1, Relaxed);
            hit
        } else {
            let url = self.route(origin, &r)?;
            let jpeg = self.fetch(&url, &r).await?;
            self.stats.fetched.fetch_add(1, Relaxed);
            self.cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .put(r.clone(), jpeg.clone());
            jpeg
        };
        self.stats.served.fetch_add(1, Relaxed);
        Ok(Response::new(v1::Crop { crop_ref: r, jpeg }))
    }
}

/// Least-recently-used crops, bounded in bytes.
struct Cache {
    capacity: usize,
    bytes: usize,
    map: HashMap<String, Vec<u8>>,
    order: VecDeque<String>,
}

impl Cache {
    fn new(capacity: usize) -> Self {
        Cache {
            capacity,
            bytes: 0,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        let v = self.map.get(key)?.clone();
        if let Some(pos) = self.order.iter().position(|k| k == key) {
            let k = self.order.remove(pos).expect("position is in range");
            self.order.push_back(k);
        }
        Some(v)
    }

    fn put(&mut self, key: String, value: Vec<u8>) {
        if value.len() > self.capacity || self.map.contains_key(&key) {
            return;
        }
        self.bytes += value.len();
        self.order.push_back(key.clone());
        self.map.insert(key, value);
        while self.bytes > self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(v) = self.map.remove(&old) {
                self.bytes -= v.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_evicts_least_recently_used_by_bytes() {
        let mut c = Cache::new(250);
        c.put("a".into(), vec![0; 100]);
        c.put("b".into(), vec![1; 100]);
        assert!(c.get("a").is_some()); // a is now the most recent
        c.put("c".into(), vec![2; 100]); // over 250: b goes
        assert!(c.get("b").is_none());
        assert!(c.get("a").is_some() && c.get("c").is_some());
        c.put("huge".into(), vec![0; 1000]);
        assert!(c.get("huge").is_none(), "larger than the cache: not kept");
    }
}
