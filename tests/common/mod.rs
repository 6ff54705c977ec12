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

/// The API token every test platform admits, with the admin role.
pub const TOKEN: &str = "xl_test-admin-token";

/// TLS files for `node` from the development CA in `dir/pki` (made on first use), as every
/// test node runs: the tests go through the same certificate checks as a deployment.
pub fn tls(dir: &Path, node: &str) -> uplink::TlsConfig {
    let pki = dir.join("pki");
    uplink::tls::dev_ca::ensure_ca(&pki).unwrap();
    let files = uplink::TlsConfig::in_dir(&pki, node);
    if !files.cert.exists() {
        uplink::tls::dev_ca::issue(&pki, node, &["127.0.0.1".into()]).unwrap();
    }
    files
}

/// A platform on free loopback ports with TLS and [`TOKEN`], storing in `dir/<node>.sqlite`.
pub async fn platform(node: &str, dir: &Path, upstream: Option<String>) -> platform::Platform {
    let mut cfg = platform::PlatformConfig::new(node);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.http_listen = "127.0.0.1:0".parse().unwrap();
    cfg.database = Some(dir.join(format!("{node}.sqlite")));
    cfg.upstream = upstream;
    cfg.tls = Some(tls(dir, node));
    cfg.token = vec![platform::auth::TokenConfig {
        name: "test-admin".into(),
        role: platform::auth::Role::Admin,
        sha256: platform::auth::token_sha256(TOKEN),
    }];
    platform::Platform::start(cfg).await.unwrap()
}

/// A gRPC channel to a test platform, verifying it against the test CA.
pub async fn channel(dir: &Path, url: &str) -> tonic::transport::Channel {
    let tls = uplink::tls::client_ca_only(&dir.join("pki").join("ca.pem")).unwrap();
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// `message` carrying [`TOKEN`].
pub fn request<T>(message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    r
}

/// The flags `xueliang search` / `cameras` need to reach a test platform.
pub fn cli_auth(dir: &Path) -> Vec<String> {
    let ca = dir.join("pki").join("ca.pem");
    vec![
        "--ca".into(),
        ca.display().to_string(),
        "--token".into(),
        TOKEN.into(),
    ]
}

/// An edge config on free loopback ports reporting to `upstream` over TLS, health every second.
pub fn edge_config(node: &str, dir: &Path, upstream: String) -> edge::EdgeConfig {
    let mut cfg = edge::EdgeConfig::new(node, upstream);
    cfg.tls = Some(tls(dir, node));
    cfg.media_listen = "127.0.0.1:0".parse().unwrap();
    cfg.database = Some(dir.join(format!("{node}.sqlite")));
    cfg.http_listen = "127.0.0.1:0".parse().unwrap();
    cfg.health_interval_s = 1;
    cfg
}
