//! Simulated cameras: real H.264 clips and fault patterns served over RTSP by
//! gstreamer-rtsp-server, looping forever, for demos, benchmarks, deployment checks and tests.
//!
//! A [`CameraServer`] listens on 127.0.0.1 (port 0 picks a free one; [`CameraServer::port`] is
//! the real bound port) and mounts one stream per [`ClipSpec`] at `/<name>`. A plain clip's
//! access units are demuxed once into memory ([`Clip::load`]) and never re-encoded: every RTSP
//! client gets its own media (the factory is not shared), so every client starts at the clip's
//! first keyframe, and the clip is replayed with its timestamps shifted by
//! `loop_index × clip duration` ([`looped_time`]), which makes the stream endless and gap-free.
//! The appsrc is live and only pushes when it is asked for data; the server's synchronised
//! sinks pace it to real time, so serving costs a memcpy-free buffer clone per frame and no
//! decoding. Dropping the server (or [`CameraServer::stop`]) disconnects every client, which
//! then sees EOS: that is how a chaos test kills a camera.
//!
//! A [`Pattern`] turns a mount into a camera fault an operator or a test can look at: black,
//! snow, a flat "no signal" colour (from `videotestsrc`), or the clip frozen, blurred, moved,
//! darkened, tinted or covered (the in-memory clip decoded and run through a filter). Patterns
//! are encoded live, as H.264 or H.265 ([`Codec`]), per client, with a keyframe every second;
//! that costs one ultrafast x264/x265 encode (plus one decode for clip-derived patterns) per
//! connected client, so keep them small (the tests use 320×180) when many run at once.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use tracing::{debug, info, warn};

use crate::error::{Error, Result};

/// One stream to serve, mounted at `/<name>`: the clip at `path` (H.264 in MP4) as it is, or a
/// [`Pattern`] (clip-derived patterns read `path` too; `black`, `snow` and `solid` ignore it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipSpec {
    pub name: String,
    pub path: PathBuf,
    /// A fault pattern instead of the plain clip. Default `None`.
    pub pattern: Option<Pattern>,
    /// Codec of re-encoded streams (patterns; the plain clip is served as the H.264 it is
    /// unless this is H.265). Default H.264.
    pub codec: Codec,
    /// Picture size of re-encoded streams. Default: the clip's size for clip-derived patterns,
    /// 640×360 for `black`, `snow` and `solid`.
    pub size: Option<(u32, u32)>,
}

impl ClipSpec {
    /// The clip at `path`, served as it is.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        ClipSpec {
            name: name.into(),
            path: path.into(),
            pattern: None,
            codec: Codec::H264,
            size: None,
        }
    }

    /// Serves `pattern` instead of the plain clip.
    pub fn with_pattern(mut self, pattern: Pattern) -> Self {
        self.pattern = Some(pattern);
        self
    }

    /// Encodes the stream with `codec` (H.265 re-encodes even the plain clip).
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Re-encodes the stream at `width`×`height`.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.size = Some((width, height));
        self
    }

    /// What this spec really serves: the plain clip passes through untouched only as H.264 at
    /// its own size; anything else goes through the encoder.
    fn effective_pattern(&self) -> Option<Pattern> {
        match self.pattern {
            None if self.codec != Codec::H264 || self.size.is_some() => Some(Pattern::Clip),
            p => p,
        }
    }
}

/// A picture a simulated camera can serve instead of its clip, each one a fault that video
/// quality diagnosis (see [`crate::quality`]) should report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// The clip itself, decoded and re-encoded (to serve it as H.265 or at another size).
    Clip,
    /// All black: a capped lens, a dead sensor, a switched-off camera behind an encoder.
    Black,
    /// Random noise ("snow"): analogue interference, a loose coax.
    Snow,
    /// One flat colour, `0xRRGGBB`: an encoder or decoder with no input ("no signal" screen).
    Solid(u32),
    /// The clip's first picture, repeated: a hung camera that still sends frames.
    Frozen,
    /// The clip out of focus.
    Blurred,
    /// The clip's top-left part, enlarged: the camera was knocked and now looks elsewhere.
    Shifted,
    /// The clip much darker and flatter: night without infrared, an iris stuck closed.
    Dark,
    /// The clip with a sepia tint: a failed colour filter or white balance.
    Cast,
    /// The clip with its left 60 % covered in black: something in front of the lens.
    Covered,
}

impl Pattern {
    /// The flat blue many encoders show when their video input is gone.
    pub const NO_SIGNAL: Pattern = Pattern::Solid(0x0000ff);

    /// Every pattern (`solid` as the no-signal blue), in the order `--help` lists them.
    pub const ALL: [Pattern; 10] = [
        Pattern::Clip,
        Pattern::Black,
        Pattern::Snow,
        Pattern::NO_SIGNAL,
        Pattern::Frozen,
        Pattern::Blurred,
        Pattern::Shifted,
        Pattern::Dark,
        Pattern::Cast,
        Pattern::Covered,
    ];

    /// The name used in the CLI (`solid` takes an optional `:RRGGBB`).
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Clip => "clip",
            Pattern::Black => "black",
            Pattern::Snow => "snow",
            Pattern::Solid(_) => "solid",
            Pattern::Frozen => "frozen",
            Pattern::Blurred => "blurred",
            Pattern::Shifted => "shifted",
            Pattern::Dark => "dark",
            Pattern::Cast => "cast",
            Pattern::Covered => "covered",
        }
    }

    /// One line for `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            Pattern::Clip => "the clip, re-encoded (e.g. as H.265)",
            Pattern::Black => "all black (capped lens, dead sensor)",
            Pattern::Snow => "random noise (interference)",
            Pattern::Solid(_) => "flat colour, default blue: solid[:RRGGBB] (no signal)",
            Pattern::Frozen => "the clip's first picture, repeated (hung camera)",
            Pattern::Blurred => "the clip out of focus",
            Pattern::Shifted => "the clip zoomed into a corner (camera knocked away)",
            Pattern::Dark => "the clip much darker (no infrared at night)",
            Pattern::Cast => "the clip tinted sepia (colour cast)",
            Pattern::Covered => "the clip with its left 60 % covered (lens blocked)",
        }
    }

    /// Whether the pattern is made from the clip (and so needs one).
    pub fn needs_clip(self) -> bool {
        !matches!(self, Pattern::Black | Pattern::Snow | Pattern::Solid(_))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Solid(rgb) if *self != Pattern::NO_SIGNAL => write!(f, "solid:{rgb:06x}"),
            p => f.write_str(p.name()),
        }
    }
}

impl FromStr for Pattern {
    type Err = base::UnknownName;

    /// A name from [`Pattern::ALL`], case-insensitive; `solid:RRGGBB` picks the colour.
    fn from_str(s: &str) -> Result<Pattern, base::UnknownName> {
        let lower = s.trim().to_ascii_lowercase();
        let unknown = || base::UnknownName {
            kind: "pattern",
            name: s.to_owned(),
            expected: Pattern::ALL.map(Pattern::name).join(", ") + " (solid[:RRGGBB])",
        };
        if let Some(hex) = lower.strip_prefix("solid:") {
            let hex = hex.trim_start_matches('#');
            return match u32::from_str_radix(hex, 16) {
                Ok(rgb) if hex.len() == 6 => Ok(Pattern::Solid(rgb)),
                _ => Err(unknown()),
            };
        }
        Pattern::ALL
            .into_iter()
            .find(|p| p.name() == lower)
            .ok_or_else(unknown)
    }
}

/// Video codec of a re-encoded stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    #[default]
    H264,
    H265,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Codec {
    type Err = base::UnknownName;

    /// `h264` / `h.264` / `avc` or `h265` / `h.265` / `hevc`, case-insensitive.
    fn from_str(s: &str) -> Result<Codec, base::UnknownName> {
        match s.trim().to_ascii_lowercase().replace('.', "").as_str() {
            "h264" | "avc" => Ok(Codec::H264),
            "h265" | "hevc" => Ok(Codec::H265),
            _ => Err(base::UnknownName {
                kind: "codec",
                name: s.to_owned(),
                expected: "h264, h265".into(),
            }),
        }
    }
}

/// The H.264 access units of one clip, in decode order, held in memory.
///
/// Invariants: `units` is non-empty, starts with a keyframe, has timestamps relative to the
/// first unit (the first DTS is 0) and every unit's DTS is below `duration`, so the next loop
/// starts exactly one frame after the last unit of this one.
#[derive(Debug)]
pub struct Clip {
    caps: gst::Caps,
    units: Vec<gst::Buffer>,
    duration: gst::ClockTime,
}

/// Timestamp `t` of a unit in its clip, as pushed during loop number `loop_no` (0-based).
pub fn looped_time(
    t: gst::ClockTime,
    loop_no: u64,
    clip_duration: gst::ClockTime,
) -> gst::ClockTime {
    t + clip_duration * loop_no
}

impl Clip {
    /// Demuxes the H.264 video track of an MP4 file into memory, keeping the caps (with
    /// `codec_data`) the server's appsrc announces. Fails with [`Error::Clip`] naming the file
    /// when it is missing, not MP4, or has no H.264 video track.
    // filesrc ! qtdemux ! h264parse ! appsink caps=video/x-h264,stream-format=avc,alignment=au
    pub fn load(path: &Path) -> Result<Clip> {
        let clip_err = |reason: String| Error::Clip {
            path: path.to_owned(),
            reason,
        };
        if !path.is_file() {
            return Err(Error::ClipNotFound {
                path: path.to_owned(),
            });
        }
        crate::init()?;

        let pipeline = gst::Pipeline::with_name("clip-loader");
        let src = crate::make("filesrc")?;
        src.set_property("location", path.to_string_lossy().as_ref());
        let demux = crate::make("qtdemux")?;
        let parse = crate::make("h264parse")?;
        let sink = gst_app::AppSink::builder()
            .caps(
                &gst::Caps::builder("video/x-h264")
                    .field("stream-format", "avc")
                    .field("alignment", "au")
                    .build(),
            )
            .sync(false)
            .build();
        pipeline
            .add_many([&src, &demux, &parse, sink.upcast_ref()])
            .map_err(|e| clip_err(e.to_string()))?;
        src.link(&demux).map_err(|e| clip_err(e.to_string()))?;
        parse.link(&sink).map_err(|e| clip_err(e.to_string()))?;

        // Link the first H.264 video pad; remember what else the file holds for the error.
        let tracks = Arc::new(Mutex::new(Vec::<String>::new()));
        let parse_sink = parse.static_pad("sink").expect("h264parse has a sink pad");
        demux.connect_pad_added({
            let tracks = tracks.clone();
            move |_, pad| {
                let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
                let name = caps
                    .structure(0)
                    .map(|s| s.name().to_string())
                    .unwrap_or_default();
                tracks.lock().unwrap().push(name.clone());
                if name == "video/x-h264" && !parse_sink.is_linked() {
                    if let Err(e) = pad.link(&parse_sink) {
                        warn!(error = %e, "cannot link H.264 track");
                    }
                }
            }
        });

        let units = Arc::new(Mutex::new(Vec::<gst::Buffer>::new()));
        let caps = Arc::new(Mutex::new(None::<gst::Caps>));
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample({
                    let (units, caps) = (units.clone(), caps.clone());
                    move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        let mut caps = caps.lock().unwrap();
                        if caps.is_none() {
                            *caps = sample.caps_owned();
                        }
                        if let Some(buffer) = sample.buffer_owned() {
                            units.lock().unwrap().push(buffer);
                        }
                        Ok(gst::FlowSuccess::Ok)
                    }
                })
                .build(),
        );

        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| clip_err("cannot start demuxing".into()))?;
        let bus = pipeline.bus().expect("a pipeline has a bus");
        let outcome = loop {
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(30)) else {
                break Err("demuxing did not finish within 30 s".to_owned());
            };
            match msg.view() {
                gst::MessageView::Eos(_) => break Ok(()),
                gst::MessageView::Error(err) => {
                    let element = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                    break Err(format!(
                        "{} ({element})",
                        err.error().message().trim_end_matches('.')
                    ));
                }
                _ => {}
            }
        };
        let _ = pipeline.set_state(gst::State::Null);

        let tracks = tracks.lock().unwrap().clone();
        if !tracks.iter().any(|t| t == "video/x-h264") {
            let found = if tracks.is_empty() {
                "no tracks".to_owned()
            } else {
                tracks.join(", ")
            };
            let why = outcome.err().map(|e| format!(": {e}")).unwrap_or_default();
            return Err(clip_err(format!(
                "not an MP4 file with an H.264 video track (found {found}){why}"
            )));
        }
        outcome.map_err(clip_err)?;

        let caps = caps
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| clip_err("H.264 track has no caps".into()))?;
        let units = std::mem::take(&mut *units.lock().unwrap());
        Clip::from_units(caps, units).map_err(clip_err)
    }

    /// Builds a clip from demuxed units: drops anything before the first keyframe, makes the
    /// timestamps relative to the first unit and derives the loop duration.
    fn from_units(caps: gst::Caps, units: Vec<gst::Buffer>) -> Result<Clip, String> {
        let first_key = units
            .iter()
            .position(|b| !b.flags().contains(gst::BufferFlags::DELTA_UNIT))
            .ok_or("no keyframe in the H.264 track")?;
        let units = &units[first_key..];
        let origin = units[0]
            .dts_or_pts()
            .ok_or("H.264 track has no timestamps")?;
        let origin = units[0].pts().map_or(origin, |p| p.min(origin));

        let frame_duration = caps
            .structure(0)
            .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
            .filter(|f| f.numer() > 0 && f.denom() > 0)
            .map(|f| {
                gst::ClockTime::from_nseconds(1_000_000_000 * f.denom() as u64 / f.numer() as u64)
            })
            .unwrap_or(gst::ClockTime::from_mseconds(40));

        let mut out = Vec::with_capacity(units.len());
        let mut duration = gst::ClockTime::ZERO;
        for unit in units {
            let mut b = unit.copy();
            let bm = b.make_mut();
            bm.unset_flags(gst::BufferFlags::DISCONT);
            let dts = unit.dts_or_pts().map(|t| t.saturating_sub(origin));
            bm.set_dts(dts);
            bm.set_pts(unit.pts().map(|t| t.saturating_sub(origin)));
            if let Some(dts) = dts {
                duration = duration.max(dts + unit.duration().unwrap_or(frame_duration));
            }
            out.push(b);
        }
        if duration.is_zero() {
            return Err("H.264 track has zero duration".into());
        }
        Ok(Clip {
            caps,
            units: out,
            duration,
        })
    }

    /// Caps of the access units (H.264, avc, au, with codec_data).
    pub fn caps(&self) -> &gst::Caps {
        &self.caps
    }

    /// Number of access units (frames) in one loop.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Always false: a loaded clip has at least one keyframe.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Length of one loop: last decode time plus one frame.
    pub fn duration(&self) -> gst::ClockTime {
        self.duration
    }

    /// Average time between frames (one loop divided by its frames).
    pub fn frame_duration(&self) -> gst::ClockTime {
        self.duration / self.units.len() as u64
    }

    /// Picture size from the caps, when the container declared it.
    pub fn size(&self) -> Option<(u32, u32)> {
        let s = self.caps.structure(0)?;
        let w = s.get::<i32>("width").ok()?;
        let h = s.get::<i32>("height").ok()?;
        Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
    }
}

/// Where one client's playback is in an endlessly looped clip.
#[derive(Debug, Default)]
struct LoopCursor {
    next: usize,
    loop_no: u64,
}

impl LoopCursor {
    /// The next unit to push, with timestamps shifted into the current loop.
    fn next_buffer(&mut self, clip: &Clip) -> gst::Buffer {
        let unit = &clip.units[self.next];
        let mut out = unit.copy();
        let b = out.make_mut();
        b.set_pts(
            unit.pts()
                .map(|t| looped_time(t, self.loop_no, clip.duration)),
        );
        b.set_dts(
            unit.dts()
                .map(|t| looped_time(t, self.loop_no, clip.duration)),
        );
        if self.next == 0 && self.loop_no == 0 {
            b.set_flags(gst::BufferFlags::DISCONT);
        }
        self.next += 1;
        if self.next == clip.units.len() {
            self.next = 0;
            self.loop_no += 1;
        }
        out
    }

    /// The clip's first keyframe again, one frame later than the previous one: a decoder
    /// shows the same picture forever.
    fn next_frozen(&mut self, clip: &Clip) -> gst::Buffer {
        let mut out = clip.units[0].copy();
        let b = out.make_mut();
        let t = clip.frame_duration() * self.loop_no;
        b.set_pts(t);
        b.set_dts(t);
        if self.loop_no == 0 {
            b.set_flags(gst::BufferFlags::DISCONT);
        }
        self.loop_no += 1;
        out
    }
}

/// An in-process RTSP server of looping clips, with its own GLib main loop thread.
pub struct CameraServer {
    server: gst_rtsp_server::RTSPServer,
    context: glib::MainContext,
    source: Option<glib::SourceId>,
    main_loop: glib::MainLoop,
    thread: Option<JoinHandle<()>>,
    port: u16,
    names: Vec<String>,
}

impl std::fmt::Debug for CameraServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraServer")
            .field("port", &self.port)
            .field("names", &self.names)
            .finish()
    }
}

impl CameraServer {
    /// Loads every clip and serves it at `rtsp://127.0.0.1:<port>/<name>`. Port 0 picks a free
    /// port. Fails if a clip cannot be loaded, a name is empty, repeated or contains `/`, a
    /// pattern's encoder or filter is not installed, or the port cannot be bound.
    pub fn start(clips: &[ClipSpec], port: u16) -> Result<CameraServer> {
        crate::init()?;
        let mut names = Vec::with_capacity(clips.len());
        for spec in clips {
            if spec.name.is_empty() || spec.name.contains('/') || names.contains(&spec.name) {
                return Err(Error::Server(format!(
                    "invalid or repeated mount name `{}`",
                    spec.name
                )));
            }
            if spec
                .size
                .is_some_and(|(w, h)| w < 16 || h < 16 || w % 2 + h % 2 != 0)
            {
                return Err(Error::Server(format!(
                    "mount `{}`: size must be even and at least 16x16",
                    spec.name
                )));
            }
            names.push(spec.name.clone());
        }

        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let mounts = server
            .mount_points()
            .ok_or_else(|| Error::Server("server has no mount points".into()))?;
        let mut loaded: HashMap<&Path, Arc<Clip>> = HashMap::new();
        for spec in clips {
            let pattern = spec.effective_pattern();
            let clip = match pattern {
                Some(p) if !p.needs_clip() => None,
                _ => Some(match loaded.get(spec.path.as_path()) {
                    Some(clip) => clip.clone(),
                    None => {
                        let clip = Arc::new(Clip::load(&spec.path)?);
                        debug!(
                            path = %spec.path.display(),
                            units = clip.len(),
                            duration_ms = clip.duration().mseconds(),
                            "clip loaded"
                        );
                        loaded.insert(&spec.path, clip.clone());
                        clip
                    }
                }),
            };
            let mount = format!("/{}", spec.name);
            match (pattern, clip) {
                (None, Some(clip)) => mounts.add_factory(&mount, clip_factory(&spec.name, clip)),
                (Some(pattern), clip) => {
                    check_elements(pattern, spec.codec)?;
                    let clip_size = clip.as_ref().and_then(|c| c.size());
                    let launch = pattern_launch(pattern, spec.codec, spec.size, clip_size);
                    debug!(mount = %spec.name, %launch, "pattern mount");
                    mounts.add_factory(
                        &mount,
                        pattern_factory(&spec.name, &launch, clip.map(|c| (c, pattern))),
                    );
                }
                (None, None) => unreachable!("a plain clip mount always loads its clip"),
            }
        }

        let context = glib::MainContext::new();
        let source = server
            .attach(Some(&context))
            .map_err(|_| Error::Server(format!("cannot listen on 127.0.0.1:{port}")))?;
        let bound = u16::try_from(server.bound_port())
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| Error::Server("server has no bound port".into()))?;

        let main_loop = glib::MainLoop::new(Some(&context), false);
        let thread = std::thread::Builder::new()
            .name(format!("rtsp-server-{bound}"))
            .spawn({
                let (context, main_loop) = (context.clone(), main_loop.clone());
                move || {
                    if context.with_thread_default(|| main_loop.run()).is_err() {
                        warn!("RTSP server main context is owned by another thread");
                    }
                }
            })
            .map_err(|e| Error::Server(format!("cannot spawn server thread: {e}")))?;
        info!(port = bound, mounts = ?names, "camera server listening");
        Ok(CameraServer {
            server,
            context,
            source: Some(source),
            main_loop,
            thread: Some(thread),
            port: bound,
            names,
        })
    }

    /// The port the server is bound to (the real one when started with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rtsp://127.0.0.1:PORT/name`.
    pub fn url(&self, name: &str) -> String {
        format!("rtsp://127.0.0.1:{}/{name}", self.port)
    }

    /// Mount names, in the order given to [`CameraServer::start`].
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Stops listening and disconnects every client (they see EOS). Same as dropping.
    pub fn stop(self) {}

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        if let Some(source) = self.source.take() {
            if let Some(source) = self.context.find_source_by_id(&source) {
                source.destroy();
            }
        }
        self.server
            .client_filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
        // Let the closed clients tear their media down before the loop goes away.
        let (tx, rx) = std::sync::mpsc::channel();
        self.context.invoke(move || {
            let _ = tx.send(());
        });
        let _ = rx.recv_timeout(Duration::from_secs(2));
        self.main_loop.quit();
        let _ = thread.join();
        info!(port = self.port, "camera server stopped");
    }
}

impl Drop for CameraServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A non-shared factory whose every media replays `clip` from its first keyframe.
// appsrc name=src is-live=true format=time ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1
fn clip_factory(name: &str, clip: Arc<Clip>) -> gst_rtsp_server::RTSPMediaFactory {
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(
        "( appsrc name=src is-live=true format=time \
           ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
    );
    factory.set_shared(false);
    let name = name.to_owned();
    factory.connect_media_configure(move |_, media| {
        let Some(appsrc) = media_appsrc(media) else {
            warn!(mount = %name, "media has no appsrc named `src`");
            return;
        };
        debug!(mount = %name, "new client media");
        appsrc.set_caps(Some(clip.caps()));
        let clip = clip.clone();
        let mut cursor = LoopCursor::default();
        appsrc.set_callbacks(
            gst_app::AppSrcCallbacks::builder()
                .need_data(move |src, _| {
                    // Err means flushing or shutting down; the media is going away.
                    let _ = src.push_buffer(cursor.next_buffer(&clip));
                })
                .build(),
        );
    });
    factory
}

/// Fails with [`Error::MissingElement`] when an element `pattern_launch` uses is missing.
fn check_elements(pattern: Pattern, codec: Codec) -> Result<()> {
    let mut needed = vec!["videoconvert", "videoscale"];
    needed.extend(match codec {
        Codec::H264 => ["x264enc", "h264parse", "rtph264pay"],
        Codec::H265 => ["x265enc", "h265parse", "rtph265pay"],
    });
    needed.extend(match pattern {
        Pattern::Black | Pattern::Snow | Pattern::Solid(_) => vec!["videotestsrc"],
        _ => vec!["appsrc", "h264parse", "avdec_h264"],
    });
    needed.extend(match pattern {
        Pattern::Shifted => &["videocrop"][..],
        Pattern::Dark => &["videobalance"],
        Pattern::Cast => &["coloreffects", "videobalance"],
        Pattern::Covered => &["videocrop", "videobox"],
        _ => &[],
    });
    match needed
        .into_iter()
        .find(|f| gst::ElementFactory::find(f).is_none())
    {
        Some(factory) => Err(Error::MissingElement { factory }),
        None => Ok(()),
    }
}

/// The launch line of a pattern mount. Clip-derived patterns start at an appsrc named `src`
/// fed with the clip's H.264 units, the others at `videotestsrc`. Filters run at the clip's
/// own size (`clip_size`), then the picture is scaled to `size` and encoded with a keyframe
/// every second.
// appsrc name=src ! h264parse ! avdec_h264 (or videotestsrc) ! FILTER ! videoscale ! x26Xenc ! rtph26Xpay name=pay0
fn pattern_launch(
    pattern: Pattern,
    codec: Codec,
    size: Option<(u32, u32)>,
    clip_size: Option<(u32, u32)>,
) -> String {
    let (cw, ch) = clip_size.unwrap_or((640, 360));
    let (w, h) = size.unwrap_or(if pattern.needs_clip() {
        (cw, ch)
    } else {
        (640, 360)
    });
    let input = match pattern {
        Pattern::Black => "videotestsrc is-live=true pattern=black".to_owned(),
        Pattern::Snow => "videotestsrc is-live=true pattern=snow".to_owned(),
        Pattern::Solid(rgb) => format!(
            "videotestsrc is-live=true pattern=solid-color foreground-color={}",
            0xff00_0000 | (rgb & 0xff_ffff)
        ),
        _ => "appsrc name=src is-live=true format=time ! h264parse ! avdec_h264".to_owned(),
    };
    let filter = match pattern {
        Pattern::Blurred => format!(
            "videoscale ! video/x-raw,width={},height={} ! videoscale ! \
             video/x-raw,width={cw},height={ch}",
            (cw / 10).max(2) & !1,
            (ch / 10).max(2) & !1
        ),
        Pattern::Shifted => format!(
            "videocrop right={} bottom={} ! videoscale ! video/x-raw,width={cw},height={ch}",
            cw * 2 / 5,
            ch * 2 / 5
        ),
        Pattern::Dark => "videobalance contrast=0.15".to_owned(),
        Pattern::Cast => "coloreffects preset=sepia ! videobalance saturation=1.6".to_owned(),
        Pattern::Covered => {
            let cover = (cw * 3 / 5) & !1;
            format!("videocrop left={cover} ! videobox left=-{cover} fill=black")
        }
        _ => "identity".to_owned(),
    };
    let encode = match codec {
        Codec::H264 => {
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! h264parse ! \
             rtph264pay name=pay0 pt=96 config-interval=-1"
        }
        Codec::H265 => {
            "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=25 log-level=error ! \
             h265parse ! rtph265pay name=pay0 pt=96 config-interval=-1"
        }
    };
    format!(
        "( {input} ! videoconvert ! {filter} ! videoconvert ! videoscale ! \
         video/x-raw,format=I420,width={w},height={h},framerate=25/1,pixel-aspect-ratio=1/1 ! \
         {encode} )"
    )
}

/// A non-shared factory for `launch`; when it reads a clip, every media feeds its own appsrc
/// from the clip's first keyframe (looping, or the first picture forever for `Frozen`).
fn pattern_factory(
    name: &str,
    launch: &str,
    clip: Option<(Arc<Clip>, Pattern)>,
) -> gst_rtsp_server::RTSPMediaFactory {
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(launch);
    factory.set_shared(false);
    let Some((clip, pattern)) = clip else {
        return factory;
    };
    let name = name.to_owned();
    factory.connect_media_configure(move |_, media| {
        let Some(appsrc) = media_appsrc(media) else {
            warn!(mount = %name, "media has no appsrc named `src`");
            return;
        };
        debug!(mount = %name, %pattern, "new client media");
        appsrc.set_caps(Some(clip.caps()));
        let clip = clip.clone();
        let mut cursor = LoopCursor::default();
        let frozen = pattern == Pattern::Frozen;
        appsrc.set_callbacks(
            gst_app::AppSrcCallbacks::builder()
                .need_data(move |src, _| {
                    let buffer = if frozen {
                        cursor.next_frozen(&clip)
                    } else {
                        cursor.next_buffer(&clip)
                    };
                    // Err means flushing or shutting down; the media is going away.
                    let _ = src.push_buffer(buffer);
                })
                .build(),
        );
    });
    factory
}

/// The appsrc named `src` of a media's pipeline.
fn media_appsrc(media: &gst_rtsp_server::RTSPMedia) -> Option<gst_app::AppSrc> {
    media
        .element()
        .downcast::<gst::Bin>()
        .ok()
        .and_then(|bin| bin.by_name("src"))
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(dts: u64, pts: u64, key: bool) -> gst::Buffer {
        let mut b = gst::Buffer::with_size(4).unwrap();
        let bm = b.get_mut().unwrap();
        bm.set_dts(gst::ClockTime::from_mseconds(dts));
        bm.set_pts(gst::ClockTime::from_mseconds(pts));
        bm.set_duration(gst::ClockTime::from_mseconds(40));
        if !key {
            bm.set_flags(gst::BufferFlags::DELTA_UNIT);
        }
        b
    }

    fn caps() -> gst::Caps {
        gst::Caps::builder("video/x-h264")
            .field("framerate", gst::Fraction::new(25, 1))
            .build()
    }

    #[test]
    fn looped_time_shifts_by_whole_loops() {
        let d = gst::ClockTime::from_seconds(10);
        let t = gst::ClockTime::from_mseconds(80);
        assert_eq!(looped_time(t, 0, d), t);
        assert_eq!(looped_time(t, 3, d), gst::ClockTime::from_mseconds(30_080));
    }

    #[test]
    fn clip_starts_at_keyframe_and_is_relative() {
        crate::init().unwrap();
        // A leading delta unit (undecodable on its own) is dropped; B-frame style PTS > DTS.
        let units = vec![
            unit(960, 1000, false),
            unit(1000, 1080, true),
            unit(1040, 1160, false),
            unit(1080, 1120, false),
        ];
        let clip = Clip::from_units(caps(), units).unwrap();
        assert_eq!(clip.len(), 3);
        assert_eq!(clip.units[0].dts(), Some(gst::ClockTime::ZERO));
        assert_eq!(clip.units[0].pts(), Some(gst::ClockTime::from_mseconds(80)));
        assert_eq!(clip.duration(), gst::ClockTime::from_mseconds(120));
        assert!(Clip::from_units(caps(), vec![unit(0, 0, false)]).is_err());
    }

    #[test]
    fn cursor_loops_with_monotonic_timestamps() {
        crate::init().unwrap();
        let units = vec![
            unit(0, 80, true),
            unit(40, 160, false),
            unit(80, 120, false),
        ];
        let clip = Clip::from_units(caps(), units).unwrap();
        let mut cursor = LoopCursor::default();
        let pushed: Vec<_> = (0..7).map(|_| cursor.next_buffer(&clip)).collect();
        let dts: Vec<u64> = pushed.iter().map(|b| b.dts().unwrap().mseconds()).collect();
        assert_eq!(dts, [0, 40, 80, 120, 160, 200, 240]);
        let pts: Vec<u64> = pushed.iter().map(|b| b.pts().unwrap().mseconds()).collect();
        assert_eq!(pts, [80, 160, 120, 200, 280, 240, 320]);
        // Every loop restarts at the keyframe; only the very first buffer is DISCONT.
        assert!(!pushed[3].flags().contains(gst::BufferFlags::DELTA_UNIT));
        assert!(pushed[0].flags().contains(gst::BufferFlags::DISCONT));
        assert!(!pushed[3].flags().contains(gst::BufferFlags::DISCONT));
    }

    #[test]
    fn real_clip_loads_as_ten_seconds_of_h264() {
        let path = crate::testutil::clip_path();
        let clip = Clip::load(&path).unwrap();
        assert_eq!(clip.len(), 250);
        assert_eq!(clip.duration(), gst::ClockTime::from_seconds(10));
        let s = clip.caps().structure(0).unwrap();
        assert_eq!(s.name(), "video/x-h264");
        assert_eq!(s.get::<&str>("stream-format").unwrap(), "avc");
        assert!(s.has_field("codec_data"));
        // Next loop's first DTS comes one frame after this loop's last DTS.
        let last = clip.units.last().unwrap().dts().unwrap();
        assert_eq!(clip.duration() - last, gst::ClockTime::from_mseconds(40));
    }

    #[test]
    fn missing_or_wrong_clip_is_a_clear_error() {
        let missing = Path::new("/nonexistent/xueliang/clip.mp4");
        let e = Clip::load(missing).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/nonexistent/xueliang/clip.mp4"), "{msg}");
        assert!(msg.contains("no such file"), "{msg}");
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);

        let dir = std::env::temp_dir().join(format!("xueliang-ingest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bogus = dir.join("not-a-video.mp4");
        std::fs::write(
            &bogus,
            b"this is not an mp4 file at all, just text\n".repeat(50),
        )
        .unwrap();
        let e = Clip::load(&bogus).unwrap_err();
        let msg = e.to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(msg.contains("not-a-video.mp4"), "{msg}");
        assert!(msg.contains("H.264"), "{msg}");
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
    }

    #[test]
    fn frozen_cursor_repeats_the_first_keyframe() {
        crate::init().unwrap();
        let units = vec![
            unit(0, 80, true),
            unit(40, 160, false),
            unit(80, 120, false),
        ];
        let clip = Clip::from_units(caps(), units).unwrap();
        let mut cursor = LoopCursor::default();
        let pushed: Vec<_> = (0..4).map(|_| cursor.next_frozen(&clip)).collect();
        let pts: Vec<u64> = pushed.iter().map(|b| b.pts().unwrap().mseconds()).collect();
        assert_eq!(pts, [0, 40, 80, 120]);
        for b in &pushed {
            assert!(!b.flags().contains(gst::BufferFlags::DELTA_UNIT));
            assert_eq!(b.dts(), b.pts());
        }
        assert!(pushed[0].flags().contains(gst::BufferFlags::DISCONT));
        assert!(!pushed[1].flags().contains(gst::BufferFlags::DISCONT));
    }

    #[test]
    fn patterns_and_codecs_parse_and_print() {
        for p in Pattern::ALL {
            assert_eq!(p.to_string().parse::<Pattern>().unwrap(), p);
            assert_eq!(p.name().parse::<Pattern>().unwrap().name(), p.name());
        }
        assert_eq!("solid".parse::<Pattern>().unwrap(), Pattern::NO_SIGNAL);
        assert_eq!(
            " Solid:#00FF00 ".parse::<Pattern>().unwrap(),
            Pattern::Solid(0x00ff00)
        );
        assert_eq!(Pattern::Solid(0x00ff00).to_string(), "solid:00ff00");
        for bad in ["fog", "solid:12345", "solid:zzzzzz", ""] {
            let e = bad.parse::<Pattern>().unwrap_err().to_string();
            assert!(e.contains("pattern") && e.contains("covered"), "{e}");
        }
        assert_eq!("HEVC".parse::<Codec>().unwrap(), Codec::H265);
        assert_eq!("h.264".parse::<Codec>().unwrap(), Codec::H264);
        assert!("vp9".parse::<Codec>().is_err());
        assert!(!Pattern::Black.needs_clip() && Pattern::Frozen.needs_clip());
    }

    #[test]
    fn spec_builders_decide_what_is_re_encoded() {
        let plain = ClipSpec::new("a", "x.mp4");
        assert_eq!(plain.effective_pattern(), None);
        let h265 = plain.clone().with_codec(Codec::H265);
        assert_eq!(h265.effective_pattern(), Some(Pattern::Clip));
        assert_eq!(
            plain.clone().with_size(320, 180).effective_pattern(),
            Some(Pattern::Clip)
        );
        let dark = plain.with_pattern(Pattern::Dark);
        assert_eq!(dark.effective_pattern(), Some(Pattern::Dark));
    }

    #[test]
    fn every_pattern_launch_line_builds() {
        crate::init().unwrap();
        for codec in [Codec::H264, Codec::H265] {
            for p in Pattern::ALL {
                check_elements(p, codec).unwrap();
                let launch = pattern_launch(p, codec, Some((320, 180)), Some((640, 272)));
                let bin = gst::parse::launch(&launch)
                    .unwrap_or_else(|e| panic!("{p} {codec}: {e}: {launch}"))
                    .downcast::<gst::Bin>()
                    .unwrap();
                assert!(bin.by_name("pay0").is_some(), "{launch}");
                assert_eq!(bin.by_name("src").is_some(), p.needs_clip(), "{launch}");
            }
        }
        let blue = pattern_launch(Pattern::NO_SIGNAL, Codec::H264, None, None);
        assert!(blue.contains("foreground-color=4278190335"), "{blue}");
        assert!(blue.contains("width=640,height=360"), "{blue}");
        let blurred = pattern_launch(Pattern::Blurred, Codec::H264, None, Some((640, 272)));
        assert!(blurred.contains("width=64,height=26"), "{blurred}");
        assert!(
            blurred.contains("width=640,height=272,framerate"),
            "{blurred}"
        );
    }

    #[test]
    fn test_patterns_need_no_clip_but_sizes_are_checked() {
        let black = ClipSpec::new("black", "/nonexistent/x.mp4").with_pattern(Pattern::Black);
        let server = CameraServer::start(std::slice::from_ref(&black), 0).unwrap();
        assert_eq!(server.names(), ["black"]);
        drop(server);
        let e = CameraServer::start(&[black.with_size(321, 180)], 0).unwrap_err();
        assert!(e.to_string().contains("even"), "{e}");
        let frozen = ClipSpec::new("f", "/nonexistent/x.mp4").with_pattern(Pattern::Frozen);
        let e = CameraServer::start(&[frozen], 0).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.mp4"), "{e}");
    }

    #[test]
    fn server_rejects_missing_clip_and_bad_names() {
        let e = CameraServer::start(&[ClipSpec::new("cam", "/nonexistent/x.mp4")], 0).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.mp4"), "{e}");
        let clip = crate::testutil::clip_path();
        let e = CameraServer::start(&[ClipSpec::new("a/b", &clip)], 0).unwrap_err();
        assert!(e.to_string().contains("a/b"), "{e}");
    }
}
