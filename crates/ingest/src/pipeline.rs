//! The GStreamer pipelines behind a [`FrameSource`](crate::FrameSource), one function each.
//!
//! Every pipeline ends in the same appsink (I420 caps, `sync=false`): live sources keep one
//! buffer and drop (`max-buffers=1 drop=true`), finite ones block the decoder instead, so a
//! recorded file decodes as fast as its consumer and loses nothing. Each builder returns the
//! pipeline, its appsink and the element whose sink pad sees the incoming bytes (for the
//! bitrate counter). Elements that matter in error messages get stable names (`rtspsrc`). RTSP
//! transport (TCP, UDP, UDP falling back to TCP) is chosen here from the source options, and
//! rtspsrc is asked to stamp buffers with the camera's NTP time when the stream carries it.
//! Only construction lives here; starting, pulling and teardown are in `source.rs`.

use std::path::Path;

use gst::prelude::*;
use tracing::warn;

use crate::error::{Error, Result};
use crate::source::{Source, SourceOptions};

/// Human name of the stream's codec, from the video decoder's input caps.
pub(crate) fn codec_of(pipeline: &gst::Pipeline, source: &Source) -> Option<String> {
    if matches!(source, Source::TestPattern { .. }) {
        return Some("raw".into());
    }
    let decoder = pipeline.iterate_recurse().into_iter().flatten().find(|e| {
        e.factory()
            .and_then(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).map(str::to_owned))
            .is_some_and(|k| k.contains("Decoder") && k.contains("Video"))
    })?;
    let caps = decoder.static_pad("sink")?.current_caps()?;
    Some(codec_name(caps.structure(0)?))
}

/// Human name of a compressed video format, from its caps structure.
fn codec_name(s: &gst::StructureRef) -> String {
    match s.name().as_str() {
        "video/x-h264" => "H.264".into(),
        "video/x-h265" => "H.265".into(),
        "image/jpeg" => "MJPEG".into(),
        "video/x-vp8" => "VP8".into(),
        "video/x-vp9" => "VP9".into(),
        "video/x-av1" => "AV1".into(),
        "video/mpeg" => format!("MPEG-{}", s.get::<i32>("mpegversion").unwrap_or(0)),
        other => other.to_owned(),
    }
}

fn i420_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format(gst_video::VideoFormat::I420)
        .build()
}

/// The sink every pipeline ends in: live sinks keep one frame and drop, finite ones block.
fn frame_sink(live: bool) -> gst_app::AppSink {
    gst_app::AppSink::builder()
        .name("sink")
        .caps(&i420_caps())
        .sync(false)
        .max_buffers(if live { 1 } else { 2 })
        .drop(live)
        .build()
}

/// Links every raw-video pad `decodebin` exposes to `convert`.
fn link_decoded_video(decodebin: &gst::Element, convert: &gst::Element) {
    let convert_sink = convert
        .static_pad("sink")
        .expect("videoconvert has a sink pad");
    decodebin.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .unwrap_or_else(|| pad.query_caps(None))
            .structure(0)
            .is_some_and(|s| s.name().starts_with("video/"));
        if is_video && !convert_sink.is_linked() {
            if let Err(e) = pad.link(&convert_sink) {
                warn!(error = %e, "cannot link decoded video");
            }
        }
    });
}

pub(crate) type Built = (gst::Pipeline, gst_app::AppSink, gst::Element);

// rtspsrc location=URL protocols=tcp|udp|udp+tcp latency=200 tcp-timeout=5s timeout=3s add-reference-timestamp-meta=true ! decodebin ! videoconvert ! appsink caps=video/x-raw,format=I420 max-buffers=1 drop=true sync=false
pub(crate) fn rtsp_pipeline(name: &str, url: &str, opts: &SourceOptions) -> Result<Built> {
    let pipeline = gst::Pipeline::with_name(name);
    let src = crate::make("rtspsrc")?;
    src.set_property("location", url);
    src.set_property_from_str("protocols", opts.transport.rtspsrc_protocols());
    src.set_property(
        "latency",
        opts.latency.as_millis().min(u32::MAX as u128) as u32,
    );
    src.set_property("tcp-timeout", opts.tcp_timeout.as_micros() as u64);
    // UDP: fail (udp) or retry over TCP (udp+tcp) when no packet came within this long.
    src.set_property("timeout", opts.udp_timeout.as_micros() as u64);
    // The camera's NTP time on every buffer once its RTCP sender reports arrived (1.22+):
    // the basis of the clock-skew figure. Decoders pass the meta on to the decoded frames.
    if src.has_property("add-reference-timestamp-meta") {
        src.set_property("add-reference-timestamp-meta", true);
    }
    src.set_property("name", "rtspsrc");
    // Only video streams; an unlinked audio stream would stall the session.
    src.connect("select-stream", false, |args| {
        let caps = args[2].get::<gst::Caps>().ok();
        let video = caps
            .as_ref()
            .and_then(|c| c.structure(0))
            .and_then(|s| s.get::<&str>("media").ok())
            .is_none_or(|m| m == "video");
        Some(video.to_value())
    });
    let decodebin = crate::make("decodebin")?;
    let convert = crate::make("videoconvert")?;
    let sink = frame_sink(true);
    pipeline
        .add_many([&src, &decodebin, &convert, sink.upcast_ref()])
        .map_err(|e| pipeline_err(name, url, e))?;
    gst::Element::link(&convert, &sink).map_err(|e| pipeline_err(name, url, e))?;
    let decode_sink = decodebin
        .static_pad("sink")
        .expect("decodebin has a sink pad");
    src.connect_pad_added(move |_, pad| {
        if !decode_sink.is_linked() {
            if let Err(e) = pad.link(&decode_sink) {
                warn!(error = %e, "cannot link RTSP stream to decoder");
            }
        }
    });
    link_decoded_video(&decodebin, &convert);
    Ok((pipeline, sink, decodebin))
}

// filesrc location=PATH ! decodebin ! videoconvert ! appsink caps=video/x-raw,format=I420 sync=false
pub(crate) fn file_pipeline(name: &str, path: &Path) -> Result<Built> {
    let pipeline = gst::Pipeline::with_name(name);
    let src = crate::make("filesrc")?;
    src.set_property("location", path.to_string_lossy().as_ref());
    let decodebin = crate::make("decodebin")?;
    let convert = crate::make("videoconvert")?;
    let sink = frame_sink(false);
    let shown = path.display().to_string();
    pipeline
        .add_many([&src, &decodebin, &convert, sink.upcast_ref()])
        .map_err(|e| pipeline_err(name, &shown, e))?;
    src.link(&decodebin)
        .map_err(|e| pipeline_err(name, &shown, e))?;
    gst::Element::link(&convert, &sink).map_err(|e| pipeline_err(name, &shown, e))?;
    link_decoded_video(&decodebin, &convert);
    Ok((pipeline, sink, decodebin))
}

// videotestsrc is-live=LIVE num-buffers=N pattern=ball ! video/x-raw,format=I420,width=W,height=H,framerate=FPS/1 ! appsink
pub(crate) fn test_pipeline(
    name: &str,
    width: u32,
    height: u32,
    fps: u32,
    frames: Option<u32>,
) -> Result<Built> {
    let pipeline = gst::Pipeline::with_name(name);
    let src = crate::make("videotestsrc")?;
    src.set_property("is-live", frames.is_none());
    if let Some(n) = frames {
        src.set_property("num-buffers", n.min(i32::MAX as u32) as i32);
    }
    src.set_property_from_str("pattern", "ball");
    let filter = crate::make("capsfilter")?;
    filter.set_property(
        "caps",
        gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .width(width as i32)
            .height(height as i32)
            .framerate(gst::Fraction::new(fps as i32, 1))
            .build(),
    );
    let sink = frame_sink(frames.is_none());
    pipeline
        .add_many([&src, &filter, sink.upcast_ref()])
        .map_err(|e| pipeline_err(name, "test", e))?;
    gst::Element::link_many([&src, &filter, sink.upcast_ref()])
        .map_err(|e| pipeline_err(name, "test", e))?;
    Ok((pipeline, sink, filter))
}

fn pipeline_err(name: &str, url: &str, e: impl std::fmt::Display) -> Error {
    Error::Pipeline {
        camera: name.trim_start_matches("camera-").to_owned(),
        url: base::redact_url(url),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FrameSource, Pulled};
    use crate::stats::CameraStats;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn codec_names_from_caps() {
        crate::init().unwrap();
        for (caps, name) in [
            ("video/x-h264,stream-format=avc", "H.264"),
            ("video/x-h265,stream-format=hvc1", "H.265"),
            ("image/jpeg", "MJPEG"),
            ("video/mpeg,mpegversion=4", "MPEG-4"),
            ("video/x-weird", "video/x-weird"),
        ] {
            let caps: gst::Caps = caps.parse().unwrap();
            assert_eq!(codec_name(caps.structure(0).unwrap()), name);
        }
    }

    /// Encodes a few H.265 frames into a Matroska file (x265enc), then decodes it through the
    /// same decodebin path RTSP uses: the stream info must say H.265.
    #[test]
    fn h265_stream_is_reported_as_h265() {
        crate::init().unwrap();
        let path = std::env::temp_dir().join(format!("xueliang-h265-{}.mkv", std::process::id()));
        let encode = gst::parse::launch(&format!(
            "videotestsrc num-buffers=8 ! video/x-raw,width=128,height=96,framerate=25/1 \
             ! x265enc speed-preset=ultrafast ! h265parse ! matroskamux ! filesink location={}",
            path.display()
        ))
        .expect("x265enc, h265parse and matroskamux are needed (gstreamer1.0-plugins-bad/good)");
        encode.set_state(gst::State::Playing).unwrap();
        let msg = encode
            .bus()
            .unwrap()
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(20),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
            .expect("encoding timed out");
        assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
        encode.set_state(gst::State::Null).unwrap();

        let stats = Arc::new(CameraStats::default());
        let source = Source::File { path: path.clone() };
        let mut src =
            FrameSource::open("h265", &source, &SourceOptions::default(), stats.clone()).unwrap();
        let mut frames = 0;
        while let Pulled::Frame(_) = src.pull(Duration::from_secs(10)).unwrap() {
            frames += 1;
        }
        drop(src);
        let _ = std::fs::remove_file(&path);
        assert_eq!(frames, 8);
        let info = stats.stream_info().unwrap();
        assert_eq!(info.codec.as_deref(), Some("H.265"));
        assert_eq!((info.width, info.height, info.fps), (128, 96, Some(25.0)));
    }
}
