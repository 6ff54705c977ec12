//! `xueliang platform --config FILE`: runs a county (with `upstream`) or city platform until
//! Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Node config file with a [platform] table (see deploy/county.toml, deploy/city.toml).
    #[arg(short, long)]
    config: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let file = crate::config::load(&args.config)?;
    let cfg = file
        .platform
        .with_context(|| format!("config {}: no [platform] table", args.config.display()))?;
    crate::runtime()?.block_on(async move {
        let node = platform::Platform::start(cfg).await?;
        eprintln!("{} listening on {}", node.node(), node.url());
        tokio::signal::ctrl_c().await?;
        node.shutdown().await;
        Ok(())
    })
}
