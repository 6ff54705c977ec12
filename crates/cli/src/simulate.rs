//! `xueliang simulate`: a synthetic city with planted cases, fed through the real federation.
//!
//! Generates the city ([`city`]: Yuncheng's 13 counties, ring, checkpoint and town cameras,
//! days of traffic ending at the last local midnight, and a covered-plate white SUV, a cloned
//! plate, a companion pair and a first entry whose answers are known), starts a city platform,
//! one county platform and one edge outbox per county in this process over TLS from a
//! development CA ([`federation`]), pushes every sighting edge → county → city through the
//! uplink, writes the camera positions to the platforms' stores, and prints the planted cases
//! as JSON. The databases and the PKI stay in `--out`, so `xueliang platform` can serve the
//! city afterwards.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

pub mod city;
pub mod federation;
pub mod planted;

#[derive(clap::Args)]
pub struct Args {
    /// Seed of the city, its traffic and its planted cases.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Days of traffic, ending at the last local (UTC+8) midnight.
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// Ordinary vehicles (about 10 sightings each a day).
    #[arg(long, default_value_t = 5_000)]
    vehicles: u32,
    /// Counties with cameras (2 to 13; the city proper is always one).
    #[arg(long, default_value_t = city::MAX_COUNTIES)]
    counties: usize,
    /// Directory for the PKI and the nodes' databases; must be new or empty.
    #[arg(long)]
    out: PathBuf,
    /// Also write the planted cases (JSON) to this file.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Give up if the city does not hold every sighting after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_s: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.out.exists() {
        let mut entries =
            std::fs::read_dir(&args.out).with_context(|| format!("read {}", args.out.display()))?;
        anyhow::ensure!(
            entries.next().is_none(),
            "{} is not empty (a second run would duplicate the edges' sightings)",
            args.out.display()
        );
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    let days = args.days;
    let params = city::Params {
        seed: args.seed,
        days,
        vehicles: args.vehicles,
        counties: args.counties,
        start_ms: city::local_midnight(base::now_ms()) - i64::from(days) * 86_400_000,
    };
    params.validate().map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let city = city::generate(&params).map_err(anyhow::Error::msg)?;
    eprintln!(
        "simulate: {} sightings from {} to {} ({} days) at {} cameras in {} counties, generated in {:.1} s",
        city.total(),
        city.start_ms,
        city.end_ms,
        days,
        city.cameras.len(),
        city.counties.len(),
        started.elapsed().as_secs_f64()
    );
    let truth = serde_json::to_string_pretty(&city.truth)?;
    if let Some(path) = &args.truth {
        std::fs::write(path, &truth).with_context(|| format!("write {}", path.display()))?;
    }
    let out = args.out.clone();
    let timeout = Duration::from_secs(args.timeout_s);
    crate::runtime()?.block_on(async {
        let fed = federation::Federation::start(&out, &city).await?;
        eprintln!(
            "simulate: city at {}, {} county platforms and edges",
            fed.city.url(),
            fed.counties.len()
        );
        let fed_started = Instant::now();
        let result = fed
            .feed(&city, timeout, |n, total| {
                let secs = fed_started.elapsed().as_secs_f64().max(1e-9);
                eprintln!(
                    "simulate: city holds {n}/{total} ({:.0}/s)",
                    n as f64 / secs
                );
            })
            .await;
        fed.shutdown().await;
        result
    })?;
    for (node, list) in &city.sightings {
        eprintln!("simulate: {node}: {} sightings", list.len());
    }
    eprintln!(
        "simulate: done in {:.1} s; databases and PKI in {}",
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    println!("{truth}");
    Ok(())
}
