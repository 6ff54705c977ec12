//! Simulated cameras: real H.264 clips served over RTSP by gstreamer-rtsp-server, looping
//! forever, for demos, benchmarks and tests.
//!
//! A [`CameraServer`] listens on 127.0.0.1 (port 0 picks a free one; [`CameraServer::port`] is
//! the real bound port) and mounts one clip per [`ClipSpec`] at `/<name>`. Each clip's access
//! units are demuxed once into memory ([`Clip::load`]) and never re-encoded: every RTSP client
//! gets its own media (the factory is not shared), so every client starts at the clip's first
//! keyframe, and the clip is replayed with its timestamps shifted by
//! `loop_index × clip duration` ([`looped_time`]), which makes the stream endless and gap-free.
//! The appsrc is live and only pushes when it is asked for data; the server's synchronised
//! sinks pace it to real time, so serving costs a memcpy-free buffer clone per frame and no
//! decoding. Dropping the server (or [`CameraServer::stop`]) disconnects every client, which
//! then sees EOS: that is how a chaos test kills a camera.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use tracing::{debug, info, warn};

use crate::error::{Error, Result};

/// One clip to serve: mounted at `/<name>`, read from `path` (H.264 in MP4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipSpec {
    pub name: String,
    pub path: PathBuf,
}

impl ClipSpec {
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        ClipSpec {
            name: name.into(),
            path: path.into(),
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
    /// port. Fails if a clip cannot be loaded, a name is empty, repeated or contains `/`, or the
    /// port cannot be bound.
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
            names.push(spec.name.clone());
        }

        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let mounts = server
            .mount_points()
            .ok_or_else(|| Error::Server("server has no mount points".into()))?;
        for spec in clips {
            let clip = Arc::new(Clip::load(&spec.path)?);
            debug!(
                name = %spec.name,
                units = clip.len(),
                duration_ms = clip.duration().mseconds(),
                "clip loaded"
            );
            mounts.add_factory(&format!("/{}", spec.name), clip_factory(&spec.name, clip));
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
        let appsrc = media
            .element()
            .downcast::<gst::Bin>()
            .ok()
            .and_then(|bin| bin.by_name("src"))
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok());
        let Some(appsrc) = appsrc else {
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
    fn server_rejects_missing_clip_and_bad_names() {
        let e = CameraServer::start(&[ClipSpec::new("cam", "/nonexistent/x.mp4")], 0).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.mp4"), "{e}");
        let clip = crate::testutil::clip_path();
        let e = CameraServer::start(&[ClipSpec::new("a/b", &clip)], 0).unwrap_err();
        assert!(e.to_string().contains("a/b"), "{e}");
    }
}
