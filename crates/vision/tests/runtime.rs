//! `vision::init` against the real ONNX Runtime library. ONNX Runtime is process-global, so
//! these checks run in order inside one test of their own binary: a missing library, a file that
//! is not a library, the real library (twice), then a second library after the first.
//!
//! Without the library (no setup run) only the error paths are checked, unless
//! `XUELIANG_REQUIRE_MODELS` is set, which turns that into a failure (as CI with models does).

use std::path::PathBuf;

use xueliang_vision as vision;

use vision::Error;

#[test]
fn init_reports_setup_problems_and_is_idempotent() {
    let missing = PathBuf::from("/nonexistent/onnxruntime/libonnxruntime.so.1.32.0");
    let err = vision::init(&missing).unwrap_err();
    assert!(matches!(err, Error::RuntimeMissing { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/onnxruntime/libonnxruntime.so.1.32.0"),
        "{msg}"
    );
    assert!(msg.contains("deploy/setup.sh"), "{msg}");

    // A file that exists but is no shared library: an error, not a panic.
    let bogus = std::env::temp_dir().join(format!("xueliang-bogus-ort-{}.so", std::process::id()));
    std::fs::write(&bogus, b"not an ELF file").unwrap();
    let err = vision::init(&bogus).unwrap_err();
    assert!(matches!(err, Error::RuntimeLoad { .. }), "{err:?}");
    assert!(err.to_string().contains(&*bogus.to_string_lossy()), "{err}");

    let real = vision::default_lib_path();
    if !real.is_file() {
        assert!(
            std::env::var_os("XUELIANG_REQUIRE_MODELS").is_none(),
            "ONNX Runtime missing at {}",
            real.display()
        );
        eprintln!(
            "skipping the real-library checks: {} is missing",
            real.display()
        );
        std::fs::remove_file(&bogus).unwrap();
        return;
    }
    vision::init(&real).expect("the installed ONNX Runtime loads");
    vision::init(&real).expect("a second init with the same library is a no-op");

    let err = vision::init(&bogus).unwrap_err();
    assert!(matches!(err, Error::RuntimeConflict { .. }), "{err:?}");
    std::fs::remove_file(&bogus).unwrap();
}
