//! The one error type of the ingest crate.
//!
//! Every message carries enough context to find the offending camera without leaking its
//! credentials: the camera id, the URL with its password replaced by `***` (see
//! [`base::redact_url`] and [`scrub`]) and, for pipeline failures, the name of the GStreamer
//! element that posted the error. [`Error::kind`] maps each variant once onto a coarse
//! [`ErrorKind`], which the gRPC layer turns into a status code. Building errors is off the hot
//! path; nothing here is performance sensitive.

use std::path::PathBuf;
use std::time::Duration;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Coarse classification of an [`Error`], mapped once onto a gRPC status by the callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller asked for something malformed (bad URL, bad clip).
    InvalidArgument,
    /// A file or mount point does not exist.
    NotFound,
    /// A camera or stream is (temporarily) unreachable; retrying may help.
    Unavailable,
    /// The local GStreamer installation is broken or misbehaved.
    Internal,
}

/// Everything that can go wrong while serving or pulling video.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot initialise GStreamer: {0}")]
    Init(String),

    #[error(
        "GStreamer element `{factory}` is missing (install the plugin package that provides it)"
    )]
    MissingElement { factory: &'static str },

    #[error("clip {}: no such file", path.display())]
    ClipNotFound { path: PathBuf },

    #[error("clip {}: {reason}", path.display())]
    Clip { path: PathBuf, reason: String },

    #[error("camera server: {0}")]
    Server(String),

    #[error("invalid source `{url}`: {reason}")]
    Url { url: String, reason: String },

    #[error("unknown RTSP transport `{0}`: expected tcp, udp or auto")]
    Transport(String),

    /// The pipeline failed before the first frame arrived.
    #[error("camera {camera}: cannot connect to {url}: {message} ({element})")]
    Connect {
        camera: String,
        url: String,
        element: String,
        message: String,
    },

    /// The pipeline failed after frames had been flowing.
    #[error("camera {camera}: stream from {url} failed: {message} ({element})")]
    Stream {
        camera: String,
        url: String,
        element: String,
        message: String,
    },

    /// The source ended (EOS). For a live camera this means the server went away.
    #[error("camera {camera}: stream from {url} ended (EOS)")]
    Eos { camera: String, url: String },

    /// The no-frame watchdog fired: the server is connected but silent, or frozen.
    #[error("camera {camera}: no frames from {url} for {:.1} s", waited.as_secs_f64())]
    Stalled {
        camera: String,
        url: String,
        waited: Duration,
    },

    #[error("camera {camera}: {url}: {message}")]
    Pipeline {
        camera: String,
        url: String,
        message: String,
    },
}

impl Error {
    /// The coarse class of this error, for mapping onto a gRPC status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Init(_) | Error::MissingElement { .. } | Error::Server(_) => ErrorKind::Internal,
            Error::Pipeline { .. } => ErrorKind::Internal,
            Error::Url { .. } | Error::Transport(_) => ErrorKind::InvalidArgument,
            Error::ClipNotFound { .. } => ErrorKind::NotFound,
            Error::Clip { .. } => ErrorKind::InvalidArgument,
            Error::Connect { .. }
            | Error::Stream { .. }
            | Error::Eos { .. }
            | Error::Stalled { .. } => ErrorKind::Unavailable,
        }
    }
}

/// Removes the credentials of `url` from free text produced by GStreamer or the OS (element
/// error messages and debug strings may quote the location they were given).
///
/// The raw URL becomes its redacted form, `:password@` becomes `:***@`, and a password of four
/// or more characters is also replaced wherever it appears on its own (shorter ones would
/// mangle ordinary words).
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &base::redact_url(url));
    if let Some(password) = password_of(url) {
        for pw in [password.to_owned(), percent_decode(password)] {
            if pw.is_empty() {
                continue;
            }
            out = out.replace(&format!(":{pw}@"), ":***@");
            if pw.chars().count() >= 4 {
                out = out.replace(&pw, "***");
            }
        }
    }
    out
}

/// The password part of `scheme://user:password@host/...`, if any.
fn password_of(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let (_, password) = userinfo.split_once(':')?;
    Some(password)
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_password_in_every_form() {
        let url = "rtsp://admin:s3cr%40t@10.0.0.5/ch1";
        let text = format!("failed on {url}; tried admin:s3cr@t@10.0.0.5 and s3cr%40t alone");
        let clean = scrub(&text, url);
        assert!(!clean.contains("s3cr"), "{clean}");
        assert!(clean.contains("rtsp://admin:***@10.0.0.5/ch1"), "{clean}");
    }

    #[test]
    fn scrub_short_password_only_in_url_form() {
        let url = "rtsp://u:pw@127.0.0.1:1/none";
        let clean = scrub(&format!("x {url} y u:pw@127.0.0.1"), url);
        assert!(!clean.contains("pw"), "{clean}");
        assert_eq!(scrub("a pwd file", url), "a pwd file");
        assert_eq!(scrub("no creds", "rtsp://127.0.0.1/x"), "no creds");
    }

    #[test]
    fn connect_error_names_camera_url_and_element() {
        let e = Error::Connect {
            camera: "gate-3".into(),
            url: base::redact_url("rtsp://admin:pw@127.0.0.1:1/x"),
            element: "rtspsrc".into(),
            message: "Could not open resource for reading and writing".into(),
        };
        assert_eq!(
            e.to_string(),
            "camera gate-3: cannot connect to rtsp://admin:***@127.0.0.1:1/x: \
             Could not open resource for reading and writing (rtspsrc)"
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }
}
