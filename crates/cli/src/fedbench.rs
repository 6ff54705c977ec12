//! `xueliang bench --only federation`: sightings through edge → county → city on this machine,
//! all over TLS on loopback with every node's real store. Two numbers: the sustained rate
//! (an edge outbox filled as fast as it takes sightings, until the city holds them all), and
//! the edge-to-city latency (record at the edge → committed at the city) at half that rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

/// What the federation part measured.
#[derive(Debug, Default, serde::Serialize)]
pub struct FederationReport {
    pub sightings: u64,
    pub sightings_per_second: f64,
    pub latency_rate_per_second: f64,
    pub latency_samples: usize,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p95: Option<f64>,
    pub latency_ms_max: Option<f64>,
}

pub fn run(count: u64, latency_for: Duration) -> anyhow::Result<FederationReport> {
    let dir = tempfile::tempdir()?;
    let pki = dir.path().join("pki");
    uplink::tls::dev_ca::ensure_ca(&pki)?;
    for node in ["city", "county-1", "edge-bench"] {
        uplink::tls::dev_ca::issue(&pki, node, &["127.0.0.1".into()])?;
    }
    crate::runtime()?.block_on(async {
        let platform = |node: &str, upstream: Option<String>| {
            let mut cfg = platform::PlatformConfig::new(node);
            cfg.listen = "127.0.0.1:0".parse().expect("literal address");
            cfg.http_listen = "127.0.0.1:0".parse().expect("literal address");
            cfg.database = Some(dir.path().join(format!("{node}.sqlite")));
            cfg.upstream = upstream;
            cfg.tls = Some(uplink::TlsConfig::in_dir(&pki, node));
            platform::Platform::start(cfg)
        };
        let city = platform("city", None).await?;
        let county = platform("county-1", Some(city.url())).await?;
        let edge = Arc::new(store::Store::open(&dir.path().join("edge.sqlite"))?);
        let mut cfg = uplink::ForwarderConfig::new("edge-bench", county.url());
        cfg.tls = Some(uplink::TlsConfig::in_dir(&pki, "edge-bench").client()?);
        let wake = Arc::new(Notify::new());
        let (stop, shutdown) = watch::channel(false);
        let task =
            tokio::spawn(uplink::Forwarder::new(cfg, edge.clone(), wake.clone()).run(shutdown));
        let at_city = || city.stats().map(|s| s.stats.sightings);

        // Sustained rate: as fast as the edge's outbox takes them, until the city has all.
        let started = Instant::now();
        let mut made = 0;
        let record = |n: u64, made: &mut u64| -> anyhow::Result<()> {
            let now = base::now_ms();
            let batch = (*made + 1..=*made + n)
                .map(|i| crate::synth::sighting(i, now, 16))
                .collect();
            edge.record("edge-bench", batch)?;
            *made += n;
            wake.notify_one();
            Ok(())
        };
        while made < count {
            let n = (count - made).min(500);
            tokio::task::block_in_place(|| record(n, &mut made))?;
            tokio::task::yield_now().await;
        }
        while at_city()? < count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let rate = count as f64 / started.elapsed().as_secs_f64();

        // Latency at half that rate: chunks every 10 ms, each sighting timed to the city.
        let offered = (rate / 2.0).max(100.0);
        let mut arrivals = city.subscribe();
        let mut latencies = Vec::new();
        let begin = Instant::now();
        let first = made;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while begin.elapsed() < latency_for {
            tick.tick().await;
            let due = first + (begin.elapsed().as_secs_f64() * offered) as u64;
            if due > made {
                tokio::task::block_in_place(|| record(due - made, &mut made))?;
            }
            while let Ok(s) = arrivals.try_recv() {
                latencies.push((base::now_ms() - s.pass_time_ms) as f64);
            }
        }
        let target = made;
        let drain = Instant::now();
        while at_city()? < target && drain.elapsed() < Duration::from_secs(30) {
            match tokio::time::timeout(Duration::from_millis(50), arrivals.recv()).await {
                Ok(Ok(s)) => latencies.push((base::now_ms() - s.pass_time_ms) as f64),
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) | Err(_) => {}
                Ok(Err(_)) => break,
            }
        }
        let _ = stop.send(true);
        let _ = task.await;
        county.shutdown().await;
        city.shutdown().await;
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            (!latencies.is_empty()).then(|| {
                latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]
            })
        };
        Ok(FederationReport {
            sightings: count,
            sightings_per_second: rate,
            latency_rate_per_second: offered,
            latency_samples: latencies.len(),
            latency_ms_p50: pct(0.5),
            latency_ms_p95: pct(0.95),
            latency_ms_max: latencies.last().copied(),
        })
    })
}
