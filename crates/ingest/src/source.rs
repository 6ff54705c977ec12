//! Frame sources: one GStreamer pipeline per camera connection, decoding to planar I420 and
//! handing out [`base::Frame`]s.
//!
//! A [`Source`] says where video comes from (RTSP camera, recorded file, test pattern);
//! [`FrameSource::open`] builds and starts its pipeline, [`FrameSource::pull`] returns the next
//! frame, a timeout, EOS, or the first bus error as an [`Error`] naming the element (with the
//! URL redacted). Dropping a `FrameSource` tears its pipeline down. RTSP runs over the
//! [`Transport`] of its [`SourceOptions`]; along the way the source feeds its camera's
//! [`CameraStats`]: decoded frames and incoming bytes (for the recent fps and bitrate), the
//! [`StreamInfo`] of the connection, decode errors, and the camera clock skew read from the
//! NTP reference timestamp rtspsrc puts on frames once RTCP sender reports arrived.
//!
//! Invariants: frames come out in decode order with a per-source `seq` that counts every
//! decoded picture, so gaps in `seq` are frames dropped as stale. Live sources (RTSP, live test
//! pattern) keep only the newest decoded frame in a one-slot mailbox and never block the
//! decoder; finite sources (files, counted test patterns) block the decoder until the consumer
//! took the frame, so none is lost and a file decodes as fast as the consumer pulls.
//! Performance: decoding and depayloading run on GStreamer's streaming threads; each delivered
//! frame costs one copy of the decoded buffer into an `Arc<[u8]>` (the I420 planes keep their
//! decoder offsets and strides); frames dropped as stale are never copied; `videoconvert` is a
//! passthrough when the decoder already outputs I420 (avdec_h264 does).

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base::{Frame, Plane};
use gst::prelude::*;
use tracing::{debug, warn};

use crate::error::{scrub, Error, Result};
use crate::pipeline::{codec_of, file_pipeline, rtsp_pipeline, test_pipeline};
use crate::stats::CameraStats;

/// Where a camera's video comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `rtsp://` or `rtsps://` camera, pulled over the [`Transport`] in its [`SourceOptions`].
    Rtsp { url: String },
    /// A recorded file (any container and codec decodebin can open), decoded at full speed.
    File { path: PathBuf },
    /// `videotestsrc`: live at `fps` when `frames` is `None`, else `frames` frames at full speed.
    TestPattern {
        width: u32,
        height: u32,
        fps: u32,
        frames: Option<u32>,
    },
}

impl Source {
    /// Parses a source location: `rtsp://…` / `rtsps://…`, `file:///path`, a plain path, or
    /// `test://[WxH][@FPS][?frames=N]` (default 640x480@25, live).
    pub fn parse(location: &str) -> Result<Source> {
        let bad = |reason: &str| Error::Url {
            url: base::redact_url(location),
            reason: reason.to_owned(),
        };
        let lower = location.to_ascii_lowercase();
        if lower.starts_with("rtsp://") || lower.starts_with("rtsps://") {
            if location.split("://").nth(1).is_none_or(str::is_empty) {
                return Err(bad("no host"));
            }
            return Ok(Source::Rtsp {
                url: location.to_owned(),
            });
        }
        if lower.starts_with("file://") {
            let path = crate::error::percent_decode(&location[7..]);
            if path.is_empty() {
                return Err(bad("empty path"));
            }
            return Ok(Source::File { path: path.into() });
        }
        if lower.starts_with("test://") {
            return parse_test(&location[7..]).ok_or_else(|| {
                bad("expected test://[WIDTHxHEIGHT][@FPS][?frames=N], e.g. test://640x480@25")
            });
        }
        if let Some((scheme, _)) = location.split_once("://") {
            return Err(bad(&format!("unsupported scheme `{scheme}`")));
        }
        if location.is_empty() {
            return Err(bad("empty location"));
        }
        Ok(Source::File {
            path: location.into(),
        })
    }

    /// The location with any password replaced by `***`, for logs and errors.
    pub fn redacted(&self) -> String {
        match self {
            Source::Rtsp { url } => base::redact_url(url),
            Source::File { path } => path.display().to_string(),
            Source::TestPattern {
                width,
                height,
                fps,
                frames,
            } => {
                let n = frames.map(|n| format!("?frames={n}")).unwrap_or_default();
                format!("test://{width}x{height}@{fps}{n}")
            }
        }
    }

    /// Live sources run in real time and drop stale frames; the others are finite and lossless.
    pub fn is_live(&self) -> bool {
        match self {
            Source::Rtsp { .. } => true,
            Source::File { .. } => false,
            Source::TestPattern { frames, .. } => frames.is_none(),
        }
    }

    /// The raw location (may hold a password): only for building pipelines and scrubbing.
    fn raw(&self) -> String {
        match self {
            Source::Rtsp { url } => url.clone(),
            _ => self.redacted(),
        }
    }
}

fn parse_test(spec: &str) -> Option<Source> {
    let (spec, query) = spec.split_once('?').unwrap_or((spec, ""));
    let (size, fps) = spec.split_once('@').unwrap_or((spec, "25"));
    let (width, height) = if size.is_empty() {
        (640, 480)
    } else {
        let (w, h) = size.split_once('x')?;
        (w.parse().ok()?, h.parse().ok()?)
    };
    let fps: u32 = fps.parse().ok()?;
    let frames = match query {
        "" => None,
        q => Some(q.strip_prefix("frames=")?.parse().ok()?),
    };
    (width > 0 && height > 0 && fps > 0).then_some(Source::TestPattern {
        width,
        height,
        fps,
        frames,
    })
}

/// How RTP travels from an RTSP camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection: passes NAT and firewalls, never loses packets
    /// (late ones arrive late instead). The default.
    #[default]
    Tcp,
    /// RTP/RTCP on their own UDP ports: lowest latency, loses packets under congestion, blocked
    /// by many firewalls. No UDP packet within `udp_timeout` is an error.
    Udp,
    /// UDP first, falling back to TCP when no UDP packet arrived within `udp_timeout`.
    Auto,
}

impl Transport {
    /// The `protocols` flags of `rtspsrc` for this transport.
    pub(crate) fn rtspsrc_protocols(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Auto => "udp+tcp",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Auto => "auto",
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Transport {
    type Err = Error;

    /// `tcp`, `udp` or `auto`, in any case.
    fn from_str(s: &str) -> Result<Transport> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Transport::Tcp),
            "udp" => Ok(Transport::Udp),
            "auto" => Ok(Transport::Auto),
            _ => Err(Error::Transport(s.to_owned())),
        }
    }
}

/// Tuning of RTSP sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceOptions {
    /// rtspsrc jitter-buffer latency. Default 200 ms.
    pub latency: Duration,
    /// Give up on a silent TCP connection after this long. Default 5 s.
    pub tcp_timeout: Duration,
    /// How RTP travels. Default [`Transport::Tcp`].
    pub transport: Transport,
    /// With UDP: how long to wait for the first packet before failing ([`Transport::Udp`]) or
    /// falling back to TCP ([`Transport::Auto`]). Keep it below the supervisor's watchdog.
    /// Default 3 s.
    pub udp_timeout: Duration,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            latency: Duration::from_millis(200),
            tcp_timeout: Duration::from_secs(5),
            transport: Transport::Tcp,
            udp_timeout: Duration::from_secs(3),
        }
    }
}

/// What is known about a stream once its first frame is decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// "H.264", "H.265", "MJPEG", "raw", … when the decoder could be identified.
    pub codec: Option<String>,
    pub width: u32,
    pub height: u32,
    /// Nominal frame rate from the caps, when the stream declares one.
    pub fps: Option<f64>,
}

/// Result of one [`FrameSource::pull`].
#[derive(Debug)]
pub enum Pulled {
    Frame(Frame),
    /// No frame within the timeout; the pipeline is still running.
    Timeout,
    /// The source ended.
    Eos,
}

/// A running pipeline that decodes one source into frames.
pub struct FrameSource {
    camera: Arc<str>,
    source: Source,
    pipeline: gst::Pipeline,
    bus: gst::Bus,
    mailbox: Arc<Mailbox>,
    stats: Arc<CameraStats>,
    info: Option<StreamInfo>,
    eos: bool,
}

impl std::fmt::Debug for FrameSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameSource")
            .field("camera", &self.camera)
            .field("source", &self.source.redacted())
            .finish()
    }
}

/// The one-slot hand-over between the appsink's streaming thread and the consumer.
#[derive(Default)]
struct Mailbox {
    state: Mutex<MailboxState>,
    cond: Condvar,
}

#[derive(Default)]
struct MailboxState {
    frame: Option<(u64, gst::Sample)>,
    next_seq: u64,
    eos: bool,
    /// An ERROR or EOS is waiting on the bus.
    bus_alert: bool,
    closed: bool,
}

impl Mailbox {
    /// Called on the streaming thread for every decoded picture.
    fn put(&self, sample: gst::Sample, block: bool) -> Result<(), gst::FlowError> {
        let mut st = self.state.lock().unwrap();
        while block && st.frame.is_some() && !st.closed {
            st = self.cond.wait(st).unwrap();
        }
        if st.closed {
            return Err(gst::FlowError::Flushing);
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        st.frame = Some((seq, sample));
        self.cond.notify_all();
        Ok(())
    }

    fn update(&self, f: impl FnOnce(&mut MailboxState)) {
        f(&mut self.state.lock().unwrap());
        self.cond.notify_all();
    }
}

impl FrameSource {
    /// Builds the pipeline for `source` and starts it. Connection problems show up later, from
    /// [`FrameSource::pull`]; this fails only if the pipeline cannot be built or started.
    pub fn open(
        camera: &str,
        source: &Source,
        opts: &SourceOptions,
        stats: Arc<CameraStats>,
    ) -> Result<FrameSource> {
        crate::init()?;
        let name = format!("camera-{camera}");
        let (pipeline, appsink, decoder_input) = match source {
            Source::Rtsp { url } => rtsp_pipeline(&name, url, opts)?,
            Source::File { path } => file_pipeline(&name, path)?,
            Source::TestPattern {
                width,
                height,
                fps,
                frames,
            } => test_pipeline(&name, *width, *height, *fps, *frames)?,
        };
        let mailbox = Arc::new(Mailbox::default());
        let block = !source.is_live();
        // Camera time is per connection: none until this one's first RTCP sender report.
        stats.set_clock_skew(None);
        let camera_time = matches!(source, Source::Rtsp { .. });
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample({
                    let (mailbox, stats) = (mailbox.clone(), stats.clone());
                    move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                        stats.on_decoded();
                        if camera_time {
                            if let Some(skew) = sample
                                .buffer()
                                .and_then(|b| clock_skew_ms(b, base::now_ms()))
                            {
                                stats.set_clock_skew(Some(skew));
                            }
                        }
                        mailbox.put(sample, block)?;
                        Ok(gst::FlowSuccess::Ok)
                    }
                })
                .eos({
                    let mailbox = mailbox.clone();
                    move |_| mailbox.update(|st| st.eos = true)
                })
                .build(),
        );
        if let Some(pad) = decoder_input.static_pad("sink") {
            let stats = stats.clone();
            pad.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                move |_, info| {
                    match &info.data {
                        Some(gst::PadProbeData::Buffer(b)) => stats.on_bytes(b.size()),
                        Some(gst::PadProbeData::BufferList(l)) => {
                            stats.on_bytes(l.iter().map(|b| b.size()).sum())
                        }
                        _ => {}
                    }
                    gst::PadProbeReturn::Ok
                },
            );
        }
        let bus = pipeline.bus().expect("a pipeline has a bus");
        bus.set_sync_handler({
            let mailbox = mailbox.clone();
            move |_, msg| {
                if matches!(
                    msg.view(),
                    gst::MessageView::Error(_) | gst::MessageView::Eos(_)
                ) {
                    mailbox.update(|st| st.bus_alert = true);
                }
                gst::BusSyncReply::Pass
            }
        });

        let mut this = FrameSource {
            camera: camera.into(),
            source: source.clone(),
            pipeline,
            bus,
            mailbox,
            stats,
            info: None,
            eos: false,
        };
        debug!(camera, source = %source.redacted(), "starting pipeline");
        if this.pipeline.set_state(gst::State::Playing).is_err() {
            // The element that refused usually said why on the bus.
            this.drain_bus()?;
            return Err(Error::Pipeline {
                camera: camera.to_owned(),
                url: source.redacted(),
                message: "cannot start the pipeline".into(),
            });
        }
        Ok(this)
    }

    /// Waits up to `timeout` for the next frame. Bus errors become [`Error::Connect`] (before
    /// the first frame) or [`Error::Stream`] (after it), naming the element.
    pub fn pull(&mut self, timeout: Duration) -> Result<Pulled> {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain_bus()?;
            let mut st = self.mailbox.state.lock().unwrap();
            if let Some((seq, sample)) = st.frame.take() {
                self.mailbox.cond.notify_all();
                drop(st);
                let frame = self.copy_frame(seq, &sample)?;
                self.stats.on_delivered();
                return Ok(Pulled::Frame(frame));
            }
            if st.eos || self.eos {
                return Ok(Pulled::Eos);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Pulled::Timeout);
            }
            if std::mem::take(&mut st.bus_alert) {
                continue;
            }
            drop(self.mailbox.cond.wait_timeout(st, deadline - now).unwrap());
        }
    }

    /// Codec, size and frame rate, known once the first frame was pulled.
    pub fn info(&self) -> Option<&StreamInfo> {
        self.info.as_ref()
    }

    /// Handles every pending bus message; the first ERROR becomes the returned error.
    fn drain_bus(&mut self) -> Result<()> {
        while let Some(msg) = self.bus.pop() {
            match msg.view() {
                gst::MessageView::Error(err) => {
                    let raw = self.source.raw();
                    let element = msg
                        .src()
                        .map(|s| s.name().to_string())
                        .unwrap_or_else(|| "pipeline".into());
                    let message = scrub(err.error().message().trim_end_matches('.'), &raw);
                    let debug_info = err.debug().map(|d| scrub(&d, &raw)).unwrap_or_default();
                    if err.error().matches(gst::StreamError::Decode) {
                        self.stats.on_decode_error();
                    }
                    debug!(camera = %self.camera, %element, %message, debug = %debug_info, "bus error");
                    let (camera, url) = (self.camera.to_string(), self.source.redacted());
                    return Err(if self.info.is_none() {
                        Error::Connect {
                            camera,
                            url,
                            element,
                            message,
                        }
                    } else {
                        Error::Stream {
                            camera,
                            url,
                            element,
                            message,
                        }
                    });
                }
                gst::MessageView::Eos(_) => self.eos = true,
                gst::MessageView::Warning(w) => {
                    let element = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                    let message = scrub(w.error().message(), &self.source.raw());
                    if w.error().matches(gst::StreamError::Decode) {
                        self.stats.on_decode_error();
                    }
                    warn!(camera = %self.camera, %element, %message, "pipeline warning");
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Copies one decoded sample into a [`Frame`], keeping the decoder's plane layout.
    fn copy_frame(&mut self, seq: u64, sample: &gst::Sample) -> Result<Frame> {
        let bad = |message: String| Error::Stream {
            camera: self.camera.to_string(),
            url: self.source.redacted(),
            element: "appsink".into(),
            message,
        };
        let caps = sample
            .caps()
            .ok_or_else(|| bad("sample without caps".into()))?;
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|e| bad(format!("unusable caps {caps}: {e}")))?;
        let buffer = sample
            .buffer()
            .ok_or_else(|| bad("sample without buffer".into()))?;
        let (width, height, offsets, strides) = match buffer.meta::<gst_video::VideoMeta>() {
            Some(m) => (
                m.width(),
                m.height(),
                m.offset().to_vec(),
                m.stride().to_vec(),
            ),
            None => (
                info.width(),
                info.height(),
                info.offset().to_vec(),
                info.stride().to_vec(),
            ),
        };
        if info.format() != gst_video::VideoFormat::I420 {
            return Err(bad(format!("expected I420, got {:?}", info.format())));
        }
        let map = buffer
            .map_readable()
            .map_err(|_| bad("cannot map decoded buffer".into()))?;
        let planes = i420_planes(width, height, &offsets, &strides, map.len()).map_err(bad)?;
        let data: Arc<[u8]> = Arc::from(map.as_slice());
        drop(map);

        if self.info.is_none() {
            let fps = (info.fps().numer() > 0 && info.fps().denom() > 0)
                .then(|| info.fps().numer() as f64 / info.fps().denom() as f64);
            let info = StreamInfo {
                codec: codec_of(&self.pipeline, &self.source),
                width,
                height,
                fps,
            };
            self.stats.set_stream_info(info.clone());
            self.info = Some(info);
        }
        Ok(Frame {
            camera: self.camera.clone(),
            seq,
            captured_ms: base::now_ms(),
            width,
            height,
            planes,
            data,
        })
    }
}

impl Drop for FrameSource {
    fn drop(&mut self) {
        // Release a streaming thread blocked on the mailbox before shutting down.
        self.mailbox.update(|st| st.closed = true);
        let _ = self.pipeline.set_state(gst::State::Null);
        self.bus.unset_sync_handler();
    }
}

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// Camera clock minus node clock, ms, from the `timestamp/x-ntp` reference timestamp that
/// rtspsrc (`add-reference-timestamp-meta`) attaches once the camera's RTCP sender reports map
/// RTP time to its NTP wall clock; `None` on buffers without one.
fn clock_skew_ms(buffer: &gst::BufferRef, node_now_ms: i64) -> Option<i64> {
    let ntp = buffer
        .iter_meta::<gst::meta::ReferenceTimestampMeta>()
        .find(|m| {
            m.reference()
                .structure(0)
                .is_some_and(|s| s.name() == "timestamp/x-ntp")
        })?
        .timestamp();
    let camera_ms = ntp.mseconds().checked_sub(NTP_UNIX_OFFSET_S * 1000)?;
    Some(i64::try_from(camera_ms).ok()? - node_now_ms)
}

/// Checks an I420 layout against the mapped buffer size and returns the planes.
fn i420_planes(
    width: u32,
    height: u32,
    offsets: &[usize],
    strides: &[i32],
    len: usize,
) -> Result<[Plane; 3], String> {
    if offsets.len() < 3 || strides.len() < 3 {
        return Err(format!("I420 needs 3 planes, got {}", offsets.len()));
    }
    let (w, h) = (width as usize, height as usize);
    let mut planes = [Plane {
        offset: 0,
        stride: 0,
    }; 3];
    for i in 0..3 {
        let (row, rows) = if i == 0 {
            (w, h)
        } else {
            (w.div_ceil(2), h.div_ceil(2))
        };
        let stride = usize::try_from(strides[i])
            .ok()
            .filter(|s| *s >= row)
            .ok_or_else(|| format!("plane {i}: stride {} below row {row}", strides[i]))?;
        let end = offsets[i] + stride * rows.saturating_sub(1) + row;
        if rows > 0 && end > len {
            return Err(format!("plane {i} ends at {end}, buffer has {len} bytes"));
        }
        planes[i] = Plane {
            offset: offsets[i],
            stride,
        };
    }
    Ok(planes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            Source::parse("rtsp://a:b@h/x").unwrap(),
            Source::Rtsp {
                url: "rtsp://a:b@h/x".into()
            }
        );
        assert_eq!(
            Source::parse("file:///tmp/a%20b.mp4").unwrap(),
            Source::File {
                path: "/tmp/a b.mp4".into()
            }
        );
        assert_eq!(
            Source::parse("rec/x.mp4").unwrap(),
            Source::File {
                path: "rec/x.mp4".into()
            }
        );
        assert_eq!(
            Source::parse("test://320x240@10?frames=5").unwrap(),
            Source::TestPattern {
                width: 320,
                height: 240,
                fps: 10,
                frames: Some(5)
            }
        );
        assert!(Source::parse("test://").unwrap().is_live());
        assert!(Source::parse("test://0x5").is_err());
        let e = Source::parse("http://u:secret@h/x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported scheme") && !e.contains("secret"),
            "{e}"
        );
        assert_eq!(
            Source::parse("rtsp://u:pw@h/x").unwrap().redacted(),
            "rtsp://u:***@h/x"
        );
    }

    #[test]
    fn transport_parses_and_maps_to_rtspsrc_protocols() {
        for (text, t, protocols) in [
            ("tcp", Transport::Tcp, "tcp"),
            ("UDP", Transport::Udp, "udp"),
            ("Auto", Transport::Auto, "udp+tcp"),
        ] {
            let parsed: Transport = text.parse().unwrap();
            assert_eq!(parsed, t);
            assert_eq!(parsed.rtspsrc_protocols(), protocols);
            assert_eq!(parsed.to_string(), text.to_ascii_lowercase());
        }
        let e = "quic".parse::<Transport>().unwrap_err().to_string();
        assert!(
            e.contains("`quic`") && e.contains("tcp, udp or auto"),
            "{e}"
        );
        assert_eq!(SourceOptions::default().transport, Transport::Tcp);
    }

    #[test]
    fn clock_skew_comes_from_the_ntp_reference_timestamp() {
        crate::init().unwrap();
        // Camera time 2024-01-01T00:00:00.250Z in NTP nanoseconds.
        let unix_ms: u64 = 1_704_067_200_250;
        let ntp = gst::ClockTime::from_mseconds(unix_ms + NTP_UNIX_OFFSET_S * 1000);
        let mut buffer = gst::Buffer::new();
        assert_eq!(clock_skew_ms(&buffer, unix_ms as i64), None);
        {
            let b = buffer.get_mut().unwrap();
            // Another clock's reference timestamp is ignored.
            gst::meta::ReferenceTimestampMeta::add(
                b,
                &gst::Caps::new_empty_simple("timestamp/x-unix"),
                gst::ClockTime::from_seconds(1),
                gst::ClockTime::NONE,
            );
            assert_eq!(clock_skew_ms(b, unix_ms as i64), None);
            gst::meta::ReferenceTimestampMeta::add(
                b,
                &gst::Caps::new_empty_simple("timestamp/x-ntp"),
                ntp,
                gst::ClockTime::NONE,
            );
        }
        // The node is 1.5 s ahead of the camera.
        assert_eq!(clock_skew_ms(&buffer, unix_ms as i64 + 1500), Some(-1500));
        assert_eq!(clock_skew_ms(&buffer, unix_ms as i64 - 20), Some(20));
    }

    #[test]
    fn i420_layout_is_checked_against_buffer() {
        // 640x272 tightly packed: Y 174080, U and V 43520 each.
        let planes = i420_planes(640, 272, &[0, 174080, 217600], &[640, 320, 320], 261120).unwrap();
        assert_eq!(
            planes[2],
            Plane {
                offset: 217600,
                stride: 320
            }
        );
        // Padded strides are kept as they are.
        let planes = i420_planes(6, 2, &[0, 16, 24], &[8, 4, 4], 28).unwrap();
        assert_eq!(planes[1].stride, 4);
        assert!(i420_planes(640, 272, &[0, 174080, 217600], &[640, 320, 320], 261119).is_err());
        assert!(i420_planes(640, 272, &[0, 174080, 217600], &[600, 320, 320], 261120).is_err());
        assert!(i420_planes(640, 272, &[0, 174080], &[640, 320], 261120).is_err());
    }

    fn pull_all(source: &Source) -> (Vec<Frame>, Option<StreamInfo>) {
        let stats = Arc::new(CameraStats::default());
        let mut src =
            FrameSource::open("t", source, &SourceOptions::default(), stats.clone()).unwrap();
        let mut frames = Vec::new();
        loop {
            match src.pull(Duration::from_secs(10)).unwrap() {
                Pulled::Frame(f) => frames.push(f),
                Pulled::Eos => break,
                Pulled::Timeout => panic!("timed out after {} frames", frames.len()),
            }
        }
        assert_eq!(stats.frames_delivered(), frames.len() as u64);
        assert_eq!(stats.stream_info().as_ref(), src.info());
        // Files and test patterns carry no camera clock.
        assert_eq!(stats.clock_skew_ms(), None);
        (frames, src.info().cloned())
    }

    #[test]
    fn counted_test_pattern_delivers_every_frame() {
        let (frames, info) = pull_all(&Source::parse("test://64x48@30?frames=12").unwrap());
        assert_eq!(frames.len(), 12);
        let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
        assert_eq!(seqs, (0..12).collect::<Vec<_>>());
        let f = &frames[0];
        assert_eq!((f.width, f.height), (64, 48));
        assert!(f.data.len() >= 64 * 48 + 2 * 32 * 24);
        let info = info.unwrap();
        assert_eq!(info.fps, Some(30.0));
        assert_eq!(info.codec.as_deref(), Some("raw"));
    }

    #[test]
    fn recorded_file_decodes_every_frame_as_i420() {
        let path = crate::testutil::clip_path();
        let (frames, info) = pull_all(&Source::File { path });
        assert_eq!(frames.len(), 250);
        let info = info.unwrap();
        assert_eq!(info.codec.as_deref(), Some("H.264"));
        assert_eq!((info.width, info.height), (640, 272));
        assert_eq!(info.fps, Some(25.0));
        // Real footage: the picture is neither blank nor constant.
        let f = &frames[100];
        let lumas: Vec<u8> = (0..272).step_by(17).map(|y| f.y_at(320, y)).collect();
        assert!(
            lumas.iter().max().unwrap() - lumas.iter().min().unwrap() > 30,
            "{lumas:?}"
        );
    }

    #[test]
    fn missing_file_is_a_connect_error_naming_the_path() {
        let stats = Arc::new(CameraStats::default());
        let source = Source::File {
            path: "/nonexistent/rec.mp4".into(),
        };
        let r = FrameSource::open("rec", &source, &SourceOptions::default(), stats)
            .and_then(|mut s| s.pull(Duration::from_secs(5)).map(|_| ()));
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent/rec.mp4") && e.contains("camera rec"),
            "{e}"
        );
    }

    /// Weak references to a pipeline and everything built into it by now: every element,
    /// those inside rtspsrc and decodebin included (rtpbin, jitter buffer, parser, decoder),
    /// every pad, and the bus.
    fn everything_in(src: &FrameSource) -> Vec<(String, gst::glib::WeakRef<gst::Object>)> {
        let mut all = vec![
            (
                "pipeline".to_owned(),
                src.pipeline.upcast_ref::<gst::Object>().downgrade(),
            ),
            (
                "bus".to_owned(),
                src.bus.upcast_ref::<gst::Object>().downgrade(),
            ),
        ];
        for e in src.pipeline.iterate_recurse().into_iter().flatten() {
            for pad in e.iterate_pads().into_iter().flatten() {
                let name = format!("{}:{}", e.name(), pad.name());
                all.push((name, pad.upcast_ref::<gst::Object>().downgrade()));
            }
            all.push((e.name().to_string(), e.upcast::<gst::Object>().downgrade()));
        }
        all
    }

    /// Drops `src` and checks that nothing of its pipeline outlives it (a reference cycle
    /// through a signal handler, probe, callback or bus handler would keep it all alive).
    fn assert_torn_down(
        what: &str,
        src: FrameSource,
        mut seen: Vec<(String, gst::glib::WeakRef<gst::Object>)>,
    ) {
        seen.extend(everything_in(&src));
        assert!(seen.len() > 10, "{what}: only {} objects", seen.len());
        drop(src);
        // Teardown is synchronous; the grace period only absorbs a streaming thread that
        // still holds a reference for a moment.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            seen.retain(|(_, w)| w.upgrade().is_some());
            if seen.is_empty() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let alive: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            alive.is_empty(),
            "{what}: still alive after drop: {alive:?}"
        );
    }

    /// Pulls until a frame, an error or EOS; `None` on timeout.
    fn pull_until_event(src: &mut FrameSource, within: Duration) -> Option<Result<Pulled>> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            match src.pull(Duration::from_millis(100)) {
                Ok(Pulled::Timeout) => {}
                other => return Some(other),
            }
        }
        None
    }

    fn open_rtsp(url: &str) -> FrameSource {
        let source = Source::Rtsp { url: url.into() };
        FrameSource::open(
            "teardown",
            &source,
            &SourceOptions::default(),
            Arc::default(),
        )
        .unwrap()
    }

    /// Every way a connection attempt ends, and each one frees everything the attempt built:
    /// a refused connection, a server that accepts and never answers (dropped while rtspsrc
    /// waits for it, as the watchdog does), a stream dropped while playing, and a stream whose
    /// server died (EOS).
    #[test]
    fn every_ended_attempt_frees_its_whole_pipeline() {
        crate::init().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut refused = open_rtsp(&format!("rtsp://127.0.0.1:{port}/x"));
        let r = pull_until_event(&mut refused, Duration::from_secs(5));
        assert!(matches!(r, Some(Err(Error::Connect { .. }))), "{r:?}");
        assert_torn_down("refused", refused, Vec::new());

        let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("rtsp://127.0.0.1:{}/x", mute.local_addr().unwrap().port());
        let mut waiting = open_rtsp(&url);
        let r = pull_until_event(&mut waiting, Duration::from_millis(500));
        assert!(r.is_none(), "{r:?}");
        assert_torn_down("mute server", waiting, Vec::new());

        let clip = crate::ClipSpec::new("c", crate::testutil::clip_path());
        let server = crate::CameraServer::start(&[clip], 0).unwrap();
        let mut playing = open_rtsp(&server.url("c"));
        let r = pull_until_event(&mut playing, Duration::from_secs(10));
        assert!(matches!(r, Some(Ok(Pulled::Frame(_)))), "{r:?}");
        assert_torn_down("playing", playing, Vec::new());

        let mut ended = open_rtsp(&server.url("c"));
        let r = pull_until_event(&mut ended, Duration::from_secs(10));
        assert!(matches!(r, Some(Ok(Pulled::Frame(_)))), "{r:?}");
        let seen = everything_in(&ended);
        drop(server);
        let r = loop {
            match pull_until_event(&mut ended, Duration::from_secs(10)) {
                Some(Ok(Pulled::Frame(_))) => continue,
                r => break r,
            }
        };
        assert!(matches!(r, Some(Ok(Pulled::Eos) | Err(_))), "{r:?}");
        assert_torn_down("server died", ended, seen);
    }
}
