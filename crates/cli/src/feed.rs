//! `xueliang feed`: an edge node without cameras. It records synthetic sightings (see
//! [`crate::synth`]) into its own SQLite outbox at a chosen rate and forwards them upstream
//! through the real uplink, exactly as an edge does, then exits once the upstream has acked
//! them all. Killed and restarted on the same database, it resumes where it stopped: load and
//! chaos tests of the federation use it.

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{watch, Notify};

#[derive(clap::Args)]
pub struct Args {
    /// This node's id, as the upstream knows it.
    #[arg(long, default_value = "edge-feed")]
    node: String,
    /// The platform to push to (http:// or https://).
    #[arg(long)]
    upstream: String,
    /// Directory with ca.pem, NODE.pem and NODE.key (from `xueliang certs`) for an https://
    /// upstream.
    #[arg(long)]
    tls_dir: Option<PathBuf>,
    /// The node's SQLite file [default: NODE.sqlite]; reused, so a restart resumes.
    #[arg(long)]
    database: Option<PathBuf>,
    /// Sightings to make in all, counting those made before a restart.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Sightings per second (0 = as fast as the outbox takes them).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Sightings per outbox transaction.
    #[arg(long, default_value_t = 500)]
    chunk: u64,
    /// Cameras the sightings are spread over.
    #[arg(long, default_value_t = 16)]
    cameras: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    uplink::check_node_id(&args.node).map_err(anyhow::Error::msg)?;
    uplink::check_upstream(&args.upstream).map_err(anyhow::Error::msg)?;
    uplink::check_upstream_tls(&args.upstream, args.tls_dir.is_some(), "--tls-dir")
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(args.chunk > 0, "--chunk must be at least 1");
    let db = args
        .database
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.sqlite", args.node)));
    let store = Arc::new(store::Store::open(&db)?);
    let mut cfg = uplink::ForwarderConfig::new(args.node.clone(), args.upstream.clone());
    if let Some(dir) = &args.tls_dir {
        cfg.tls = Some(uplink::TlsConfig::in_dir(dir, &args.node).client()?);
    }
    crate::runtime()?.block_on(async move {
        let wake = Arc::new(Notify::new());
        let forwarder = uplink::Forwarder::new(cfg, store.clone(), wake.clone());
        let stats = forwarder.stats();
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(forwarder.run(shutdown));

        let mut made = store.stats()?.sightings;
        if made > 0 {
            eprintln!(
                "{}: resuming after {made} sightings recorded earlier",
                args.node
            );
        }
        let started = Instant::now();
        let first = made;
        let mut last_report = Instant::now();
        loop {
            if made < args.count {
                let due = if args.rate > 0.0 {
                    first + (started.elapsed().as_secs_f64() * args.rate) as u64
                } else {
                    args.count
                };
                let n = due.min(args.count).saturating_sub(made).min(args.chunk);
                if n > 0 {
                    let now = base::now_ms();
                    let batch = (made + 1..=made + n)
                        .map(|i| crate::synth::sighting(i, now, args.cameras))
                        .collect();
                    let s = store.clone();
                    let node = args.node.clone();
                    tokio::task::spawn_blocking(move || s.record(&node, batch))
                        .await
                        .context("outbox task")??;
                    made += n;
                    wake.notify_one();
                } else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            let pending = store.stats()?.outbox_pending;
            if last_report.elapsed() >= Duration::from_secs(1) {
                last_report = Instant::now();
                eprintln!(
                    "{}: recorded {made}/{}, acked through {}, waiting {pending}{}",
                    args.node,
                    args.count,
                    stats.acked_through.load(Relaxed),
                    if stats.connected.load(Relaxed) {
                        ""
                    } else {
                        " (upstream down)"
                    }
                );
            }
            if made >= args.count && pending == 0 {
                break;
            }
            if made >= args.count {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{}: {} sightings recorded and acked by {} in {secs:.1} s ({:.0}/s)",
            args.node,
            made - first,
            args.upstream,
            (made - first) as f64 / secs.max(1e-9)
        );
        let _ = stop.send(true);
        let _ = task.await;
        Ok(())
    })
}
