//! `xueliang edge --config FILE`: runs an edge node until Ctrl-C (or SIGTERM), then flushes
//! open tracks and gives the outbox a few seconds to drain (what remains is sent on the next
//! start). SIGHUP re-reads the file and applies camera changes without a restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};

#[derive(clap::Args)]
pub struct Args {
    /// Node config file with an [edge] table (see deploy/edge.toml). Send SIGHUP to apply
    /// changed [[edge.camera]] tables without a restart.
    #[arg(short, long)]
    config: PathBuf,
}

fn load(path: &Path) -> anyhow::Result<edge::EdgeConfig> {
    crate::config::load(path)?
        .edge
        .with_context(|| format!("config {}: no [edge] table", path.display()))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load(&args.config)?;
    crate::runtime()?.block_on(async move {
        let node = edge::Edge::start(cfg.clone()).await?;
        eprintln!(
            "{} running {} camera(s); metrics at {}/metrics",
            node.node(),
            cfg.cameras.len(),
            node.http_url()
        );
        let mut hup = signal(SignalKind::hangup())?;
        let mut term = signal(SignalKind::terminate())?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = hup.recv() => reload(&node, &cfg, &args.config),
            }
        }
        eprintln!("stopping: flushing open tracks and draining the outbox…");
        let stats = node.shutdown(Duration::from_secs(5)).await;
        for c in &stats.cameras {
            eprintln!(
                "{:<16} {:<10} decoded {:>7}  analysed {:>6}  sightings {:>5}  {}",
                c.id, c.state, c.frames_decoded, c.frames_analysed, c.sightings, c.reason
            );
        }
        eprintln!(
            "outbox: {} waiting for the county, {} shed",
            stats.outbox_pending, stats.outbox_shed
        );
        Ok(())
    })
}

/// Applies the cameras of the re-read file; anything else that changed needs a restart.
fn reload(node: &edge::Edge, running: &edge::EdgeConfig, path: &Path) {
    let new = match load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "reload refused; cameras unchanged");
            return;
        }
    };
    let mut rest = new.clone();
    rest.cameras = running.cameras.clone();
    if rest != *running {
        tracing::warn!(
            "reload: only [[edge.camera]] changes apply at run time; restart for the rest"
        );
    }
    match node.apply_cameras(&new.cameras) {
        Ok(c) => {
            tracing::info!(added = ?c.added, removed = ?c.removed, changed = ?c.changed, "reload applied")
        }
        Err(e) => tracing::error!(error = %e, "reload refused; cameras unchanged"),
    }
}
