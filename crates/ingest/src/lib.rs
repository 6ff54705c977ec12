//! Xueliang ingest: camera video in, decoded I420 [`base::Frame`]s out.
//!
//! - [`source`]: one GStreamer pipeline per source (RTSP camera, recorded file, test pattern),
//!   decoding once to planar I420 and copying each decoded picture once into a `Frame`.
//! - [`supervisor`]: one thread per camera that keeps its pipeline alive: ERROR, EOS and a
//!   no-frame watchdog all mean "reconnect, with exponential backoff"; state changes become
//!   [`CameraEvent`]s, counters live in a shared [`CameraStats`].
//! - [`CameraStats`]: per-camera counters and stream health: state and since when, reconnects,
//!   fps and bitrate over the last [`HEALTH_WINDOW`] against the declared fps, decode errors,
//!   last-frame age, codec and size ([`StreamInfo`]), camera clock skew from RTCP when known.
//!   RTSP runs over TCP, UDP or UDP-then-TCP ([`Transport`] in [`SourceOptions`]).
//! - [`camera`]: simulated cameras, real H.264 clips looped over RTSP by an in-process
//!   gstreamer-rtsp-server, for demos, benchmarks and tests.
//!   It also serves fault patterns (black, snow, no signal, frozen, blurred, moved, dark,
//!   tinted, covered) as H.264 or H.265.
//! - [`quality`]: video quality diagnosis, sans-IO: decoded frames in, raised and cleared
//!   diagnoses (no signal, frozen, blur, occlusion, scene change, …) out.
//!
//! Invariants: a camera password never reaches a log line or an error message (URLs go
//! through [`base::redact_url`], GStreamer text through [`scrub`]); a failing camera never
//! affects another one. Performance: decoding stays in GStreamer's threads, no full-frame
//! colour conversion happens here, and live sources keep only the newest frame.

pub mod camera;
mod error;
mod pipeline;
pub mod quality;
pub mod source;
mod stats;
pub mod supervisor;
mod transcode;

use std::path::PathBuf;

pub use camera::{CameraServer, Clip, ClipSpec};
pub use camera::{Codec, Pattern};
pub use error::{scrub, Error, ErrorKind, Result};
pub use quality::{Diagnosis, QualityConfig, QualityEvent, QualityKind, QualityMonitor};
pub use source::{FrameSource, Pulled, Source, SourceOptions, StreamInfo, Transport};
pub use stats::{CameraState, CameraStats, StatsSnapshot, HEALTH_WINDOW};
pub use supervisor::{spawn_camera, CameraEvent, CameraHandle, CameraSpec};
pub use transcode::transcode_clip;

/// Initialises GStreamer once per process; cheap to call again.
pub fn init() -> Result<()> {
    static INIT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| gst::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(Error::Init)
}

/// `$XUELIANG_HOME/media/bikes.mp4`, with `XUELIANG_HOME` defaulting to
/// `$HOME/.cache/xueliang`: the real street clip `deploy/setup.sh` fetches.
pub fn default_clip_path() -> PathBuf {
    base::home_dir().join("media/bikes.mp4")
}

/// Makes an element, turning a missing plugin into a clear error.
pub(crate) fn make(factory: &'static str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| Error::MissingElement { factory })
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::PathBuf;

    /// The real clip, or a panic that says how to get it (tests never skip silently).
    pub fn clip_path() -> PathBuf {
        let path = crate::default_clip_path();
        assert!(
            path.is_file(),
            "test clip {} is missing: run deploy/setup.sh (or set XUELIANG_HOME)",
            path.display()
        );
        path
    }
}
