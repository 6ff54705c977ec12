//! The one error type of `xueliang-vision`.
//!
//! Every variant carries enough context (a path, a camera id and frame number, what the code was
//! doing) for an operator to act on the message alone. Setup problems — the ONNX Runtime library
//! or a model file missing — say which command fixes them. ONNX Runtime's own errors are kept as
//! the `source` so the full chain is printed by `anyhow`-style reporters.

use std::path::PathBuf;

/// What the setup hint in error messages tells the operator to run.
pub(crate) const SETUP_HINT: &str = "run the setup command (deploy/setup.sh)";

/// Errors from loading ONNX Runtime, opening models and running them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ONNX Runtime shared library is not at the configured path.
    #[error("ONNX Runtime library not found at {}; {SETUP_HINT} or set XUELIANG_ORT_LIB", path.display())]
    RuntimeMissing { path: PathBuf },

    /// The file exists but could not be loaded as ONNX Runtime (wrong file, wrong version, wrong
    /// architecture).
    #[error("could not load ONNX Runtime from {}: {reason}; {SETUP_HINT}", path.display())]
    RuntimeLoad { path: PathBuf, reason: String },

    /// ONNX Runtime is process-global; a second library cannot replace the first.
    #[error(
        "ONNX Runtime is already loaded from {}; cannot also load {} in the same process",
        active.display(),
        requested.display()
    )]
    RuntimeConflict { active: PathBuf, requested: PathBuf },

    /// The model file is not at the configured path.
    #[error("model not found at {}; {SETUP_HINT}", path.display())]
    ModelMissing { path: PathBuf },

    /// The model loaded but its inputs or outputs are not what the code around it expects.
    #[error("model {} does not fit its contract: {reason}", path.display())]
    ModelContract { path: PathBuf, reason: String },

    /// A frame whose planes do not fit its buffer (a bug upstream, never a camera problem).
    #[error("frame {seq} of camera {camera} is malformed: {reason}")]
    BadFrame {
        camera: String,
        seq: u64,
        reason: String,
    },

    /// ONNX Runtime failed; `context` says what we were doing.
    #[error("{context}: {source}")]
    Ort {
        context: String,
        #[source]
        source: ort::Error,
    },
}

impl Error {
    /// Wraps an ONNX Runtime error (including a session builder's recoverable error) with context.
    pub(crate) fn ort<R>(context: impl Into<String>, source: ort::Error<R>) -> Self
    where
        ort::Error: From<ort::Error<R>>,
    {
        Error::Ort {
            context: context.into(),
            source: source.into(),
        }
    }

    /// True for problems that the setup command fixes (library or model missing or unloadable).
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            Error::RuntimeMissing { .. } | Error::RuntimeLoad { .. } | Error::ModelMissing { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_errors_name_the_path_and_the_fix() {
        let e = Error::ModelMissing {
            path: "/m/yolo.onnx".into(),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("/m/yolo.onnx") && msg.contains("deploy/setup.sh"),
            "{msg}"
        );
        assert!(e.is_setup());

        let e = Error::RuntimeMissing {
            path: "/x/libonnxruntime.so.1.32.0".into(),
        };
        assert!(e.to_string().contains("/x/libonnxruntime.so.1.32.0"));
        assert!(e.is_setup());
    }
}
