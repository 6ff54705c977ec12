//! `xueliang search`: sightings from a platform over gRPC, as a table or JSON lines. With an
//! operation (`xueliang search find|trajectory|together|…`) it runs the investigators'
//! operations in `investigate.rs`; without one, the v1 search by time, camera and class.

use anyhow::Context;
use proto::v1;

use crate::timefmt;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    op: Option<crate::investigate::Op>,
    #[command(flatten)]
    server: crate::client::Server,
    /// Start of the time range: now, -15m, -2h, -1d, "2026-11-28 14:05", RFC 3339, Unix ms.
    #[arg(long, default_value = "-1h", allow_hyphen_values = true)]
    from: String,
    /// End of the time range (exclusive).
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    to: String,
    /// Only these cameras (repeat or comma-separate).
    #[arg(long = "camera", value_delimiter = ',')]
    cameras: Vec<String>,
    /// Only these vehicle classes: car, suv, pickup, van, bus, truck, motorcycle, bicycle.
    #[arg(long = "class", value_delimiter = ',')]
    classes: Vec<base::VehicleClass>,
    /// At most this many sightings (newest first).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(op) = args.op {
        return crate::investigate::run(op);
    }
    let now = base::now_ms();
    let from_ms = timefmt::parse(&args.from, now).context("--from")?;
    let to_ms = timefmt::parse(&args.to, now).context("--to")?;
    let request = v1::SearchRequest {
        from_ms,
        to_ms,
        cameras: args.cameras.clone(),
        classes: args.classes.iter().map(|c| c.code()).collect(),
        limit: args.limit,
        cursor: String::new(),
    };
    let server = args.server.clone();
    let response = crate::runtime()?.block_on(async move {
        let mut client = v1::search_client::SearchClient::new(server.channel().await?);
        client
            .search(server.request(request)?)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| server.refused(s))
    })?;
    let sightings = response
        .sightings
        .into_iter()
        .map(base::Sighting::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    if args.json {
        for s in &sightings {
            println!("{}", serde_json::to_string(s)?);
        }
        return Ok(());
    }
    table(&sightings);
    println!(
        "{} of {} matching sightings between {} and {}",
        sightings.len(),
        response.total,
        timefmt::datetime(from_ms),
        timefmt::datetime(to_ms)
    );
    Ok(())
}

/// Sightings as a table, one per line.
pub(crate) fn table(sightings: &[base::Sighting]) {
    println!(
        "{:<19}  {:<14}  {:<10}  {:>5}  {:<7}  {:<10}  {:>6}  {:<12}  sighting",
        "pass time", "camera", "class", "conf", "colour", "heading", "frames", "plate"
    );
    for s in sightings {
        let plate = s
            .plate
            .text
            .clone()
            .unwrap_or_else(|| s.plate.state.to_string());
        println!(
            "{:<19}  {:<14}  {:<10}  {:>5.2}  {:<7}  {:<10}  {:>6}  {:<12}  {}",
            timefmt::datetime(s.pass_time_ms),
            s.camera,
            s.class.name(),
            s.class_confidence,
            s.color.name(),
            s.direction_name().unwrap_or("-"),
            s.frames,
            plate,
            s.key
        );
    }
}
