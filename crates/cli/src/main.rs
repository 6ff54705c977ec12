//! `xueliang`: the one binary. One file per subcommand, each an `Args` and a `run`.
//!
//! Errors reach the user as one line (`error: …` with its causes joined by `: `), never a
//! backtrace, and the exit status is 1; usage errors exit 2 (clap).

use clap::{Parser, Subcommand};

mod analyze;
mod bench;
mod camera;
mod cameras;
mod certs;
mod client;
mod config;
mod crop;
mod demo;
mod edge;
mod fedbench;
mod feed;
mod investigate;
mod plates;
mod platform;
mod search;
mod simulate;
mod soak;
mod synth;
mod timefmt;
mod token;

/// Xueliang: video-surveillance ingest and vehicle analytics for city camera networks.
///
/// Edge nodes pull RTSP cameras, detect vehicles and push one sighting per vehicle to a county
/// platform, which stores it and forwards it to the city; investigators search any platform.
#[derive(Parser)]
#[command(name = "xueliang", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole system on this machine: simulated cameras, an edge, a county and a city.
    Demo(demo::Args),
    /// Run an edge node from a config file (cameras → detection → county).
    Edge(edge::Args),
    /// Find the vehicles in recorded video files, into a local store.
    Analyze(analyze::Args),
    /// Read Chinese licence plates in still images, or measure the reader on an evaluation set.
    Plates(plates::Args),
    /// Run a county or city platform from a config file.
    Platform(platform::Args),
    /// Search the sightings a platform holds, or run an investigator operation.
    Search(Box<search::Args>),
    /// Fetch a sighting's best-shot crop (JPEG) by its reference.
    Crop(crop::Args),
    /// Camera health at a platform: online rate, faulty cameras and why.
    Cameras(cameras::Args),
    /// Serve video clips as simulated RTSP cameras.
    Camera(camera::Args),
    /// Measure decode, detector and whole-chain speed on this machine.
    Bench(bench::Args),
    /// Push synthetic sightings upstream as an edge node would (load and chaos tests).
    Feed(feed::Args),
    /// Generate a synthetic city with planted cases and feed it through a local federation.
    Simulate(simulate::Args),
    /// Make a development CA and node certificates for TLS between tiers.
    Certs(certs::Args),
    /// Make an API token (investigator, operator or admin) and its config entry.
    Token(token::Args),
}

fn main() {
    let cli = Cli::parse();
    // `xueliang search | head` ends quietly, as a Unix tool should, instead of panicking. Only
    // for commands that print results: a service must never die of SIGPIPE, which a vectored
    // write to a socket whose peer vanished raises (the federation chaos test caught a county
    // killed that way when the city went down).
    if matches!(
        cli.command,
        Command::Search(_)
            | Command::Cameras(_)
            | Command::Crop(_)
            | Command::Plates(_)
            | Command::Analyze(_)
            | Command::Token(_)
            | Command::Certs(_)
    ) {
        sigpipe::reset();
    }
    init_logging(match cli.command {
        // Measurements print their own table; only errors interrupt it.
        Command::Bench(_) => "error",
        Command::Demo(_)
        | Command::Search(_)
        | Command::Cameras(_)
        | Command::Crop(_)
        | Command::Analyze(_)
        | Command::Plates(_)
        | Command::Feed(_)
        | Command::Simulate(_) => "warn",
        _ => "info",
    });
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Edge(a) => edge::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Plates(a) => plates::run(a),
        Command::Platform(a) => platform::run(a),
        Command::Search(a) => search::run(*a),
        Command::Cameras(a) => cameras::run(a),
        Command::Crop(a) => crop::run(a),
        Command::Camera(a) => camera::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Feed(a) => feed::run(a),
        Command::Certs(a) => certs::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Token(a) => token::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Logs go to stderr; `RUST_LOG` overrides. Interactive commands default to warnings only so
/// their own output stays readable; services default to info.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// A multi-threaded tokio runtime for the I/O side (gRPC); compute runs on its own threads.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
