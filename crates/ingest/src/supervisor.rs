//! Camera supervisors: one thread per camera that keeps its pipeline alive and hands every
//! frame to a sink.
//!
//! [`spawn_camera`] starts a `CameraSupervisor` on its own thread and returns a
//! [`CameraHandle`]. For a live source the supervisor treats a bus ERROR, an EOS (a killed TCP
//! server gives EOS, not ERROR) and the no-frame watchdog (a frozen server gives no bus message
//! at all) alike: tear the pipeline down, report [`CameraEvent::Offline`] with a one-line reason
//! naming the camera and its redacted URL, wait out an exponential backoff, reconnect, forever.
//! The backoff goes from `backoff_initial` doubling to `backoff_max` and resets once frames
//! flowed; each wait is spread by ±`backoff_jitter` (20 %) with a per-camera random stream, so
//! cameras that lost the same switch do not all knock again in the same instant.
//! A finite source (file, counted test pattern) ends at EOS with [`CameraEvent::Finished`];
//! an error there is final too, since retrying a broken file cannot help.
//!
//! Invariants: one camera's failure never touches another (each has its own thread and
//! pipeline); the sink and the event callback run on the camera's own thread, in order; stop
//! is prompt (the thread polls its stop signal at least every 100 ms and backoff sleeps wake on
//! it). Performance: the thread sleeps in a condition variable between frames; per frame it
//! costs the copy in [`FrameSource::pull`] and a few atomic adds in [`CameraStats`].
//!
//! Resident memory levels off however often cameras reconnect. A dropped attempt frees its
//! whole pipeline (the unit tests in `source.rs` check every element and pad by weak
//! reference), but glibc keeps what a pipeline freed: its streaming and decoder threads are new
//! on every attempt, each allocates from one of up to 8 malloc arenas per core, and the freed
//! blocks end up as holes between other cameras' live ones that `free` never returns. On the
//! soak run (50 cameras, a server killed or frozen every 15 s) the live heap stayed at
//! 100–120 MiB while resident memory grew by 0.3 MiB per reconnect, without end. So after each
//! attempt the supervisor hands free heap pages back to the OS (`malloc_trim`, a few ms for 50
//! cameras), at most once per [`TRIM_INTERVAL`] for the whole process; what remains is
//! fragmentation within pages, which stops growing after a few hundred reconnects.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base::Frame;
use tracing::{debug, info, info_span, warn};

use crate::error::{Error, Result};
use crate::source::{FrameSource, Pulled, Source, SourceOptions, StreamInfo};
use crate::stats::{CameraState, CameraStats};

/// How often a camera thread looks at its stop signal while waiting for frames.
const POLL: Duration = Duration::from_millis(100);

/// Shortest time between two heap trims in the process (see [`release_freed_memory`]).
const TRIM_INTERVAL: Duration = Duration::from_secs(1);

/// When the heap was last trimmed; held while trimming.
static LAST_TRIM: Mutex<Option<Instant>> = Mutex::new(None);

/// What to supervise and how.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSpec {
    /// Camera id as configured; appears in every event, log line and error.
    pub id: String,
    pub source: Source,
    pub options: SourceOptions,
    /// Reconnect when no frame arrived for this long (also bounds connecting). Default 5 s.
    pub watchdog: Duration,
    /// First wait before reconnecting. Default 0.5 s.
    pub backoff_initial: Duration,
    /// Longest wait before reconnecting. Default 10 s.
    pub backoff_max: Duration,
    /// Each wait is drawn uniformly from ±this fraction around the nominal one, and never
    /// exceeds `backoff_max`. 0 disables jitter. Default 0.2.
    pub backoff_jitter: f64,
}

impl CameraSpec {
    /// A camera with default timings; `location` as for [`Source::parse`].
    pub fn new(id: impl Into<String>, location: &str) -> Result<CameraSpec> {
        Ok(CameraSpec::with_source(id, Source::parse(location)?))
    }

    pub fn with_source(id: impl Into<String>, source: Source) -> CameraSpec {
        CameraSpec {
            id: id.into(),
            source,
            options: SourceOptions::default(),
            watchdog: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(10),
            backoff_jitter: 0.2,
        }
    }
}

/// A camera's state changes, reported in order on the camera's thread.
#[derive(Debug, Clone, PartialEq)]
pub enum CameraEvent {
    /// Attempt number `attempt` (from 1) to open the source has started.
    Connecting { camera: Arc<str>, attempt: u64 },
    /// The first frame of this attempt was decoded.
    Online { camera: Arc<str>, info: StreamInfo },
    /// The attempt failed. `retry_in` is the backoff before the next one, `None` when the
    /// supervisor gives up (finite sources).
    Offline {
        camera: Arc<str>,
        reason: String,
        retry_in: Option<Duration>,
    },
    /// A finite source reached its end after delivering `frames` frames.
    Finished { camera: Arc<str>, frames: u64 },
    /// Stopped through its handle.
    Stopped { camera: Arc<str> },
}

impl CameraEvent {
    pub fn camera(&self) -> &str {
        match self {
            CameraEvent::Connecting { camera, .. }
            | CameraEvent::Online { camera, .. }
            | CameraEvent::Offline { camera, .. }
            | CameraEvent::Finished { camera, .. }
            | CameraEvent::Stopped { camera } => camera,
        }
    }
}

/// Exponential backoff between reconnects, with jitter.
#[derive(Debug, Clone)]
struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    jitter: f64,
    rng: XorShift,
}

impl Backoff {
    /// `jitter` is clamped to [0, 1]; `seed` makes the jitter reproducible.
    fn new(initial: Duration, max: Duration, jitter: f64, seed: u64) -> Self {
        let max = max.max(initial);
        Backoff {
            initial,
            max,
            next: initial,
            jitter: if jitter.is_finite() {
                jitter.clamp(0.0, 1.0)
            } else {
                0.0
            },
            rng: XorShift::new(seed),
        }
    }

    /// The wait before the next attempt: the nominal one ±jitter, at most the cap. The
    /// nominal wait doubles for the attempt after, up to the cap.
    fn next_delay(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(self.max);
        let factor = 1.0 + self.jitter * (2.0 * self.rng.next_f64() - 1.0);
        nominal.mul_f64(factor).min(self.max)
    }

    fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// xorshift64*: a few nanoseconds per number, plenty for spreading reconnects.
#[derive(Debug, Clone)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Zero is the one state xorshift never leaves.
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A per-process, per-camera seed: std's randomly keyed hasher over the camera id.
fn jitter_seed(camera: &str) -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(camera.as_bytes());
    h.finish()
}

/// A settable flag threads can sleep on.
#[derive(Debug, Default)]
struct Signal {
    set: Mutex<bool>,
    cond: Condvar,
}

impl Signal {
    fn raise(&self) {
        *self.set.lock().unwrap() = true;
        self.cond.notify_all();
    }

    fn is_set(&self) -> bool {
        *self.set.lock().unwrap()
    }

    /// Sleeps up to `d`; true if the signal is (or became) set.
    fn wait(&self, d: Duration) -> bool {
        let guard = self.set.lock().unwrap();
        let (guard, _) = self.cond.wait_timeout_while(guard, d, |set| !*set).unwrap();
        *guard
    }
}

/// Owner of a running camera thread. Dropping it stops the camera.
#[derive(Debug)]
pub struct CameraHandle {
    camera: Arc<str>,
    source: String,
    stats: Arc<CameraStats>,
    stop: Arc<Signal>,
    done: Arc<Signal>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl CameraHandle {
    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// The camera's live counters and health.
    pub fn stats(&self) -> &Arc<CameraStats> {
        &self.stats
    }

    /// Codec, resolution and declared frame rate of the latest connection that decoded a
    /// frame (kept while the camera is offline); `None` before the first frame.
    pub fn stream_info(&self) -> Option<StreamInfo> {
        self.stats.stream_info()
    }

    /// True once the thread has ended (finite source done, final error, or stopped).
    pub fn is_finished(&self) -> bool {
        self.done.is_set()
    }

    /// Waits up to `timeout` for the thread to end; true if it did.
    pub fn wait(&self, timeout: Duration) -> bool {
        self.done.wait(timeout)
    }

    /// Stops the camera and waits for its thread (promptly: at most one poll interval plus
    /// the pipeline teardown).
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Waits for a finite source to end. Ok after EOS or a stop; the final error of a finite
    /// source otherwise. Blocks until stopped elsewhere for a live camera, so use it on files.
    pub fn join(mut self) -> Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::Pipeline {
                camera: self.camera.to_string(),
                url: self.source.clone(),
                message: "camera thread panicked".into(),
            }),
            None => Ok(()),
        }
    }

    fn shutdown(&mut self) {
        self.stop.raise();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for CameraHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts supervising one camera on its own thread. `sink` gets every delivered frame,
/// `events` every state change; both run on that thread.
pub fn spawn_camera(
    spec: CameraSpec,
    sink: impl FnMut(Frame) + Send + 'static,
    events: impl FnMut(CameraEvent) + Send + 'static,
) -> CameraHandle {
    let camera: Arc<str> = spec.id.as_str().into();
    let source = spec.source.redacted();
    let stats = Arc::new(CameraStats::default());
    let stop = Arc::new(Signal::default());
    let done = Arc::new(Signal::default());
    let supervisor = CameraSupervisor {
        camera: camera.clone(),
        backoff: Backoff::new(
            spec.backoff_initial,
            spec.backoff_max,
            spec.backoff_jitter,
            jitter_seed(&camera),
        ),
        spec,
        sink,
        events,
        stats: stats.clone(),
        stop: stop.clone(),
    };
    let thread = std::thread::Builder::new()
        .name(format!("camera-{camera}"))
        .spawn({
            let done = done.clone();
            move || {
                let r = supervisor.run();
                done.raise();
                r
            }
        })
        .expect("cannot spawn a camera thread");
    CameraHandle {
        camera,
        source,
        stats,
        stop,
        done,
        thread: Some(thread),
    }
}

/// How one connection attempt ended.
enum Outcome {
    Stopped,
    Finished,
    Failed { error: Error, had_frames: bool },
}

/// The state of one camera's thread: its spec, its sink and event callbacks, its counters.
struct CameraSupervisor<S, E> {
    camera: Arc<str>,
    spec: CameraSpec,
    sink: S,
    events: E,
    stats: Arc<CameraStats>,
    stop: Arc<Signal>,
    backoff: Backoff,
}

impl<S: FnMut(Frame), E: FnMut(CameraEvent)> CameraSupervisor<S, E> {
    fn run(mut self) -> Result<()> {
        let span = info_span!("camera", id = %self.camera);
        let _enter = span.enter();
        let mut attempt = 0;
        let mut delivered = 0;
        let mut last_reason: Option<String> = None;
        let result = loop {
            if self.stop.is_set() {
                break Ok(());
            }
            attempt += 1;
            self.set_state(CameraState::Connecting);
            self.emit(CameraEvent::Connecting {
                camera: self.camera.clone(),
                attempt,
            });
            let outcome = self.session(&mut delivered);
            // The attempt's pipeline is gone: give the pages it freed back.
            release_freed_memory();
            match outcome {
                Outcome::Stopped => break Ok(()),
                Outcome::Finished => {
                    info!(frames = delivered, "source finished");
                    self.set_state(CameraState::Finished);
                    self.emit(CameraEvent::Finished {
                        camera: self.camera.clone(),
                        frames: delivered,
                    });
                    return Ok(());
                }
                Outcome::Failed { error, had_frames } => {
                    self.set_state(CameraState::Offline);
                    let reason = error.to_string();
                    if !self.spec.source.is_live() {
                        warn!(%reason, "source failed");
                        self.emit(CameraEvent::Offline {
                            camera: self.camera.clone(),
                            reason,
                            retry_in: None,
                        });
                        return Err(error);
                    }
                    if had_frames {
                        self.backoff.reset();
                        last_reason = None;
                    }
                    let delay = self.backoff.next_delay();
                    // Logged once per outage (and when the reason changes), not per retry.
                    if last_reason.as_deref() != Some(reason.as_str()) {
                        warn!(%reason, retry_in_ms = delay.as_millis() as u64, "camera offline");
                    } else {
                        debug!(%reason, retry_in_ms = delay.as_millis() as u64, "camera still offline");
                    }
                    last_reason = Some(reason.clone());
                    self.emit(CameraEvent::Offline {
                        camera: self.camera.clone(),
                        reason,
                        retry_in: Some(delay),
                    });
                    if self.stop.wait(delay) {
                        break Ok(());
                    }
                    self.stats.on_reconnect();
                }
            }
        };
        self.set_state(CameraState::Stopped);
        self.emit(CameraEvent::Stopped {
            camera: self.camera.clone(),
        });
        debug!("camera stopped");
        result
    }

    /// One connection attempt: open, pull frames until failure, EOS or stop.
    fn session(&mut self, delivered: &mut u64) -> Outcome {
        let mut source = match FrameSource::open(
            &self.camera,
            &self.spec.source,
            &self.spec.options,
            self.stats.clone(),
        ) {
            Ok(s) => s,
            Err(error) => {
                return Outcome::Failed {
                    error,
                    had_frames: false,
                }
            }
        };
        let mut last_frame = Instant::now();
        let mut online = false;
        loop {
            if self.stop.is_set() {
                return Outcome::Stopped;
            }
            let failed = |error| Outcome::Failed {
                error,
                had_frames: online,
            };
            match source.pull(POLL) {
                Ok(Pulled::Frame(frame)) => {
                    last_frame = Instant::now();
                    if !online {
                        online = true;
                        self.set_state(CameraState::Online);
                        if let Some(info) = source.info().cloned() {
                            info!(codec = ?info.codec, info.width, info.height, fps = ?info.fps, "camera online");
                            self.emit(CameraEvent::Online {
                                camera: self.camera.clone(),
                                info,
                            });
                        }
                    }
                    *delivered += 1;
                    (self.sink)(frame);
                }
                Ok(Pulled::Timeout) => {
                    let waited = last_frame.elapsed();
                    if waited >= self.spec.watchdog {
                        return failed(Error::Stalled {
                            camera: self.camera.to_string(),
                            url: self.spec.source.redacted(),
                            waited,
                        });
                    }
                }
                Ok(Pulled::Eos) if !self.spec.source.is_live() => return Outcome::Finished,
                Ok(Pulled::Eos) => {
                    return failed(Error::Eos {
                        camera: self.camera.to_string(),
                        url: self.spec.source.redacted(),
                    })
                }
                Err(error) => return failed(error),
            }
        }
    }

    fn set_state(&self, state: CameraState) {
        self.stats.set_state(state);
    }

    fn emit(&mut self, event: CameraEvent) {
        (self.events)(event);
    }
}

/// Returns the free pages of the malloc heap to the OS, unless another camera did so less than
/// [`TRIM_INTERVAL`] ago or is doing it now. Bounded cost: when a switch outage drops hundreds
/// of cameras at once, one of them trims and the others skip; the pages they freed go back
/// with the next trim (every camera of that outage soon fails again, or connects).
fn release_freed_memory() {
    let Ok(mut last) = LAST_TRIM.try_lock() else {
        return;
    };
    if last.is_some_and(|t| t.elapsed() < TRIM_INTERVAL) {
        return;
    }
    let t = Instant::now();
    let released = trim_heap();
    debug!(
        released,
        took_us = t.elapsed().as_micros() as u64,
        "heap trimmed"
    );
    *last = Some(Instant::now());
}

/// glibc's `malloc_trim(0)`: every arena's free pages, inside the heap as well as at its top,
/// go back to the OS. True if any did.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim_heap() -> bool {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim takes no pointers, touches only free memory and locks each arena
    // while it works, so it is safe to call from any thread at any time.
    unsafe { malloc_trim(0) == 1 }
}

/// Other allocators return memory on their own terms; nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn backoff_doubles_to_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(3), 0.0, 1);
        let ms: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 3000, 3000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(500));
    }

    #[test]
    fn backoff_jitter_stays_in_band_spreads_and_replays() {
        let (initial, max) = (Duration::from_millis(500), Duration::from_secs(4));
        let delays = |seed| {
            let mut b = Backoff::new(initial, max, 0.2, seed);
            (0..400)
                .map(|i| {
                    if i % 4 == 0 {
                        b.reset();
                    }
                    b.next_delay()
                })
                .collect::<Vec<_>>()
        };
        let a = delays(42);
        assert_eq!(a, delays(42), "same seed, same waits");
        assert_ne!(a, delays(43), "another camera, other waits");
        // Attempt k of each outage has nominal 500 ms * 2^k: every wait within ±20 %, never
        // above the cap, and the band is actually used (both halves).
        for (k, nominal) in [500.0, 1000.0, 2000.0, 4000.0].into_iter().enumerate() {
            let ms: Vec<f64> = a
                .iter()
                .skip(k)
                .step_by(4)
                .map(|d| d.as_secs_f64() * 1000.0)
                .collect();
            assert!(
                ms.iter()
                    .all(|&m| m >= nominal * 0.8 - 1e-6 && m <= nominal * 1.2 + 1e-6),
                "{nominal}: {ms:?}"
            );
            assert!(ms.iter().all(|&m| m <= 4000.0), "{ms:?}");
            let low = ms.iter().filter(|&&m| m < nominal * 0.95).count();
            assert!(low >= 20, "{nominal}: {low} of 100 below nominal");
            if nominal < 4000.0 {
                let high = ms.iter().filter(|&&m| m > nominal * 1.05).count();
                assert!(high >= 20, "{nominal}: {high} of 100 above nominal");
            }
        }
        // Out-of-range jitter is tamed rather than producing negative or huge waits.
        let mut wild = Backoff::new(initial, max, f64::NAN, 7);
        assert_eq!(wild.next_delay(), initial);
        let mut full = Backoff::new(initial, max, 5.0, 7);
        assert!((0..50).all(|_| full.next_delay() <= max));
    }

    #[test]
    fn xorshift_is_uniform_enough() {
        let mut r = XorShift::new(0);
        let xs: Vec<f64> = (0..10_000).map(|_| r.next_f64()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.48..0.52).contains(&mean), "{mean}");
    }

    #[test]
    fn finite_source_finishes_and_joins() {
        let spec = CameraSpec::new("pattern", "test://32x32@30?frames=7").unwrap();
        let (tx, rx) = mpsc::channel();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let handle = spawn_camera(
            spec,
            {
                let frames = frames.clone();
                move |f: Frame| frames.lock().unwrap().push(f.seq)
            },
            move |e| {
                let _ = tx.send(e);
            },
        );
        let stats = handle.stats().clone();
        handle.join().unwrap();
        assert_eq!(*frames.lock().unwrap(), (0..7).collect::<Vec<u64>>());
        let events: Vec<CameraEvent> = rx.try_iter().collect();
        assert!(matches!(
            events[0],
            CameraEvent::Connecting { attempt: 1, .. }
        ));
        assert!(matches!(events[1], CameraEvent::Online { .. }));
        assert!(
            matches!(events[2], CameraEvent::Finished { frames: 7, .. }),
            "{events:?}"
        );
        assert_eq!(stats.state(), CameraState::Finished);
        assert_eq!(stats.reconnects(), 0);
    }

    #[test]
    fn broken_file_is_final_and_reported() {
        let spec = CameraSpec::new("rec", "/nonexistent/rec.mp4").unwrap();
        let (tx, rx) = mpsc::channel();
        let handle = spawn_camera(
            spec,
            |_| {},
            move |e| {
                let _ = tx.send(e);
            },
        );
        let e = handle.join().unwrap_err();
        assert!(e.to_string().contains("/nonexistent/rec.mp4"), "{e}");
        let offline = rx
            .try_iter()
            .find(|e| matches!(e, CameraEvent::Offline { .. }))
            .unwrap();
        assert!(matches!(
            offline,
            CameraEvent::Offline { retry_in: None, .. }
        ));
    }

    #[test]
    fn live_pattern_stops_promptly() {
        let spec = CameraSpec::new("live", "test://32x32@50").unwrap();
        let (tx, rx) = mpsc::channel();
        let handle = spawn_camera(
            spec,
            move |f| {
                let _ = tx.send(f);
            },
            |_| {},
        );
        let first = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((first.width, first.height), (32, 32));
        assert_eq!(handle.stats().state(), CameraState::Online);
        let t = Instant::now();
        handle.stop();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    /// Page size and whether each of `pages` (page numbers) of this process is resident, from
    /// /proc/self/smaps and /proc/self/pagemap (bit 63: present).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    mod pages {
        use std::os::unix::fs::FileExt;

        pub fn size() -> usize {
            std::fs::read_to_string("/proc/self/smaps")
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("KernelPageSize:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
                .expect("KernelPageSize in /proc/self/smaps")
                * 1024
        }

        pub fn resident(pages: &[usize]) -> usize {
            let map = std::fs::File::open("/proc/self/pagemap").unwrap();
            let mut entry = [0u8; 8];
            pages
                .iter()
                .filter(|&&p| {
                    map.read_exact_at(&mut entry, p as u64 * 8).unwrap();
                    u64::from_ne_bytes(entry) >> 63 == 1
                })
                .count()
        }
    }

    /// What a torn-down pipeline leaves behind: freed blocks between blocks still in use. glibc
    /// keeps their pages resident after `free`; the trim gives them back.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn trim_returns_pages_freed_between_live_blocks() {
        // No camera of a concurrent test trims while this one looks.
        let _no_trims = LAST_TRIM.lock().unwrap_or_else(|p| p.into_inner());
        const BLOCKS: usize = 1024;
        const SIZE: usize = 32 * 1024;
        let page = pages::size();
        let mut blocks = Vec::with_capacity(BLOCKS);
        let mut live = Vec::with_capacity(BLOCKS);
        for i in 0..BLOCKS {
            blocks.push(vec![1u8; SIZE]);
            live.push(Box::new([i as u8; 64]));
        }
        // The whole pages inside each block.
        let inner: Vec<usize> = blocks
            .iter()
            .flat_map(|b| {
                let start = b.as_ptr() as usize;
                start.div_ceil(page)..(start + SIZE) / page
            })
            .collect();
        assert!(
            inner.len() >= BLOCKS,
            "{} pages of {page} bytes",
            inner.len()
        );
        drop(blocks);
        let kept = pages::resident(&inner);
        assert!(
            kept * 2 > inner.len(),
            "free alone returned the pages ({kept} of {} resident): nothing to test",
            inner.len()
        );
        trim_heap();
        let after = pages::resident(&inner);
        assert!(
            after * 4 < inner.len(),
            "{after} of {} freed pages still resident after the trim",
            inner.len()
        );
        std::hint::black_box(&live);
    }
}
