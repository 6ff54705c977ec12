//! Per-camera counters shared between a camera's thread and whoever reports health.
//!
//! [`CameraStats`] is a bag of relaxed atomics: the camera thread is the only writer, readers
//! (health reports, metrics, tests) take a [`StatsSnapshot`] whenever they like. Updating a
//! counter is one uncontended atomic add per frame, so the stats cost nothing measurable on the
//! hot path. Counters only grow; `frames_decoded - frames_delivered` is the number of frames
//! dropped because the consumer was slower than the camera (live sources keep only the newest).

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};

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

/// Live counters of one camera.
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
}

/// A consistent-enough copy of [`CameraStats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub state: CameraState,
    /// When `state` was entered, Unix ms.
    pub state_since_ms: i64,
    /// Pictures that came out of the decoder.
    pub frames_decoded: u64,
    /// Frames handed to the consumer (the rest were dropped as stale).
    pub frames_delivered: u64,
    /// Bytes that entered the decoder: RTP packets for RTSP, container bytes for files, raw
    /// pictures for test patterns. The basis of the bitrate in health reports.
    pub bytes_received: u64,
    /// Attempts that failed after the first (ERROR, EOS on a live source, watchdog).
    pub reconnects: u64,
    /// Decoder warnings and errors (corrupt or missing data).
    pub decode_errors: u64,
    /// Wall clock of the last decoded frame, Unix ms; 0 if none yet.
    pub last_frame_ms: i64,
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

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            state: self.state(),
            state_since_ms: self.state_since_ms.load(Relaxed),
            frames_decoded: self.frames_decoded(),
            frames_delivered: self.frames_delivered(),
            bytes_received: self.bytes_received.load(Relaxed),
            reconnects: self.reconnects(),
            decode_errors: self.decode_errors(),
            last_frame_ms: self.last_frame_ms(),
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
    }

    pub(crate) fn on_delivered(&self) {
        self.frames_delivered.fetch_add(1, Relaxed);
    }

    pub(crate) fn on_bytes(&self, n: usize) {
        self.bytes_received.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn on_reconnect(&self) {
        self.reconnects.fetch_add(1, Relaxed);
    }

    pub(crate) fn on_decode_error(&self) {
        self.decode_errors.fetch_add(1, Relaxed);
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
    }
}
