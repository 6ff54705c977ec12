//! The simulated city's federation, in-process: a city platform, one county platform per
//! county, and per county an edge outbox (a `store::Store` and an `uplink::Forwarder`, as
//! `xueliang feed` runs them), all over TLS from a development CA on loopback. Sightings are
//! recorded into the edges' outboxes and travel edge → county → city through the real uplink,
//! with every receiver's admission checks; [`Federation::feed`] returns once the city holds
//! them all.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{watch, Notify};

use super::city::City;

/// Sightings per outbox transaction.
const CHUNK: usize = 1000;

struct Edge {
    node: String,
    store: Arc<store::Store>,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Running nodes of a simulated city.
pub struct Federation {
    pub city: platform::Platform,
    pub counties: Vec<platform::Platform>,
    edges: Vec<Edge>,
}

/// TLS files for `node` from the development CA in `pki` (made on first use).
fn tls(pki: &Path, node: &str) -> anyhow::Result<uplink::TlsConfig> {
    uplink::tls::dev_ca::ensure_ca(pki)?;
    let files = uplink::TlsConfig::in_dir(pki, node);
    if !files.cert.exists() {
        uplink::tls::dev_ca::issue(pki, node, &["127.0.0.1".into()])?;
    }
    Ok(files)
}

async fn platform(
    dir: &Path,
    node: &str,
    upstream: Option<String>,
) -> anyhow::Result<platform::Platform> {
    let mut cfg = platform::PlatformConfig::new(node);
    cfg.listen = "127.0.0.1:0".parse().expect("literal address");
    cfg.http_listen = "127.0.0.1:0".parse().expect("literal address");
    cfg.database = Some(dir.join(format!("{node}.sqlite")));
    cfg.upstream = upstream;
    cfg.tls = Some(tls(&dir.join("pki"), node)?);
    platform::Platform::start(cfg)
        .await
        .with_context(|| format!("start platform {node}"))
}

impl Federation {
    /// Starts the city, the counties and the edges of `city`, with files under `dir`
    /// (`pki/`, `<node>.sqlite`). Camera positions go to every platform's store.
    pub async fn start(dir: &Path, city: &City) -> anyhow::Result<Federation> {
        let top = platform(dir, "city", None).await?;
        let geo = city.geo();
        top.store().put_cameras_geo(&geo)?;
        let mut counties = Vec::new();
        let mut edges = Vec::new();
        for c in &city.counties {
            let county = platform(dir, &c.platform_node(), Some(top.url())).await?;
            county.store().put_cameras_geo(&geo)?;
            let node = c.edge_node();
            let store = Arc::new(store::Store::open(&dir.join(format!("{node}.sqlite")))?);
            let mut cfg = uplink::ForwarderConfig::new(node.clone(), county.url());
            cfg.tls = Some(tls(&dir.join("pki"), &node)?.client()?);
            let wake = Arc::new(Notify::new());
            let (stop, shutdown) = watch::channel(false);
            let task = tokio::spawn(
                uplink::Forwarder::new(cfg, store.clone(), wake.clone()).run(shutdown),
            );
            edges.push(Edge {
                node,
                store,
                wake,
                stop,
                task,
            });
            counties.push(county);
        }
        Ok(Federation {
            city: top,
            counties,
            edges,
        })
    }

    /// Records every edge's sightings into its outbox and waits until the city holds them
    /// all (or `timeout` passes); `progress(at_city, total)` is called about once a second.
    /// Needs a multi-threaded runtime (outbox writes block).
    pub async fn feed(
        &self,
        city: &City,
        timeout: Duration,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<()> {
        let total = city.total();
        let at_city = || -> anyhow::Result<u64> { Ok(self.city.stats()?.stats.sightings) };
        let before = at_city()?;
        let started = Instant::now();
        let mut last = Instant::now();
        // Round-robin over the edges, a chunk each, so all counties flow at once.
        let mut next = vec![0usize; self.edges.len()];
        loop {
            let mut any = false;
            for (i, (e, (node, list))) in self.edges.iter().zip(&city.sightings).enumerate() {
                anyhow::ensure!(e.node == *node, "edges and sightings out of order");
                let from = next[i];
                if from >= list.len() {
                    continue;
                }
                let to = (from + CHUNK).min(list.len());
                let batch = list[from..to].to_vec();
                tokio::task::block_in_place(|| e.store.record(&e.node, batch))?;
                e.wake.notify_one();
                next[i] = to;
                any = true;
            }
            if last.elapsed() >= Duration::from_secs(1) {
                last = Instant::now();
                progress(at_city()? - before, total);
            }
            if !any {
                break;
            }
            tokio::task::yield_now().await;
        }
        loop {
            let n = at_city()? - before;
            if n >= total {
                progress(n, total);
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < timeout,
                "the city holds {n} of {total} sightings after {:.0} s",
                timeout.as_secs_f64()
            );
            if last.elapsed() >= Duration::from_secs(1) {
                last = Instant::now();
                progress(n, total);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the edges' forwarders and the platforms.
    pub async fn shutdown(self) {
        for e in self.edges {
            let _ = e.stop.send(true);
            let _ = e.task.await;
        }
        for c in self.counties {
            c.shutdown().await;
        }
        self.city.shutdown().await;
    }
}
