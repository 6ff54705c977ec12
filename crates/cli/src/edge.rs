//! `xueliang edge --config FILE`: runs an edge node until Ctrl-C, then flushes open tracks and
//! gives the outbox a few seconds to drain (what remains is sent on the next start).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Node config file with an [edge] table (see deploy/edge.toml).
    #[arg(short, long)]
    config: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let file = crate::config::load(&args.config)?;
    let cfg = file
        .edge
        .with_context(|| format!("config {}: no [edge] table", args.config.display()))?;
    crate::runtime()?.block_on(async move {
        let edge = edge::Edge::start(cfg)?;
        tokio::signal::ctrl_c().await?;
        eprintln!("stopping: flushing open tracks and draining the outbox…");
        let stats = edge.shutdown(Duration::from_secs(5)).await;
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
