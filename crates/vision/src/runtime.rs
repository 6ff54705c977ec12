//! Process-wide ONNX Runtime: loading the shared library and holding the one environment.
//!
//! ONNX Runtime allows exactly one environment per process and `ort` loads the library once, so
//! this module owns both behind a `Mutex`. Invariants: [`init`] is idempotent for the same library
//! path, refuses a different path once one is loaded, and never panics — a missing or unloadable
//! library is an [`Error`] naming the path and the setup command. Sessions are created through
//! `environment()`, which initialises from [`default_lib_path`] when nobody called [`init`].
//! Cost: one `dlopen` and environment creation on first use, a mutex lock per session creation
//! afterwards; nothing here is on the per-frame path.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;

use crate::Error;

/// The ONNX Runtime release the setup command installs (the file name carries it).
const ORT_LIB_NAME: &str = "libonnxruntime.so.1.32.0";

/// What the process has loaded so far.
struct State {
    /// Library `ort` has `dlopen`ed; set even if creating the environment then failed, because
    /// `ort` keeps that library for the life of the process.
    loaded: Option<PathBuf>,
    env: Option<Environment>,
}

static STATE: Mutex<State> = Mutex::new(State {
    loaded: None,
    env: None,
});

/// Loads ONNX Runtime from `lib_path` and creates the process environment (named "xueliang").
///
/// Calling it again with the same library (after resolving symlinks) returns `Ok`; a different
/// library is [`Error::RuntimeConflict`]. A missing file is [`Error::RuntimeMissing`], a file that
/// is not a usable ONNX Runtime is [`Error::RuntimeLoad`].
pub fn init(lib_path: &Path) -> Result<(), Error> {
    let mut state = STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    init_locked(&mut state, lib_path).map(drop)
}

/// The process environment, initialising ONNX Runtime from [`default_lib_path`] if [`init`] has
/// not been called yet.
pub(crate) fn environment() -> Result<Environment, Error> {
    let mut state = STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(env) = &state.env {
        return Ok(env.clone());
    }
    let path = state.loaded.clone().unwrap_or_else(default_lib_path);
    init_locked(&mut state, &path)
}

fn init_locked(state: &mut State, lib_path: &Path) -> Result<Environment, Error> {
    if !lib_path.is_file() {
        return Err(Error::RuntimeMissing {
            path: lib_path.to_owned(),
        });
    }
    let requested = canonical(lib_path);
    match &state.loaded {
        Some(active) if *active != requested => {
            return Err(Error::RuntimeConflict {
                active: active.clone(),
                requested,
            });
        }
        Some(_) => {
            if let Some(env) = &state.env {
                return Ok(env.clone());
            }
        }
        None => {}
    }

    let builder = ort::init_from(&requested).map_err(|e| Error::RuntimeLoad {
        path: requested.clone(),
        reason: e.to_string(),
    })?;
    state.loaded = Some(requested.clone());
    let env = builder.with_name("xueliang").build().map_err(|e| {
        Error::ort(
            format!(
                "creating the ONNX Runtime environment from {}",
                requested.display()
            ),
            e,
        )
    })?;
    tracing::info!(library = %requested.display(), "ONNX Runtime loaded");
    state.env = Some(env.clone());
    Ok(env)
}

/// `path` with symlinks resolved, so two spellings of one library compare equal.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Where the setup command puts downloads; see [`base::home_dir`].
pub use base::home_dir;

/// The ONNX Runtime library to load: `$XUELIANG_ORT_LIB` if set, else
/// `<home_dir>/onnxruntime/libonnxruntime.so.1.32.0`.
pub fn default_lib_path() -> PathBuf {
    match std::env::var_os("XUELIANG_ORT_LIB").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => home_dir().join("onnxruntime").join(ORT_LIB_NAME),
    }
}

/// An ONNX Runtime session for the model at `model_path` with `threads` intra-op threads that
/// block instead of spinning (workers share the box with cameras and other models). A missing
/// file is [`Error::ModelMissing`], naming the path.
pub(crate) fn session(
    model_path: &std::path::Path,
    threads: usize,
) -> Result<ort::session::Session, Error> {
    if !model_path.is_file() {
        return Err(Error::ModelMissing {
            path: model_path.to_owned(),
        });
    }
    let env = environment()?;
    let context = || format!("loading model {}", model_path.display());
    ort::session::Session::builder(&env)
        .map_err(|e| Error::ort(context(), e))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| Error::ort(context(), e))?
        .with_intra_op_spinning(false)
        .map_err(|e| Error::ort(context(), e))?
        .commit_from_file(model_path)
        .map_err(|e| Error::ort(context(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_lib_path_names_the_pinned_release() {
        // Either the override or the pinned file name; both are valid configurations.
        let path = default_lib_path();
        match std::env::var_os("XUELIANG_ORT_LIB") {
            Some(v) if !v.is_empty() => assert_eq!(path, PathBuf::from(v)),
            _ => assert!(
                path.ends_with("onnxruntime/libonnxruntime.so.1.32.0"),
                "{path:?}"
            ),
        }
    }

    #[test]
    fn missing_library_is_an_error_naming_the_path() {
        // Checked before anything is loaded, so this does not touch the process-wide state.
        let path = Path::new("/nonexistent/xueliang/libonnxruntime.so.1.32.0");
        let err = init(path).unwrap_err();
        assert!(matches!(err, Error::RuntimeMissing { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
        assert!(msg.contains("deploy/setup.sh"), "{msg}");
    }
}
