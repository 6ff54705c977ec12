//! The detector with the real ONNX Runtime and the real yolov12n model: the model loads and
//! passes the contract check, a frame without vehicles yields none (alone and in a batch), and
//! errors name what went wrong. Accuracy on real footage is tested end to end in `tests/`.
//!
//! Needs the files the setup command installs (`vision::default_lib_path()`,
//! `vision::default_model_path()`); without them the tests skip, unless
//! `XUELIANG_REQUIRE_MODELS` is set, which turns that into a failure.
//!
//! `cargo test -p xueliang-vision --test detector -- --nocapture` prints the time per frame.

use std::path::PathBuf;

use base::Frame;
use vision::{Detector, DetectorConfig, Error};
use xueliang_vision as vision;

/// The model path when the runtime and model are installed, else `None` (after saying why).
fn installed_model() -> Option<PathBuf> {
    let (lib, model) = (vision::default_lib_path(), vision::default_model_path());
    let missing: Vec<String> = [&lib, &model]
        .into_iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(model);
    }
    assert!(
        std::env::var_os("XUELIANG_REQUIRE_MODELS").is_none(),
        "missing {missing:?}; run deploy/setup.sh"
    );
    eprintln!("skipping: missing {missing:?}; run deploy/setup.sh");
    None
}

/// A uniform frame (Y, U, V constant) of the given size.
fn uniform(w: u32, h: u32, y: u8, u: u8, v: u8, seq: u64) -> Frame {
    let (luma, chroma) = ((w * h) as usize, (w.div_ceil(2) * h.div_ceil(2)) as usize);
    let mut data = vec![y; luma];
    data.extend(std::iter::repeat_n(u, chroma));
    data.extend(std::iter::repeat_n(v, chroma));
    Frame::from_i420("grey-cam", seq, w, h, data)
}

#[test]
fn missing_model_is_a_setup_error() {
    let path = PathBuf::from("/nonexistent/xueliang/models/yolov12n.onnx");
    let err = Detector::open(&path, DetectorConfig::default()).unwrap_err();
    assert!(err.is_setup(), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/xueliang/models/yolov12n.onnx"),
        "{msg}"
    );
    assert!(msg.contains("deploy/setup.sh"), "{msg}");
}

#[test]
fn corrupt_model_is_an_error_naming_the_file() {
    if installed_model().is_none() {
        return;
    }
    let path = std::env::temp_dir().join(format!("xueliang-corrupt-{}.onnx", std::process::id()));
    std::fs::write(&path, b"this is not an ONNX model").unwrap();
    let err = Detector::open(&path, DetectorConfig::default()).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(err, Error::Ort { .. }), "{err:?}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

#[test]
fn wrong_input_size_breaks_the_contract() {
    let Some(model) = installed_model() else {
        return;
    };
    let config = DetectorConfig {
        input_size: 320,
        ..DetectorConfig::default()
    };
    let err = Detector::open(&model, config).unwrap_err();
    assert!(matches!(err, Error::ModelContract { .. }), "{err:?}");
    assert!(err.to_string().contains("320"), "{err}");
}

#[test]
fn grey_frames_have_no_vehicles() {
    let Some(model) = installed_model() else {
        return;
    };
    let mut detector = Detector::open(&model, DetectorConfig::default()).expect("model loads");

    let grey = uniform(640, 272, 126, 128, 128, 1);
    let hd = uniform(1280, 720, 90, 128, 128, 2);
    assert_eq!(detector.detect(&grey).unwrap(), []);
    let batch = detector.detect_batch(&[&grey, &hd, &grey]).unwrap();
    assert_eq!(batch.len(), 3, "one result per frame");
    assert!(batch.iter().all(Vec::is_empty), "{batch:?}");
    assert_eq!(detector.detect_batch(&[]).unwrap().len(), 0);

    // A frame whose planes do not fit its buffer is an error naming the camera and frame.
    let mut broken = uniform(64, 64, 126, 128, 128, 77);
    broken.planes[1].offset = broken.data.len();
    let err = detector.detect_batch(&[&grey, &broken]).unwrap_err();
    assert!(matches!(err, Error::BadFrame { seq: 77, .. }), "{err:?}");
    assert!(err.to_string().contains("grey-cam"), "{err}");

    // One quick timing (information only; no assertion on speed).
    let before = detector.timings();
    let frames: Vec<Frame> = (0..8)
        .map(|i| uniform(1920, 1080, 100, 120, 130, i))
        .collect();
    let refs: Vec<&Frame> = frames.iter().collect();
    detector.detect_batch(&refs).unwrap();
    let t = detector.timings();
    let n = (t.frames - before.frames) as f64;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3 / n;
    eprintln!(
        "detector, 1920x1080 frames, {} thread(s): {:.2} ms/frame = preprocess {:.2} + inference {:.2} + postprocess {:.2}",
        detector.config().threads,
        ms((t.preprocess + t.inference + t.postprocess) - (before.preprocess + before.inference + before.postprocess)),
        ms(t.preprocess - before.preprocess),
        ms(t.inference - before.inference),
        ms(t.postprocess - before.postprocess),
    );
}
