//! `xueliang bench --only soak`: many low-resolution simulated cameras on one node for minutes,
//! with their servers failing and returning at random, to show that ingest never gives up and
//! that its cost stays flat.
//!
//! Set-up: the street clip is re-encoded once to 160×68 at 10 fps; `groups` child processes of
//! this binary (`xueliang camera`) serve `cameras / groups` mounts each; this process runs one
//! camera supervisor per mount (the real ingest path: RTSP → decode → I420 frames, counted and
//! dropped). Every `fault_every` a random group is either SIGKILLed and restarted on its port a
//! few seconds later, or SIGSTOPped (frozen: no bus message at all) and SIGCONTinued. Measured:
//! CPU of this process per camera, reconnect latency (server back → camera's first frame),
//! resident memory over time. Child processes are always killed, on every path.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use ingest::{CameraEvent, CameraSpec};

/// What a soak run measured.
#[derive(Debug, Default, serde::Serialize)]
pub struct SoakReport {
    pub cameras: usize,
    pub seconds: f64,
    pub faults_injected: u64,
    pub cpu_percent_per_camera: f64,
    pub frames_per_second_total: f64,
    pub reconnect_latency_ms_p50: Option<f64>,
    pub reconnect_latency_ms_p95: Option<f64>,
    pub reconnect_latency_ms_max: Option<f64>,
    pub reconnects_measured: usize,
    pub online_at_end: usize,
    /// Resident memory (MiB) sampled every 10 s, after warm-up.
    pub rss_mib: Vec<f64>,
}

/// One group of cameras served by one child process.
struct Group {
    port: u16,
    names: Vec<String>,
    child: Option<Child>,
}

impl Group {
    fn start(&mut self, clip: &Path) -> anyhow::Result<()> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("camera").arg("--clip").arg(clip);
        cmd.args(["--port", &self.port.to_string()]);
        for n in &self.names {
            cmd.args(["--name", n]);
        }
        let mut child = cmd
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start a camera server process")?;
        // It prints one URL per camera once it listens.
        let out = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(out).lines();
        for _ in &self.names {
            lines
                .next()
                .context("camera server exited before listening")??;
        }
        self.child = Some(child);
        Ok(())
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal("-CONT");
        self.kill();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// xorshift64*: reproducible enough for picking faults; seeded from the clock.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)])
}

pub fn run(
    clip: &Path,
    cameras: usize,
    duration: Duration,
    fault_every: Duration,
    quiet: bool,
) -> anyhow::Result<SoakReport> {
    anyhow::ensure!(cameras >= 1, "--cameras must be at least 1");
    let dir = tempfile::tempdir()?;
    let small: PathBuf = dir.path().join("small.mp4");
    ingest::transcode_clip(clip, &small, 160, 68, 10)?;
    let groups_n = cameras.clamp(1, 5);
    let mut groups = Vec::new();
    for g in 0..groups_n {
        let names: Vec<String> = (0..cameras)
            .filter(|i| i % groups_n == g)
            .map(|i| format!("cam-{:03}", i + 1))
            .collect();
        let mut group = Group {
            port: free_port()?,
            names,
            child: None,
        };
        group.start(&small)?;
        groups.push(group);
    }

    // Camera → (group, online events).
    let online_log: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let frames = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    let mut cam_group = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for name in &group.names {
            let url = format!("rtsp://127.0.0.1:{}/{name}", group.port);
            let spec = CameraSpec::new(name.clone(), &url)?;
            let idx = cam_group.len();
            cam_group.push(g);
            let (f, log) = (frames.clone(), online_log.clone());
            handles.push(ingest::spawn_camera(
                spec,
                move |_| {
                    f.fetch_add(1, Relaxed);
                },
                move |ev| {
                    if let CameraEvent::Online { .. } = ev {
                        log.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((idx, Instant::now()));
                    }
                },
            ));
        }
    }
    let warmup = Duration::from_secs(5);
    std::thread::sleep(warmup);

    let mut rng = Rng(base::now_ms() as u64 | 1);
    let mut report = SoakReport {
        cameras,
        ..Default::default()
    };
    // (group, moment its server was back)
    let mut recoveries: Vec<(usize, Instant)> = Vec::new();
    let (cpu0, f0, t0) = (
        crate::bench::cpu_seconds(),
        frames.load(Relaxed),
        Instant::now(),
    );
    let mut next_fault = t0 + fault_every;
    let mut next_sample = t0;
    // A group that is down: (group, action, when it comes back)
    let mut down: Option<(usize, &str, Instant)> = None;
    while t0.elapsed() < duration {
        let now = Instant::now();
        if now >= next_sample {
            report.rss_mib.push((rss_mib() * 10.0).round() / 10.0);
            if !quiet {
                let online = handles
                    .iter()
                    .filter(|h| h.stats().state() == ingest::CameraState::Online)
                    .count();
                let reconnects: u64 = handles.iter().map(|h| h.stats().reconnects()).sum();
                eprintln!(
                    "  [{:>4.0} s] online {online}/{cameras}, reconnects {reconnects}, faults {}, rss {:.1} MiB",
                    t0.elapsed().as_secs_f64(),
                    report.faults_injected,
                    rss_mib()
                );
            }
            next_sample += Duration::from_secs(10);
        }
        if let Some((g, action, back)) = down {
            if now >= back {
                if action == "kill" {
                    groups[g].start(&small)?;
                } else {
                    groups[g].signal("-CONT");
                }
                recoveries.push((g, Instant::now()));
                down = None;
            }
        } else if now >= next_fault {
            let g = (rng.next() % groups_n as u64) as usize;
            if rng.next().is_multiple_of(2) {
                groups[g].kill();
                down = Some((g, "kill", now + Duration::from_secs(3 + rng.next() % 5)));
            } else {
                groups[g].signal("-STOP");
                down = Some((g, "stop", now + Duration::from_secs(7 + rng.next() % 5)));
            }
            report.faults_injected += 1;
            next_fault = now + fault_every;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Bring everything back and give the cameras time to return.
    if let Some((g, action, _)) = down.take() {
        if action == "kill" {
            groups[g].start(&small)?;
        } else {
            groups[g].signal("-CONT");
        }
        recoveries.push((g, Instant::now()));
    }
    let secs = t0.elapsed().as_secs_f64();
    report.seconds = secs;
    report.cpu_percent_per_camera =
        100.0 * (crate::bench::cpu_seconds() - cpu0) / secs / cameras as f64;
    report.frames_per_second_total = (frames.load(Relaxed) - f0) as f64 / secs;
    let settle = Instant::now() + Duration::from_secs(15);
    while Instant::now() < settle
        && handles
            .iter()
            .any(|h| h.stats().state() != ingest::CameraState::Online)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    report.online_at_end = handles
        .iter()
        .filter(|h| h.stats().state() == ingest::CameraState::Online)
        .count();

    // Reconnect latency: for each recovery of a group, each of its cameras' first Online after it.
    let log = online_log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut lat: Vec<f64> = Vec::new();
    for (g, back) in &recoveries {
        for (cam, grp) in cam_group.iter().enumerate() {
            if grp != g {
                continue;
            }
            if let Some(t) = log
                .iter()
                .filter(|(c, t)| *c == cam && t >= back)
                .map(|(_, t)| *t)
                .min()
            {
                lat.push(t.duration_since(*back).as_secs_f64() * 1e3);
            }
        }
    }
    lat.sort_by(f64::total_cmp);
    report.reconnects_measured = lat.len();
    report.reconnect_latency_ms_p50 = percentile(&lat, 0.5);
    report.reconnect_latency_ms_p95 = percentile(&lat, 0.95);
    report.reconnect_latency_ms_max = lat.last().copied();
    drop(handles);
    drop(groups);
    Ok(report)
}
