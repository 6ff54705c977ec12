//! Shared fixtures of the ingest integration tests.

use std::path::PathBuf;

use xueliang_ingest as ingest;

/// The real street clip, or a panic that says how to get it (tests never skip silently).
pub fn clip_path() -> PathBuf {
    let path = ingest::default_clip_path();
    assert!(
        path.is_file(),
        "test clip {} is missing: run deploy/setup.sh (or set XUELIANG_HOME)",
        path.display()
    );
    path
}
