//! `xueliang bench`: what this machine does, measured here and now.
//!
//! - decode: N copies of the real clip decoded in parallel at full speed (file → I420), fps;
//! - live: N simulated RTSP cameras pulled in real time, fps delivered and CPU per stream;
//! - detector: ms per frame of the vehicle detector on real decoded frames (mean, p50, p95);
//! - chain: the whole edge (RTSP → decode → detect → track → outbox → gRPC → county) with the
//!   analysis rate unlimited, frames analysed per second for the node;
//! - federation: sightings/s through edge → county → city over TLS, and the edge-to-city
//!   latency at half that rate (see `fedbench`).
//!
//! Numbers only: nothing here asserts a speed.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ingest::{CameraServer, CameraSpec, CameraStats, ClipSpec, FrameSource, Pulled, Source};

#[derive(clap::Args)]
pub struct Args {
    /// Number of streams / simulated cameras.
    #[arg(long, default_value_t = 2)]
    streams: usize,
    /// Seconds each timed part runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// ONNX Runtime intra-op threads per model (detector, classifier, plate reader).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Frames the detector part times.
    #[arg(long, default_value_t = 30)]
    detector_frames: usize,
    /// Cameras in the soak run.
    #[arg(long, default_value_t = 50)]
    cameras: usize,
    /// Seconds the soak run lasts.
    #[arg(long, default_value_t = 180)]
    soak_seconds: u64,
    /// Seconds between two injected faults in the soak run.
    #[arg(long, default_value_t = 15)]
    fault_every: u64,
    /// Sightings the federation part pushes for its sustained rate.
    #[arg(long, default_value_t = 50_000)]
    federation_sightings: u64,
    /// Parts to run (comma-separated): decode, live, detector, chain, federation; and soak
    /// (not run by default: minutes of many cameras with random server kills and freezes).
    #[arg(long, value_delimiter = ',', default_values_t = ["decode".to_string(), "live".into(), "detector".into(), "chain".into(), "federation".into()])]
    only: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Default, serde::Serialize)]
struct Report {
    machine: String,
    streams: usize,
    seconds: u64,
    decode_fps_total: Option<f64>,
    decode_fps_per_stream: Option<f64>,
    live_fps_total: Option<f64>,
    live_cpu_percent_per_stream: Option<f64>,
    detector_ms_mean: Option<f64>,
    detector_ms_p50: Option<f64>,
    detector_ms_p95: Option<f64>,
    classifier_crops: Option<usize>,
    classifier_ms_mean: Option<f64>,
    classifier_ms_p95: Option<f64>,
    plate_ms_mean: Option<f64>,
    plate_ms_p95: Option<f64>,
    chain_analysed_fps: Option<f64>,
    chain_decoded_fps: Option<f64>,
    chain_sightings: Option<u64>,
    chain_cpu_percent: Option<f64>,
    soak: Option<crate::soak::SoakReport>,
    federation: Option<crate::fedbench::FederationReport>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    ingest::init()?;
    let clip = ingest::default_clip_path();
    anyhow::ensure!(
        clip.exists(),
        "clip {} not found; run deploy/setup.sh",
        clip.display()
    );
    let mut r = Report {
        machine: machine(),
        streams: args.streams,
        seconds: args.seconds,
        ..Default::default()
    };
    let dur = Duration::from_secs(args.seconds);
    let wants = |p: &str| args.only.iter().any(|o| o == p);
    if wants("decode") {
        progress(&args, "decode: full-speed file decoding");
        let fps = decode_files(&clip, args.streams, dur)?;
        r.decode_fps_total = Some(fps);
        r.decode_fps_per_stream = Some(fps / args.streams as f64);
    }
    if wants("live") {
        progress(&args, "live: real-time RTSP cameras");
        let (fps, cpu) = live(&clip, args.streams, dur)?;
        r.live_fps_total = Some(fps);
        r.live_cpu_percent_per_stream = Some(cpu / args.streams as f64);
    }
    if wants("detector") {
        progress(&args, "detector: vehicle detector on real frames");
        let (mut ms, mut cls, mut plates) =
            detector(&clip, args.detector_frames, args.threads.max(1))?;
        ms.sort_by(f64::total_cmp);
        r.detector_ms_mean = Some(ms.iter().sum::<f64>() / ms.len() as f64);
        r.detector_ms_p50 = Some(ms[ms.len() / 2]);
        r.detector_ms_p95 = Some(ms[(ms.len() * 95 / 100).min(ms.len() - 1)]);
        if !cls.is_empty() {
            cls.sort_by(f64::total_cmp);
            r.classifier_crops = Some(cls.len());
            r.classifier_ms_mean = Some(cls.iter().sum::<f64>() / cls.len() as f64);
            r.classifier_ms_p95 = Some(cls[(cls.len() * 95 / 100).min(cls.len() - 1)]);
        }
        if !plates.is_empty() {
            plates.sort_by(f64::total_cmp);
            r.plate_ms_mean = Some(plates.iter().sum::<f64>() / plates.len() as f64);
            r.plate_ms_p95 = Some(plates[(plates.len() * 95 / 100).min(plates.len() - 1)]);
        }
    }
    if wants("chain") {
        progress(&args, "chain: whole edge node, analysis unlimited");
        chain(&clip, args.streams, dur, args.threads, &mut r)?;
    }
    if wants("federation") {
        if !args.json {
            eprintln!(
                "… federation: {} sightings edge → county → city over TLS, then latency for {} s",
                args.federation_sightings, args.seconds
            );
        }
        r.federation = Some(crate::fedbench::run(args.federation_sightings, dur)?);
    }
    if wants("soak") {
        if !args.json {
            eprintln!(
                "… soak: {} low-resolution cameras for {} s, a random server group killed or frozen every {} s",
                args.cameras, args.soak_seconds, args.fault_every
            );
        }
        r.soak = Some(crate::soak::run(
            &clip,
            args.cameras,
            Duration::from_secs(args.soak_seconds),
            Duration::from_secs(args.fault_every),
            args.json,
        )?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print_table(&r);
    }
    Ok(())
}

fn progress(args: &Args, what: &str) {
    if !args.json {
        eprintln!("… {what} ({} streams, {} s)", args.streams, args.seconds);
    }
}

fn print_table(r: &Report) {
    println!("machine: {}", r.machine);
    let row = |name: &str, v: Option<f64>, unit: &str| {
        if let Some(v) = v {
            println!("{name:<44} {v:>10.1} {unit}");
        }
    };
    let n = r.streams;
    row(
        &format!("decode, {n} files in parallel, total"),
        r.decode_fps_total,
        "frames/s",
    );
    row("decode, per stream", r.decode_fps_per_stream, "frames/s");
    row(
        &format!("live RTSP, {n} cameras, delivered"),
        r.live_fps_total,
        "frames/s",
    );
    row(
        "live RTSP, CPU per camera",
        r.live_cpu_percent_per_stream,
        "% of a core",
    );
    row("detector, mean", r.detector_ms_mean, "ms/frame");
    row("detector, p50", r.detector_ms_p50, "ms/frame");
    row("detector, p95", r.detector_ms_p95, "ms/frame");
    row(
        "type/appearance classifier, mean",
        r.classifier_ms_mean,
        "ms/vehicle crop",
    );
    row(
        "type/appearance classifier, p95",
        r.classifier_ms_p95,
        "ms/vehicle crop",
    );
    row(
        "plate read (find + read), mean",
        r.plate_ms_mean,
        "ms/vehicle",
    );
    row(
        "plate read (find + read), p95",
        r.plate_ms_p95,
        "ms/vehicle",
    );
    row(
        &format!("whole chain, {n} cameras, analysed"),
        r.chain_analysed_fps,
        "frames/s",
    );
    row("whole chain, decoded", r.chain_decoded_fps, "frames/s");
    row("whole chain, CPU", r.chain_cpu_percent, "% of a core");
    if let Some(s) = r.chain_sightings {
        println!("{:<44} {s:>10} sightings", "whole chain, recorded");
    }
    if let Some(f) = &r.federation {
        row(
            &format!("federation, {} sightings, sustained", f.sightings),
            Some(f.sightings_per_second),
            "sightings/s",
        );
        let at = format!("federation, latency at {:.0}/s", f.latency_rate_per_second);
        row(&format!("{at}, p50"), f.latency_ms_p50, "ms");
        row(&format!("{at}, p95"), f.latency_ms_p95, "ms");
        row(&format!("{at}, max"), f.latency_ms_max, "ms");
    }
    if let Some(s) = &r.soak {
        let c = s.cameras;
        row(
            &format!("soak, {c} cameras, CPU per camera"),
            Some(s.cpu_percent_per_camera),
            "% of a core",
        );
        row(
            "soak, frames delivered",
            Some(s.frames_per_second_total),
            "frames/s",
        );
        row("soak, faults injected", Some(s.faults_injected as f64), "");
        row(
            "soak, reconnect latency p50",
            s.reconnect_latency_ms_p50,
            "ms",
        );
        row(
            "soak, reconnect latency p95",
            s.reconnect_latency_ms_p95,
            "ms",
        );
        row(
            "soak, reconnect latency max",
            s.reconnect_latency_ms_max,
            "ms",
        );
        row(
            "soak, cameras online at the end",
            Some(s.online_at_end as f64),
            "",
        );
        let rss: Vec<String> = s.rss_mib.iter().map(|m| format!("{m:.0}")).collect();
        println!(
            "{:<44} {} MiB",
            "soak, resident memory every 10 s",
            rss.join(" ")
        );
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {model}")
}

/// CPU seconds used by this process so far (user + system), from /proc (Linux, 100 Hz ticks).
pub(crate) fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit(')').next()?.split_whitespace().collect::<Vec<_>>();
            // fields 14 and 15 of stat; `after` starts at field 3
            let u: f64 = after.get(11)?.parse().ok()?;
            let k: f64 = after.get(12)?.parse().ok()?;
            Some((u + k) / 100.0)
        })
        .unwrap_or(0.0)
}

fn decode_files(clip: &std::path::Path, n: usize, dur: Duration) -> anyhow::Result<f64> {
    let frames = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..n)
        .map(|i| {
            let (frames, clip) = (frames.clone(), clip.to_owned());
            std::thread::spawn(move || -> anyhow::Result<()> {
                while start.elapsed() < dur {
                    let src = Source::File { path: clip.clone() };
                    let mut s = FrameSource::open(
                        &format!("bench-{i}"),
                        &src,
                        &Default::default(),
                        Arc::new(CameraStats::default()),
                    )?;
                    loop {
                        match s.pull(Duration::from_secs(5))? {
                            Pulled::Frame(_) => {
                                frames.fetch_add(1, Relaxed);
                                if start.elapsed() >= dur {
                                    break;
                                }
                            }
                            Pulled::Eos => break,
                            Pulled::Timeout => anyhow::bail!("decoder stalled"),
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| anyhow::anyhow!("decode thread panicked"))??;
    }
    Ok(frames.load(Relaxed) as f64 / start.elapsed().as_secs_f64())
}

fn serve(clip: &std::path::Path, n: usize) -> anyhow::Result<CameraServer> {
    let specs: Vec<_> = (0..n)
        .map(|i| ClipSpec::new(format!("cam-{}", i + 1), clip.to_owned()))
        .collect();
    Ok(CameraServer::start(&specs, 0)?)
}

fn live(clip: &std::path::Path, n: usize, dur: Duration) -> anyhow::Result<(f64, f64)> {
    let server = serve(clip, n)?;
    let frames = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for i in 0..n {
        let name = format!("cam-{}", i + 1);
        let spec = CameraSpec::new(name.clone(), &server.url(&name))?;
        let f = frames.clone();
        handles.push(ingest::spawn_camera(
            spec,
            move |_| {
                f.fetch_add(1, Relaxed);
            },
            |_| {},
        ));
    }
    // Let the streams start, then time a steady window.
    std::thread::sleep(Duration::from_secs(2));
    let (f0, c0, t0) = (frames.load(Relaxed), cpu_seconds(), Instant::now());
    std::thread::sleep(dur);
    let (f1, c1, secs) = (
        frames.load(Relaxed),
        cpu_seconds(),
        t0.elapsed().as_secs_f64(),
    );
    drop(handles);
    drop(server);
    Ok(((f1 - f0) as f64 / secs, 100.0 * (c1 - c0) / secs))
}

/// Milliseconds per frame of the detector, and per vehicle of the type/appearance classifier
/// and of the plate reader (on up to three vehicles the detector found in each frame).
fn detector(
    clip: &std::path::Path,
    n: usize,
    threads: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    vision::init(&vision::default_lib_path())?;
    let mut det = vision::Detector::open(
        &vision::default_model_path(),
        vision::DetectorConfig {
            threads,
            ..Default::default()
        },
    )?;
    let src = Source::File {
        path: clip.to_owned(),
    };
    let mut s = FrameSource::open("bench", &src, &Default::default(), Arc::default())?;
    let mut frames = Vec::new();
    while frames.len() < n {
        match s.pull(Duration::from_secs(5))? {
            Pulled::Frame(f) => frames.push(f),
            Pulled::Eos => break,
            Pulled::Timeout => anyhow::bail!("decoder stalled"),
        }
    }
    anyhow::ensure!(
        !frames.is_empty(),
        "no frames decoded from {}",
        clip.display()
    );
    let mut cls = vision::VehicleClassifier::open(&vision::default_classifier_path(), threads)?;
    let mut plates = vision::PlateReader::open(
        &vision::plate::default_detector_path(),
        &vision::plate::default_recogniser_path(),
        threads,
    )?;
    let mut plate_ms = Vec::new();
    det.detect(&frames[0])?; // warm-up
    let mut ms = Vec::new();
    let mut cls_ms = Vec::new();
    for f in &frames {
        let t = Instant::now();
        let found = det.detect(f)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        for d in found.iter().take(3) {
            let t = Instant::now();
            cls.classify(f, &d.bbox)?;
            cls_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            plates.read(f, &d.bbox)?;
            plate_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok((ms, cls_ms, plate_ms))
}

fn chain(
    clip: &std::path::Path,
    n: usize,
    dur: Duration,
    threads: usize,
    r: &mut Report,
) -> anyhow::Result<()> {
    let server = serve(clip, n)?;
    let dir = tempfile::tempdir()?;
    crate::runtime()?.block_on(async {
        let mut county_cfg = platform::PlatformConfig::new("bench-county");
        county_cfg.listen = "127.0.0.1:0".parse()?;
        county_cfg.http_listen = "127.0.0.1:0".parse()?;
        county_cfg.database = Some(dir.path().join("county.sqlite"));
        let county = platform::Platform::start(county_cfg).await?;
        let mut cfg = edge::EdgeConfig::new("bench-edge", county.url());
        cfg.database = Some(dir.path().join("edge.sqlite"));
        cfg.analysis_fps = 0.0;
        cfg.detector.threads = threads;
        cfg.http_listen = "127.0.0.1:0".parse()?;
        cfg.media_listen = "127.0.0.1:0".parse()?;
        for i in 0..n {
            let id = format!("cam-{}", i + 1);
            cfg.cameras.push(edge::CameraConfig {
                url: server.url(&id),
                id,
                password_env: None,
                device_id: None,
            });
        }
        let node = edge::Edge::start(cfg).await.context("starting the edge")?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let sum = |s: &edge::EdgeStats| {
            s.cameras.iter().fold((0, 0), |(a, d), c| {
                (a + c.frames_analysed, d + c.frames_decoded)
            })
        };
        let ((a0, d0), c0, t0) = (sum(&node.stats()), cpu_seconds(), Instant::now());
        tokio::time::sleep(dur).await;
        let ((a1, d1), c1) = (sum(&node.stats()), cpu_seconds());
        let secs = t0.elapsed().as_secs_f64();
        let stats = node.shutdown(Duration::from_secs(2)).await;
        r.chain_analysed_fps = Some((a1 - a0) as f64 / secs);
        r.chain_decoded_fps = Some((d1 - d0) as f64 / secs);
        r.chain_cpu_percent = Some(100.0 * (c1 - c0) / secs);
        r.chain_sightings = Some(stats.recorded);
        county.shutdown().await;
        anyhow::Ok(())
    })?;
    drop(server);
    Ok(())
}
