//! Shared fixtures of the top-level tests: the real clip, and nodes on loopback ports that
//! the OS picks, with their files in a test's temporary folder.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

/// The real street clip, or a panic saying how to get it (tests never skip).
pub fn clip() -> PathBuf {
    ingest::init().unwrap();
    let clip = ingest::default_clip_path();
    assert!(
        clip.exists(),
        "{} missing: run deploy/setup.sh",
        clip.display()
    );
    clip
}

/// A platform on free loopback ports, storing in `dir/<node>.sqlite`.
pub async fn platform(node: &str, dir: &Path, upstream: Option<String>) -> platform::Platform {
    let mut cfg = platform::PlatformConfig::new(node);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.http_listen = "127.0.0.1:0".parse().unwrap();
    cfg.database = Some(dir.join(format!("{node}.sqlite")));
    cfg.upstream = upstream;
    platform::Platform::start(cfg).await.unwrap()
}

/// An edge config on free loopback ports reporting to `upstream`, health every second.
pub fn edge_config(node: &str, dir: &Path, upstream: String) -> edge::EdgeConfig {
    let mut cfg = edge::EdgeConfig::new(node, upstream);
    cfg.database = Some(dir.join(format!("{node}.sqlite")));
    cfg.http_listen = "127.0.0.1:0".parse().unwrap();
    cfg.health_interval_s = 1;
    cfg
}
