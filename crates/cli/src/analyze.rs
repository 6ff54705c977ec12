//! `xueliang analyze FILE…`: the edge's vehicle path over recorded video, as fast as the machine
//! allows, into a local store. Investigators pull recordings from a DVR or a phone and get the
//! same sightings (type, colour, appearance, best-shot crop) a live edge would have made.
//!
//! Frames are decoded in order with back-pressure (nothing is skipped), every k-th one is
//! analysed so that `--fps` frames per second of *video* are looked at, and a sighting's times
//! are video time: `--start` (default: the file's modification time minus nothing, i.e. taken as
//! the recording's start) plus the frame's position. Progress goes to stderr once a second.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ingest::{CameraStats, FrameSource, Pulled, Source};

use crate::timefmt;

#[derive(clap::Args)]
pub struct Args {
    /// Video files (anything GStreamer decodes: MP4, MKV, TS, H.264/H.265 …).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// SQLite store for the sightings and crops; reused (each run appends).
    #[arg(long, default_value = "analyze.sqlite")]
    database: PathBuf,
    /// Frames of video analysed per second of video (0 = every frame).
    #[arg(long, default_value_t = 5.0)]
    fps: f64,
    /// Wall-clock time of each file's first frame: "2026-11-28 14:05", RFC 3339, Unix ms, -2h …
    /// [default: the file's modification time].
    #[arg(long, allow_hyphen_values = true)]
    start: Option<String>,
    /// Camera id for the sightings [default: the file name without extension].
    #[arg(long)]
    camera: Option<String>,
    /// Print each sighting as one JSON line on stdout.
    #[arg(long)]
    json: bool,
    /// Vehicle detector model [default: $XUELIANG_HOME/models/yolov12n.onnx].
    #[arg(long)]
    model: Option<PathBuf>,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// The origin of sightings made by `analyze` (their keys read `analyze#<n>`).
const ORIGIN: &str = "analyze";

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.fps >= 0.0 && args.fps.is_finite(),
        "--fps must be 0 or positive"
    );
    anyhow::ensure!(
        args.camera.is_none() || args.files.len() == 1,
        "--camera names one file's camera; with several files each is named after its file"
    );
    for f in &args.files {
        anyhow::ensure!(f.is_file(), "{}: no such file", f.display());
    }
    let detector = edge::DetectorSection {
        model: args.model.clone(),
        threads: args.threads.max(1),
        ..Default::default()
    };
    let mut models = edge::vehicles::Models::open(&detector)?;
    ingest::init()?;
    let store = store::Store::open(&args.database)?;
    let mut total = 0;
    for file in &args.files {
        let n = analyze_file(&args, file, &mut models, &store)?;
        total += n;
    }
    eprintln!(
        "{total} sightings from {} file(s) in {}",
        args.files.len(),
        args.database.display()
    );
    Ok(())
}

fn analyze_file(
    args: &Args,
    file: &Path,
    models: &mut edge::vehicles::Models,
    store: &store::Store,
) -> anyhow::Result<usize> {
    let camera = args.camera.clone().unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into())
    });
    let start_ms = match &args.start {
        Some(t) => timefmt::parse(t, base::now_ms()).context("--start")?,
        None => std::fs::metadata(file)?
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64,
    };
    let mut source = FrameSource::open(
        &camera,
        &Source::File {
            path: file.to_owned(),
        },
        &Default::default(),
        Arc::new(CameraStats::default()),
    )?;
    let mut tracks =
        edge::vehicles::VehicleTracks::new(&camera, camera.clone(), Default::default());
    let began = Instant::now();
    let mut last_report = Instant::now();
    let (mut decoded, mut analysed, mut sightings) = (0u64, 0u64, 0usize);
    let mut every = 1u64;
    let mut frame_ms = 40.0;
    loop {
        let frame = match source.pull(Duration::from_secs(30))? {
            Pulled::Frame(f) => f,
            Pulled::Eos => break,
            Pulled::Timeout => anyhow::bail!("{}: the decoder stalled for 30 s", file.display()),
        };
        if decoded == 0 {
            let fps = source.info().and_then(|i| i.fps).unwrap_or(25.0);
            frame_ms = 1000.0 / fps;
            every = if args.fps > 0.0 {
                (fps / args.fps).round().max(1.0) as u64
            } else {
                1
            };
        }
        decoded += 1;
        if (decoded - 1) % every != 0 {
            continue;
        }
        let mut frame = frame;
        frame.captured_ms = start_ms + ((decoded - 1) as f64 * frame_ms) as i64;
        let dets = models.detector.detect_batch(&[&frame])?;
        tracks.observe(&frame, &dets[0]);
        analysed += 1;
        sightings += record(store, tracks.finished(&mut models.attributes), args.json)?;
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let video_s = decoded as f64 * frame_ms / 1000.0;
            eprint!(
                "\r{}: {video_s:.0} s of video, {analysed} frames analysed, {sightings} vehicles, {:.1}x real time   ",
                file.display(),
                video_s / began.elapsed().as_secs_f64().max(1e-9)
            );
        }
    }
    tracks.flush();
    sightings += record(store, tracks.finished(&mut models.attributes), args.json)?;
    let video_s = decoded as f64 * frame_ms / 1000.0;
    eprintln!(
        "\r{}: {video_s:.1} s of video, {analysed} of {decoded} frames analysed, {sightings} vehicles, in {:.1} s   ",
        file.display(),
        began.elapsed().as_secs_f64()
    );
    Ok(sightings)
}

/// Stores finished vehicles (crops first, so each sighting carries its reference).
fn record(
    store: &store::Store,
    finished: Vec<edge::vehicles::Finished>,
    json: bool,
) -> anyhow::Result<usize> {
    if finished.is_empty() {
        return Ok(0);
    }
    let mut batch = Vec::with_capacity(finished.len());
    for f in finished {
        let mut s = f.sighting;
        if let Some(jpeg) = f.crop {
            s.crop_ref = store::crop_ref(ORIGIN, store.put_crop(&jpeg)?);
        }
        if let Some(jpeg) = f.plate_crop {
            s.plate_crop_ref = store::crop_ref(ORIGIN, store.put_crop(&jpeg)?);
        }
        batch.push(s);
    }
    let recorded = store.record(ORIGIN, batch)?;
    if json {
        for s in &recorded {
            println!("{}", serde_json::to_string(s)?);
        }
    }
    Ok(recorded.len())
}
