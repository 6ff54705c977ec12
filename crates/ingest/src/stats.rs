//! Per-camera counters and stream health, shared between a camera's pipeline and whoever
//! reports health.
//!
//! [`CameraStats`] is written by the camera's own threads (the supervisor, the decoder's
//! streaming thread, the thread that feeds the decoder) and read by anyone through a
//! [`StatsSnapshot`] or [`CameraStats::stream_info`]. Lifetime counters only grow;
//! `frames_decoded - frames_delivered` is the number of frames dropped because the consumer was
//! slower than the camera (live sources keep only the newest). Rates (measured fps, bitrate)
//! are not lifetime averages: they cover the last [`HEALTH_WINDOW`] of monotonic time, in
//! 100 ms buckets, so a stream that slows down or stops shows it within seconds, and a gap
//! (reconnect) counts as the zero it was.
//!
//! Invariants: a snapshot never blocks a writer for longer than summing 51 buckets; values
//! that are unknown (no frame yet, no camera clock) are `None`, never a made-up zero.
//! Performance: per decoded frame one relaxed atomic add and one uncontended mutex (the frame
//! window), per incoming buffer the same for bytes; well under a microsecond each.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::source::StreamInfo;

/// How far back the measured frame rate and bitrate look.
pub const HEALTH_WINDOW: Duration = Duration::from_secs(5);

/// Where a camera's supervisor is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraState {
    /// Building the pipeline or waiting for the first frame.
    Connecting,
    /// Frames are flowing.
    Online,
    /// The last attempt failed; waiting out the backoff before the next one.
    Offline,
    /// A finite source (file, test pattern) reached its end.
    Finished,
    /// Stopped by its handle.
    Stopped,
}

impl CameraState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => CameraState::Connecting,
            1 => CameraState::Online,
            2 => CameraState::Offline,
            3 => CameraState::Finished,
            _ => CameraState::Stopped,
        }
    }

    fn as_u8(self) -> u8 {
        self as u8
    }
}

/// Marks "no clock skew known" in the atomic.
const NO_SKEW: i64 = i64::MIN;

/// Live counters and health of one camera.
#[derive(Debug)]
pub struct CameraStats {
    state: AtomicU8,
    state_since_ms: AtomicI64,
    frames_decoded: AtomicU64,
    frames_delivered: AtomicU64,
    bytes_received: AtomicU64,
    reconnects: AtomicU64,
    decode_errors: AtomicU64,
    last_frame_ms: AtomicI64,
    clock_skew_ms: AtomicI64,
    /// Origin of the monotonic times in the rate windows.
    epoch: Instant,
    frame_rate: Mutex<RateWindow>,
    byte_rate: Mutex<RateWindow>,
    stream: Mutex<Option<StreamInfo>>,
}

/// A consistent-enough copy of [`CameraStats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsSnapshot {
    pub state: CameraState,
    /// When `state` was entered, Unix ms.
    pub state_since_ms: i64,
    /// Pictures that came out of the decoder.
    pub frames_decoded: u64,
    /// Frames handed to the consumer (the rest were dropped as stale).
    pub frames_delivered: u64,
    /// Bytes that entered the decoder: RTP packets for RTSP, container bytes for files, raw
    /// pictures for test patterns. The basis of `bitrate_kbps`.
    pub bytes_received: u64,
    /// Attempts that failed after the first (ERROR, EOS on a live source, watchdog).
    pub reconnects: u64,
    /// Decoder warnings and errors (corrupt or missing data).
    pub decode_errors: u64,
    /// Wall clock of the last decoded frame, Unix ms; 0 if none yet.
    pub last_frame_ms: i64,
    /// How long ago the last frame was decoded; `None` if none yet.
    pub last_frame_age_ms: Option<u64>,
    /// Decoded frames per second over the last [`HEALTH_WINDOW`] (or since the first frame,
    /// if that is more recent); `None` until a second has been observed.
    pub fps: Option<f64>,
    /// The frame rate the stream declares in its caps, from the latest connection.
    pub expected_fps: Option<f64>,
    /// Compressed kbit/s into the decoder over the last [`HEALTH_WINDOW`]; `None` until a
    /// second has been observed.
    pub bitrate_kbps: Option<f64>,
    /// Camera clock minus node clock, ms: the camera's NTP time of the latest decoded frame
    /// (from RTCP sender reports) minus the node's wall clock when it was decoded. It includes
    /// transport and jitter-buffer latency (tens to a few hundred ms), so only seconds mean a
    /// wrong camera clock. `None` when the stream carries no camera time (files, test
    /// patterns, cameras without RTCP) or before the first sender report of this connection.
    pub clock_skew_ms: Option<i64>,
}

impl Default for CameraStats {
    fn default() -> Self {
        CameraStats {
            state: AtomicU8::new(CameraState::Connecting.as_u8()),
            state_since_ms: AtomicI64::new(base::now_ms()),
            frames_decoded: AtomicU64::new(0),
            frames_delivered: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            decode_errors: AtomicU64::new(0),
            last_frame_ms: AtomicI64::new(0),
            clock_skew_ms: AtomicI64::new(NO_SKEW),
            epoch: Instant::now(),
            frame_rate: Mutex::default(),
            byte_rate: Mutex::default(),
            stream: Mutex::default(),
        }
    }
}

impl CameraStats {
    pub fn state(&self) -> CameraState {
        CameraState::from_u8(self.state.load(Relaxed))
    }

    pub fn frames_decoded(&self) -> u64 {
        self.frames_decoded.load(Relaxed)
    }

    pub fn frames_delivered(&self) -> u64 {
        self.frames_delivered.load(Relaxed)
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Relaxed)
    }

    pub fn decode_errors(&self) -> u64 {
        self.decode_errors.load(Relaxed)
    }

    pub fn last_frame_ms(&self) -> i64 {
        self.last_frame_ms.load(Relaxed)
    }

    /// Camera clock minus node clock, ms; see [`StatsSnapshot::clock_skew_ms`].
    pub fn clock_skew_ms(&self) -> Option<i64> {
        Some(self.clock_skew_ms.load(Relaxed)).filter(|&v| v != NO_SKEW)
    }

    /// Codec, resolution and declared frame rate of the latest connection that decoded a
    /// frame; `None` before the first frame.
    pub fn stream_info(&self) -> Option<StreamInfo> {
        lock(&self.stream).clone()
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let now = self.now_us();
        let now_ms = base::now_ms();
        let last_frame_ms = self.last_frame_ms();
        StatsSnapshot {
            state: self.state(),
            state_since_ms: self.state_since_ms.load(Relaxed),
            frames_decoded: self.frames_decoded(),
            frames_delivered: self.frames_delivered(),
            bytes_received: self.bytes_received.load(Relaxed),
            reconnects: self.reconnects(),
            decode_errors: self.decode_errors(),
            last_frame_ms,
            last_frame_age_ms: (last_frame_ms > 0)
                .then(|| now_ms.saturating_sub(last_frame_ms).max(0) as u64),
            fps: lock(&self.frame_rate).per_second(now),
            expected_fps: lock(&self.stream).as_ref().and_then(|s| s.fps),
            bitrate_kbps: lock(&self.byte_rate)
                .per_second(now)
                .map(|bytes| bytes * 8.0 / 1000.0),
            clock_skew_ms: self.clock_skew_ms(),
        }
    }

    /// Records a state change; returns false if the state was already `state`.
    pub(crate) fn set_state(&self, state: CameraState) -> bool {
        let changed = self.state.swap(state.as_u8(), Relaxed) != state.as_u8();
        if changed {
            self.state_since_ms.store(base::now_ms(), Relaxed);
        }
        changed
    }

    pub(crate) fn on_decoded(&self) {
        self.frames_decoded.fetch_add(1, Relaxed);
        self.last_frame_ms.store(base::now_ms(), Relaxed);
        let now = self.now_us();
        lock(&self.frame_rate).add(now, 1);
    }

    pub(crate) fn on_delivered(&self) {
        self.frames_delivered.fetch_add(1, Relaxed);
    }

    pub(crate) fn on_bytes(&self, n: usize) {
        self.bytes_received.fetch_add(n as u64, Relaxed);
        let now = self.now_us();
        lock(&self.byte_rate).add(now, n as u64);
    }

    pub(crate) fn on_reconnect(&self) {
        self.reconnects.fetch_add(1, Relaxed);
    }

    pub(crate) fn on_decode_error(&self) {
        self.decode_errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn set_clock_skew(&self, skew_ms: Option<i64>) {
        let v = skew_ms.map_or(NO_SKEW, |v| v.max(NO_SKEW + 1));
        self.clock_skew_ms.store(v, Relaxed);
    }

    pub(crate) fn set_stream_info(&self, info: StreamInfo) {
        *lock(&self.stream) = Some(info);
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

/// A poisoned lock only means a panicking writer; the numbers are still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

const WINDOW_US: u64 = HEALTH_WINDOW.as_micros() as u64;
const BUCKET_US: u64 = 100_000;
/// Rates over less than this are too noisy to report.
const MIN_SPAN_US: u64 = 1_000_000;

/// Amounts (frames, bytes) per second over the last [`HEALTH_WINDOW`], sans-IO: times are
/// monotonic microseconds passed in by the caller.
#[derive(Debug, Default)]
struct RateWindow {
    /// (bucket index, sum of the amounts added in it), oldest first.
    buckets: VecDeque<(u64, u64)>,
    /// Time and amount of the first addition ever: rates start there, not at time zero.
    first: Option<(u64, u64)>,
}

impl RateWindow {
    fn add(&mut self, now: u64, amount: u64) {
        self.first.get_or_insert((now, amount));
        let idx = now / BUCKET_US;
        match self.buckets.back_mut() {
            Some((i, sum)) if *i >= idx => *sum += amount,
            _ => self.buckets.push_back((idx, amount)),
        }
        let keep = WINDOW_US / BUCKET_US + 1;
        while self.buckets.front().is_some_and(|(i, _)| i + keep <= idx) {
            self.buckets.pop_front();
        }
    }

    /// The rate over the window ending at `now`, or since the first addition when that is
    /// more recent (the first addition itself only marks the start, like the first of a row
    /// of fence posts). `None` until that span reaches a second.
    fn per_second(&self, now: u64) -> Option<f64> {
        let (first_at, first_amount) = self.first?;
        let from = now.saturating_sub(WINDOW_US).max(first_at);
        let span = now.checked_sub(from).filter(|s| *s >= MIN_SPAN_US)?;
        let anchored = from == first_at;
        let mut sum = 0.0;
        for &(i, s) in &self.buckets {
            let (start, end) = (i * BUCKET_US, (i + 1) * BUCKET_US);
            if end <= from || start > now {
                continue;
            }
            // The bucket the window starts in counts by the share inside the window.
            let share = if anchored || start >= from {
                1.0
            } else {
                (end - from) as f64 / BUCKET_US as f64
            };
            sum += s as f64 * share;
        }
        if anchored {
            sum -= first_amount as f64;
        }
        Some(sum.max(0.0) * 1e6 / span as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_counts_changes() {
        let s = CameraStats::default();
        assert_eq!(s.state(), CameraState::Connecting);
        for st in [
            CameraState::Online,
            CameraState::Offline,
            CameraState::Finished,
            CameraState::Stopped,
            CameraState::Connecting,
        ] {
            assert!(s.set_state(st));
            assert_eq!(s.state(), st);
        }
        assert!(!s.set_state(CameraState::Connecting));
        s.on_decoded();
        s.on_decoded();
        s.on_delivered();
        let snap = s.snapshot();
        assert_eq!((snap.frames_decoded, snap.frames_delivered), (2, 1));
        assert!(snap.last_frame_ms > 0);
        assert!(snap.last_frame_age_ms.unwrap() < 60_000);
        // Two frames within a moment are no rate yet.
        assert_eq!(snap.fps, None);
        assert_eq!((snap.expected_fps, snap.clock_skew_ms), (None, None));
    }

    #[test]
    fn fresh_stats_know_nothing() {
        let snap = CameraStats::default().snapshot();
        assert_eq!(snap.last_frame_age_ms, None);
        assert_eq!((snap.fps, snap.bitrate_kbps), (None, None));
    }

    #[test]
    fn skew_and_stream_info_are_stored() {
        let s = CameraStats::default();
        s.set_clock_skew(Some(-120));
        assert_eq!(s.snapshot().clock_skew_ms, Some(-120));
        s.set_clock_skew(Some(i64::MIN));
        assert_eq!(s.clock_skew_ms(), Some(i64::MIN + 1));
        s.set_clock_skew(None);
        assert_eq!(s.clock_skew_ms(), None);
        s.set_stream_info(StreamInfo {
            codec: Some("H.265".into()),
            width: 1920,
            height: 1080,
            fps: Some(25.0),
        });
        assert_eq!(s.snapshot().expected_fps, Some(25.0));
        assert_eq!(s.stream_info().unwrap().codec.as_deref(), Some("H.265"));
    }

    const MS: u64 = 1000;

    /// Adds one frame every `every_ms` in [from_ms, to_ms).
    fn frames(w: &mut RateWindow, from_ms: u64, to_ms: u64, every_ms: u64) {
        for t in (from_ms..to_ms).step_by(every_ms as usize) {
            w.add(t * MS, 1);
        }
    }

    fn close(got: Option<f64>, want: f64) -> bool {
        got.is_some_and(|g| (g - want).abs() <= want * 0.02 + 0.05)
    }

    #[test]
    fn window_measures_recent_rate_not_lifetime_average() {
        let mut w = RateWindow::default();
        // 25 fps for 20 s, then 10 fps for 6 s.
        frames(&mut w, 3_000, 23_000, 40);
        assert!(
            close(w.per_second(23_000 * MS), 25.0),
            "{:?}",
            w.per_second(23_000 * MS)
        );
        frames(&mut w, 23_000, 29_000, 100);
        let fps = w.per_second(29_000 * MS);
        assert!(close(fps, 10.0), "{fps:?}");
        // The lifetime average would be (500 + 60) / 26 s = 21.5.
        assert!(w.buckets.len() <= 51, "{}", w.buckets.len());
    }

    #[test]
    fn window_starts_at_first_frame_and_decays_after_the_last() {
        let mut w = RateWindow::default();
        assert_eq!(w.per_second(10 * MS), None);
        frames(&mut w, 7_000, 9_001, 40);
        // Not a full window yet: 50 intervals in 2 s, not 51 frames over 5 s.
        assert_eq!(w.per_second(7_500 * MS), None);
        assert!(
            close(w.per_second(9_000 * MS), 25.0),
            "{:?}",
            w.per_second(9_000 * MS)
        );
        // Frames stop: the rate falls, and is zero once the window is past them.
        let half = w.per_second(11_500 * MS).unwrap();
        assert!((10.0..15.0).contains(&half), "{half}");
        assert_eq!(w.per_second(14_200 * MS), Some(0.0));
    }

    #[test]
    fn window_partial_bucket_is_weighted() {
        // 30 fps, with the window start falling at every offset inside its bucket.
        let mut w = RateWindow::default();
        for t in (0..20_000).step_by(33) {
            w.add(t * MS, 1);
            if t > 6_000 {
                for late in [0, 11, 29] {
                    let fps = w.per_second((t + late) * MS);
                    assert!(close(fps, 1000.0 / 33.0), "{t}+{late}: {fps:?}");
                }
            }
        }
    }
}
