//! The hand-off between a camera thread and the analysis thread: a one-frame slot.
//!
//! The camera always overwrites (live video must not queue up behind a slow detector); the
//! analysis thread takes the newest frame when it is due. Every frame that is overwritten before
//! it was taken is counted in `skipped`, so "frames decoded = analysed + skipped (+ 1 in the
//! slot)" always adds up.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use base::Frame;

#[derive(Debug, Default)]
pub struct Mailbox {
    slot: Mutex<Option<Frame>>,
    pub skipped: AtomicU64,
    pub analysed: AtomicU64,
    pub sightings: AtomicU64,
}

impl Mailbox {
    pub fn put(&self, frame: Frame) {
        let old = self
            .slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(frame);
        if old.is_some() {
            self.skipped.fetch_add(1, Relaxed);
        }
    }

    pub fn take(&self) -> Option<Frame> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Drops the waiting frame (on shutdown), counting it as skipped.
    pub fn clear(&self) {
        if self.take().is_some() {
            self.skipped.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overwrites_are_counted() {
        let m = Mailbox::default();
        for seq in 0..3 {
            m.put(Frame::from_i420("c", seq, 2, 2, vec![0; 6]));
        }
        assert_eq!(m.take().unwrap().seq, 2);
        assert!(m.take().is_none());
        assert_eq!(m.skipped.load(Relaxed), 2);
    }
}
