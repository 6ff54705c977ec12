//! Xueliang domain types shared by every crate: decoded frames, detections, sightings, plate
//! reads and the vehicle vocabulary investigators search by.
//!
//! This crate has no GStreamer, ONNX Runtime or gRPC in it, so every other crate can depend on
//! it cheaply. Times are Unix milliseconds (`i64`), wall clock of the node that saw the frame.

mod embedding;
mod frame;
mod health;
pub mod metrics;
pub mod plate;
mod sighting;
mod vocab;

pub use embedding::Embedding;
pub use frame::{BBox, Detection, Frame, Plane};
pub use health::{CameraHealth, CameraState, Diagnosis, HealthReport};
pub use sighting::{PlateRead, Sighting, SightingKey};
pub use vocab::{PlateColor, PlateState, UnknownName, VehicleClass, VehicleColor};

/// Current wall-clock time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where the setup command puts downloads: `$XUELIANG_HOME`, else `$HOME/.cache/xueliang`
/// (`/var/cache/xueliang` for a service without `$HOME`).
pub fn home_dir() -> std::path::PathBuf {
    home_from(
        std::env::var_os("XUELIANG_HOME").map(Into::into),
        std::env::var_os("HOME").map(Into::into),
    )
}

fn home_from(
    xueliang_home: Option<std::path::PathBuf>,
    home: Option<std::path::PathBuf>,
) -> std::path::PathBuf {
    match xueliang_home.filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => match home.filter(|p| !p.as_os_str().is_empty()) {
            Some(home) => home.join(".cache/xueliang"),
            None => "/var/cache/xueliang".into(),
        },
    }
}

/// Replaces the password of `scheme://user:password@host/...` with `***`, so a URL can be
/// logged or put into an error message without leaking the camera's credentials.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***@{}", &url[..scheme_end + 3], user, &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_falls_back_to_the_user_cache() {
        assert_eq!(
            home_from(Some("/srv/x".into()), Some("/home/u".into())),
            std::path::PathBuf::from("/srv/x")
        );
        assert_eq!(
            home_from(Some("".into()), Some("/home/u".into())),
            std::path::PathBuf::from("/home/u/.cache/xueliang")
        );
        assert_eq!(
            home_from(None, None),
            std::path::PathBuf::from("/var/cache/xueliang")
        );
    }

    #[test]
    fn redacts_password_only() {
        assert_eq!(
            redact_url("rtsp://admin:s3cret@10.0.0.5:554/ch1"),
            "rtsp://admin:***@10.0.0.5:554/ch1"
        );
        assert_eq!(
            redact_url("rtsp://127.0.0.1:8554/cam"),
            "rtsp://127.0.0.1:8554/cam"
        );
        assert_eq!(redact_url("not a url"), "not a url");
        assert!(!redact_url("rtsp://u:p@h/x@y").contains(":p@"));
    }
}
