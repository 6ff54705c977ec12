//! `xueliang camera`: serves clips as simulated RTSP cameras on this machine, looping forever.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// H.264 MP4 clip to serve [default: $XUELIANG_HOME/media/bikes.mp4].
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Camera names (mount points); each serves the clip independently.
    #[arg(long = "name", default_values_t = ["cam-1".to_string()])]
    names: Vec<String>,
    /// RTSP port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8554)]
    port: u16,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    ingest::init()?;
    let clip = args.clip.unwrap_or_else(ingest::default_clip_path);
    let specs: Vec<_> = args
        .names
        .iter()
        .map(|n| ingest::ClipSpec::new(n.clone(), clip.clone()))
        .collect();
    let server = ingest::CameraServer::start(&specs, args.port)?;
    for n in &args.names {
        println!("{}", server.url(n));
    }
    eprintln!("serving {} camera(s); Ctrl-C to stop", args.names.len());
    crate::runtime()?.block_on(tokio::signal::ctrl_c())?;
    drop(server);
    Ok(())
}
