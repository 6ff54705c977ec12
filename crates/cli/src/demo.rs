//! `xueliang demo`: the whole system on one machine, all on 127.0.0.1, embedded defaults only.
//!
//! Simulated RTSP cameras serve real street footage; one edge node pulls them, detects and
//! tracks vehicles and sends sightings to a county platform, which stores them and forwards
//! them to a city platform. Each sighting that reaches the city is printed as one line; Ctrl-C
//! (or `--seconds`) stops everything in order (cameras, edge flush, outbox drain) and prints a
//! summary per camera and per tier.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::timefmt;

#[derive(clap::Args)]
pub struct Args {
    /// Number of simulated cameras.
    #[arg(long, default_value_t = 2)]
    cameras: usize,
    /// Stop after this many seconds (0 = run until Ctrl-C).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
    /// Frames analysed per second per camera.
    #[arg(long, default_value_t = 3.0)]
    analysis_fps: f32,
    /// Where the SQLite files go [default: $XUELIANG_HOME/demo]; emptied at start.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Clip the cameras serve [default: $XUELIANG_HOME/media/bikes.mp4].
    #[arg(long)]
    clip: Option<PathBuf>,
    /// RTSP port of the simulated cameras.
    #[arg(long, default_value_t = 8554)]
    rtsp_port: u16,
    /// gRPC port of the county platform.
    #[arg(long, default_value_t = 7100)]
    county_port: u16,
    /// gRPC port of the city platform (the default server of `xueliang search`).
    #[arg(long, default_value_t = 7200)]
    city_port: u16,
}

const CAMERA_NAMES: [&str; 8] = [
    "gate-east",
    "bridge-north",
    "market-west",
    "school-south",
    "toll-1",
    "toll-2",
    "ring-3",
    "ring-4",
];

fn camera_name(i: usize) -> String {
    CAMERA_NAMES
        .get(i)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("cam-{}", i + 1))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=32).contains(&args.cameras),
        "--cameras must be between 1 and 32"
    );
    let home = vision::runtime::home_dir();
    let dir = args.data_dir.clone().unwrap_or_else(|| home.join("demo"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let clip = args.clip.clone().unwrap_or_else(ingest::default_clip_path);
    ingest::init()?;
    let specs: Vec<_> = (0..args.cameras)
        .map(|i| ingest::ClipSpec::new(camera_name(i), clip.clone()))
        .collect();
    let cameras = ingest::CameraServer::start(&specs, args.rtsp_port).with_context(|| {
        format!(
            "starting the simulated cameras (--rtsp-port {})",
            args.rtsp_port
        )
    })?;

    // Every tier speaks TLS with its own certificate from a fresh development CA, and the
    // platforms admit one admin token, kept in a file only this user can read.
    let pki = dir.join("pki");
    uplink::tls::dev_ca::ensure_ca(&pki)?;
    for node in ["city", "county-1", "edge-1"] {
        uplink::tls::dev_ca::issue(&pki, node, &["127.0.0.1".into(), "localhost".into()])?;
    }
    let (token, token_sha256) = platform::auth::new_token().map_err(anyhow::Error::msg)?;
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{token}\n"))
        .with_context(|| format!("cannot write {}", token_file.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))?;
    }
    let tokens = vec![platform::auth::TokenConfig {
        name: "demo".into(),
        role: platform::auth::Role::Admin,
        sha256: token_sha256,
    }];

    crate::runtime()?.block_on(async {
        let mut city_cfg = platform::PlatformConfig::new("city");
        city_cfg.tls = Some(uplink::TlsConfig::in_dir(&pki, "city"));
        city_cfg.token = tokens.clone();
        city_cfg.listen = ([127, 0, 0, 1], args.city_port).into();
        city_cfg.http_listen = ([127, 0, 0, 1], args.city_port.saturating_add(80)).into();
        city_cfg.database = Some(dir.join("city.sqlite"));
        let city = platform::Platform::start(city_cfg)
            .await
            .context("starting the city platform (--city-port)")?;
        let mut county_cfg = platform::PlatformConfig::new("county-1");
        county_cfg.listen = ([127, 0, 0, 1], args.county_port).into();
        county_cfg.http_listen = ([127, 0, 0, 1], args.county_port.saturating_add(80)).into();
        county_cfg.database = Some(dir.join("county-1.sqlite"));
        county_cfg.upstream = Some(city.url());
        county_cfg.tls = Some(uplink::TlsConfig::in_dir(&pki, "county-1"));
        county_cfg.token = tokens.clone();
        let county = platform::Platform::start(county_cfg)
            .await
            .context("starting the county platform (--county-port)")?;

        let mut edge_cfg = edge::EdgeConfig::new("edge-1", county.url());
        edge_cfg.database = Some(dir.join("edge-1.sqlite"));
        edge_cfg.tls = Some(uplink::TlsConfig::in_dir(&pki, "edge-1"));
        edge_cfg.analysis_fps = args.analysis_fps;
        edge_cfg.health_interval_s = 5;
        for spec in &specs {
            edge_cfg.cameras.push(edge::CameraConfig {
                id: spec.name.clone(),
                url: cameras.url(&spec.name),
                password_env: None,
                device_id: None,
            });
        }
        let mut arrivals = city.subscribe();
        let edge = edge::Edge::start(edge_cfg).await?;
        banner(
            &args,
            &cameras,
            &specs,
            &county,
            &city,
            &edge.http_url(),
            &dir,
        );

        let started = Instant::now();
        let deadline = (args.seconds > 0).then(|| tokio::time::Instant::now() + Duration::from_secs(args.seconds));
        let mut status = tokio::time::interval(Duration::from_secs(30));
        status.tick().await;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
                s = arrivals.recv() => match s {
                    Ok(s) => print_sighting(&s),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        println!("({n} sightings arrived faster than this console prints; they are stored)");
                    }
                    Err(_) => break,
                },
                _ = status.tick() => {
                    let st = edge.stats();
                    let (dec, ana) = st.cameras.iter().fold((0, 0), |(d, a), c| (d + c.frames_decoded, a + c.frames_analysed));
                    eprintln!(
                        "  [{}] edge decoded {dec} frames, analysed {ana} ({:.0} ms each); sightings: edge {}, county {}, city {}",
                        fmt_elapsed(started.elapsed()), st.detector_ms, st.recorded,
                        county.stats().map(|s| s.stats.sightings).unwrap_or(0),
                        city.stats().map(|s| s.stats.sightings).unwrap_or(0),
                    );
                }
            }
        }
        eprintln!("\nstopping: cameras off, open tracks flushed into sightings, outboxes drained…");
        let edge_stats = edge.shutdown(Duration::from_secs(10)).await;
        // Let the county hand its last batch to the city, printing what arrives meanwhile.
        let drain_until = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < drain_until
            && county.stats().map(|s| s.stats.outbox_pending).unwrap_or(0) > 0
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Ok(s) = arrivals.try_recv() {
            print_sighting(&s);
        }
        summary(started.elapsed(), &edge_stats, &county, &city);
        county.shutdown().await;
        city.shutdown().await;
        anyhow::Ok(())
    })?;
    drop(cameras);
    Ok(())
}

fn banner(
    args: &Args,
    cameras: &ingest::CameraServer,
    specs: &[ingest::ClipSpec],
    county: &platform::Platform,
    city: &platform::Platform,
    edge_http: &str,
    dir: &std::path::Path,
) {
    println!("Xueliang demo: the whole system on this machine, all on 127.0.0.1");
    println!(
        "  cameras  {} simulated RTSP cameras, each looping real street footage ({}):",
        specs.len(),
        specs[0]
            .path
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default()
    );
    for s in specs {
        println!("             {:<14} {}", s.name, cameras.url(&s.name));
    }
    println!(
        "  edge-1   pulls the cameras, detects vehicles {} times a second per camera (YOLOv12n, ONNX Runtime),",
        args.analysis_fps
    );
    println!("           tracks each one, and sends one sighting per vehicle to the county");
    println!(
        "  county-1 {}  stores sightings in SQLite and forwards them to the city",
        county.url()
    );
    println!(
        "  city     {}  stores sightings and camera health in SQLite",
        city.url()
    );
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "xueliang".into());
    println!(
        "  every tier speaks TLS with its own certificate ({}),",
        dir.join("pki").display()
    );
    println!(
        "  and the platforms admit one admin API token ({}).",
        dir.join("token").display()
    );
    println!("  try, in another terminal:");
    println!(
        "           export XUELIANG_CA={} XUELIANG_TOKEN=$(cat {})",
        dir.join("pki").join("ca.pem").display(),
        dir.join("token").display()
    );
    println!(
        "           {exe} search --server {} --from -10m",
        city.url()
    );
    println!("           {exe} cameras --server {} --all", city.url());
    println!(
        "           curl --cacert $XUELIANG_CA -H \"Authorization: Bearer $XUELIANG_TOKEN\" '{}/api/v1/cameras'",
        city.http_url()
    );
    println!(
        "           curl --cacert $XUELIANG_CA {}/metrics    (the edge's, plain on loopback: {}/metrics)",
        city.http_url(),
        edge_http
    );
    println!("  data     {}", dir.display());
    println!();
    println!("Each line below is one vehicle that passed a camera, as it reaches the city.");
    println!("A vehicle becomes a sighting once it has left the view. Ctrl-C stops and prints a summary.");
    println!();
    println!(
        "{:<8}  {:<14}  {:<10}  {:>5}  {:<22}  {:>6}  sighting",
        "arrived", "camera", "vehicle", "conf", "in view", "frames"
    );
}

fn print_sighting(s: &base::Sighting) {
    let seen = format!(
        "{} for {:.1}s",
        timefmt::clock(s.first_seen_ms),
        (s.last_seen_ms - s.first_seen_ms) as f64 / 1000.0
    );
    println!(
        "{:<8}  {:<14}  {:<10}  {:>5.2}  {:<22}  {:>6}  {} → county-1 → city",
        timefmt::clock(base::now_ms()),
        s.camera,
        s.class.name(),
        s.class_confidence,
        seen,
        s.frames,
        s.key
    );
}

fn fmt_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}m{:02}s", s / 60, s % 60)
}

fn summary(
    elapsed: Duration,
    edge: &edge::EdgeStats,
    county: &platform::Platform,
    city: &platform::Platform,
) {
    println!();
    println!("Summary after {}", fmt_elapsed(elapsed));
    println!(
        "  {:<14} {:<10} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "camera", "state", "decoded", "analysed", "skipped", "sightings", "reconnects"
    );
    for c in &edge.cameras {
        println!(
            "  {:<14} {:<10} {:>9} {:>9} {:>9} {:>10} {:>10}",
            c.id,
            c.state,
            c.frames_decoded,
            c.frames_analysed,
            c.frames_skipped,
            c.sightings,
            c.reconnects
        );
        if !c.reason.is_empty() {
            println!("  {:<14} last problem: {}", "", c.reason);
        }
    }
    println!("  (skipped = decoded but not analysed: frames above the analysis rate)");
    println!("  detector: {:.1} ms per frame", edge.detector_ms);
    println!();
    println!(
        "  {:<10} {:>10} {:>20} {:>6}",
        "tier", "sightings", "waiting to forward", "shed"
    );
    println!(
        "  {:<10} {:>10} {:>20} {:>6}",
        "edge-1", edge.recorded, edge.outbox_pending, edge.outbox_shed
    );
    for p in [county, city] {
        match p.stats() {
            Ok(s) => println!(
                "  {:<10} {:>10} {:>20} {:>6}",
                p.node(),
                s.stats.sightings,
                if s.upstream_connected.is_some() {
                    s.stats.outbox_pending.to_string()
                } else {
                    "-".into()
                },
                s.stats.outbox_shed_total
            ),
            Err(e) => println!("  {:<10} stats unavailable: {e}", p.node()),
        }
    }
    for p in [county, city] {
        if let Ok(rows) = p.store().cameras() {
            // The operators' own rule (fresh report, online), as `xueliang cameras` shows it.
            let o = platform::overview(rows, base::now_ms(), 60_000, false, None);
            println!(
                "  {:<10} cameras online in its last health report: {} of {}",
                p.node(),
                o.online,
                o.cameras
            );
        }
    }
}
