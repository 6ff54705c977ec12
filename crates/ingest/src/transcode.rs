//! Re-encoding a clip into a smaller H.264 MP4, once, so that many simulated cameras can be
//! served cheaply (the camera server loops access units without re-encoding; the cost of
//! serving is set by the clip's size and rate). Used by soak runs of dozens of cameras.

use std::path::Path;

use gst::prelude::*;

use crate::error::{Error, Result};

// filesrc ! decodebin ! videoconvert ! videoscale ! videorate ! video/x-raw,width=W,height=H,framerate=F/1
//   ! x264enc speed-preset=ultrafast key-int-max=F ! h264parse ! mp4mux ! filesink
/// Writes `src` re-encoded to `width`×`height` at `fps` (H.264 baseline-ish, one keyframe per
/// second) as the MP4 `dst`. Runs as fast as the machine allows and returns when done.
pub fn transcode_clip(src: &Path, dst: &Path, width: u32, height: u32, fps: u32) -> Result<()> {
    crate::init()?;
    if !src.is_file() {
        return Err(Error::ClipNotFound { path: src.into() });
    }
    let clip_err = |reason: String| Error::Clip {
        path: src.into(),
        reason,
    };
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videoscale ! videorate \
         ! video/x-raw,format=I420,width={width},height={height},framerate={fps}/1 \
         ! x264enc speed-preset=ultrafast tune=zerolatency key-int-max={fps} \
         ! h264parse ! mp4mux ! filesink location=\"{}\"",
        src.display(),
        dst.display()
    );
    let pipeline =
        gst::parse::launch(&desc).map_err(|e| clip_err(format!("cannot build transcoder: {e}")))?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| clip_err("transcoder has no bus".into()))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| clip_err(format!("cannot start transcoder: {e}")))?;
    let result = loop {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(60)) else {
            break Err(clip_err("transcoder stalled for 60 s".into()));
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break Ok(()),
            gst::MessageView::Error(e) => {
                break Err(clip_err(format!(
                    "{} ({})",
                    e.error(),
                    e.src().map(|s| s.name().to_string()).unwrap_or_default()
                )))
            }
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcoded_clip_loads_as_a_servable_clip() {
        let src = crate::testutil::clip_path();
        let dir = std::env::temp_dir().join(format!("xueliang-transcode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dst = dir.join("small.mp4");
        transcode_clip(&src, &dst, 160, 68, 10).unwrap();
        let clip = crate::Clip::load(&dst).unwrap();
        // 10 s at 10 fps.
        assert!((95..=105).contains(&clip.len()), "{}", clip.len());
        let _ = std::fs::remove_dir_all(&dir);
        assert!(transcode_clip(Path::new("/nonexistent.mp4"), &dst, 160, 68, 10).is_err());
    }
}
