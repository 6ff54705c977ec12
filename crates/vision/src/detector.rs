//! The vehicle detector: one ONNX Runtime session of a YOLOv8/v11/v12 COCO model on the CPU.
//!
//! [`Detector::open`] loads the model and checks its contract once — one float input
//! `[batch, 3, size, size]` and a first output `[batch, 4 + nc, anchors]` — so a wrong model is a
//! clear error at start-up rather than garbage detections later. [`Detector::detect_batch`]
//! letterboxes frames into a reused input buffer, runs the model (the whole batch at once when
//! the model's batch dimension is dynamic, frame by frame when it is fixed at 1), decodes, runs
//! NMS and keeps vehicles, in source-frame pixels.
//!
//! Invariants: results come back in the order of the input frames; a malformed frame is an
//! error naming its camera and sequence number, never a panic. Performance contract: after the
//! first call no per-frame allocation except the result vectors; the model run dominates
//! (tens of milliseconds per frame on one core for yolov12n at 640) and preprocessing stays
//! around a millisecond. A `Detector` is `Send` but not shared: run one per worker thread.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base::{Detection, Frame};
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::letterbox::{frame_problem, letterbox_i420};
use crate::yolo::{anchors_for, decode, nms, vehicles};
use crate::{runtime, Error, Letterbox};

/// Rows of the head output: box centre and size, then the 80 COCO class scores that
/// `VehicleClass::from_coco` interprets.
const OUTPUT_ROWS: i64 = 4 + 80;

/// The detector model the setup command installs: `<home_dir>/models/yolov12n.onnx`.
pub fn default_model_path() -> PathBuf {
    runtime::home_dir().join("models").join("yolov12n.onnx")
}

/// Detector settings (the `[detector]` table of a node config).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Square model input size in pixels; must match the model unless it is dynamic. Default 640.
    pub input_size: u32,
    /// Minimum class score for a detection to be kept. Default 0.35.
    pub conf: f32,
    /// IoU above which NMS suppresses the lower-scoring box of the same class. Default 0.45.
    pub iou: f32,
    /// ONNX Runtime intra-op threads for this session. Default 1.
    pub threads: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            input_size: 640,
            conf: 0.35,
            iou: 0.45,
            threads: 1,
        }
    }
}

/// Time spent so far, summed over all calls (for health reporting and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Frames processed.
    pub frames: u64,
    /// Letterboxing into the input tensor.
    pub preprocess: Duration,
    /// `Session::run`.
    pub inference: Duration,
    /// Decoding, NMS and mapping back to source pixels.
    pub postprocess: Duration,
}

impl Timings {
    /// Mean wall time per frame over all three stages, in milliseconds (0 before any frame).
    pub fn ms_per_frame(&self) -> f64 {
        if self.frames == 0 {
            return 0.0;
        }
        let total = self.preprocess + self.inference + self.postprocess;
        total.as_secs_f64() * 1e3 / self.frames as f64
    }
}

/// A YOLO vehicle detector owning one ONNX Runtime session.
#[derive(Debug)]
pub struct Detector {
    session: Session,
    model: PathBuf,
    config: DetectorConfig,
    /// The model accepts any batch size (else it is fixed at 1).
    dynamic_batch: bool,
    /// Reused `[batch, 3, size, size]` input buffer.
    input: Vec<f32>,
    /// Placement of each frame of the current batch.
    placements: Vec<Letterbox>,
    timings: Timings,
}

impl Detector {
    /// Loads the model at `model_path` and checks that it is a YOLO detector for `config`.
    ///
    /// Initialises ONNX Runtime from [`crate::default_lib_path`] unless [`crate::init`] ran first.
    pub fn open(model_path: &Path, config: DetectorConfig) -> Result<Detector, Error> {
        let session = runtime::session(model_path, config.threads)?;
        let dynamic_batch =
            check_contract(&session, config.input_size).map_err(|reason| Error::ModelContract {
                path: model_path.to_owned(),
                reason,
            })?;
        tracing::info!(
            model = %model_path.display(),
            input_size = config.input_size,
            dynamic_batch,
            threads = config.threads,
            "detector loaded"
        );
        Ok(Detector {
            session,
            model: model_path.to_owned(),
            config,
            dynamic_batch,
            input: Vec::new(),
            placements: Vec::new(),
            timings: Timings::default(),
        })
    }

    /// The settings this detector runs with.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Cumulative time spent per stage.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// Detects vehicles in each frame; `result[i]` belongs to `frames[i]`, boxes in its pixels,
    /// by descending score.
    pub fn detect_batch(&mut self, frames: &[&Frame]) -> Result<Vec<Vec<Detection>>, Error> {
        for f in frames {
            if let Some(reason) = frame_problem(f) {
                return Err(Error::BadFrame {
                    camera: f.camera.to_string(),
                    seq: f.seq,
                    reason,
                });
            }
        }
        if self.dynamic_batch {
            self.run(frames)
        } else {
            let mut all = Vec::with_capacity(frames.len());
            for f in frames {
                all.extend(self.run(std::slice::from_ref(f))?);
            }
            Ok(all)
        }
    }

    /// Detects vehicles in one frame.
    pub fn detect(&mut self, frame: &Frame) -> Result<Vec<Detection>, Error> {
        Ok(self.detect_batch(&[frame])?.pop().unwrap_or_default())
    }

    /// One model run over `frames` (already validated; at most 1 unless the batch is dynamic).
    fn run(&mut self, frames: &[&Frame]) -> Result<Vec<Vec<Detection>>, Error> {
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        let size = self.config.input_size;
        let per_image = 3 * (size as usize).pow(2);

        let t0 = Instant::now();
        self.input.resize(per_image * frames.len(), 0.0);
        self.placements.clear();
        for (f, chunk) in frames.iter().zip(self.input.chunks_exact_mut(per_image)) {
            self.placements.push(letterbox_i420(f, size, chunk));
        }

        let t1 = Instant::now();
        let shape = [frames.len(), 3, size as usize, size as usize];
        let context = || {
            format!(
                "running model {} on {} frame(s) (first: camera {} seq {})",
                self.model.display(),
                frames.len(),
                frames[0].camera,
                frames[0].seq
            )
        };
        let tensor = TensorRef::from_array_view((shape, &self.input[..]))
            .map_err(|e| Error::ort(context(), e))?;
        let outputs = self
            .session
            .run(ort::inputs![tensor])
            .map_err(|e| Error::ort(context(), e))?;
        let (out_shape, out) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| Error::ort(context(), e))?;

        let t2 = Instant::now();
        let (rows, anchors) = match **out_shape {
            [b, OUTPUT_ROWS, anchors] if b as usize == frames.len() && anchors > 0 => {
                (OUTPUT_ROWS as usize, anchors as usize)
            }
            _ => {
                let (n, want) = (frames.len(), anchors_for(size));
                return Err(Error::ModelContract {
                    path: self.model.clone(),
                    reason: format!(
                        "output shape {out_shape} for {n} frame(s), expected [{n}, {OUTPUT_ROWS}, {want}]"
                    ),
                });
            }
        };
        let (conf, iou) = (self.config.conf, self.config.iou);
        let results = frames
            .iter()
            .zip(out.chunks_exact(rows * anchors))
            .zip(&self.placements)
            .map(|((f, head), lb)| {
                let kept = nms(decode(head, rows - 4, anchors, conf), iou);
                vehicles(&kept, lb, f.width, f.height)
            })
            .collect();
        let t3 = Instant::now();

        self.timings.frames += frames.len() as u64;
        self.timings.preprocess += t1 - t0;
        self.timings.inference += t2 - t1;
        self.timings.postprocess += t3 - t2;
        Ok(results)
    }
}

/// Checks the session against the YOLO contract for a `size` input; returns whether the batch
/// dimension is dynamic, or why the model does not fit.
fn check_contract(session: &Session, size: u32) -> Result<bool, String> {
    let [input] = session.inputs() else {
        return Err(format!(
            "expected exactly one input, found {}",
            session.inputs().len()
        ));
    };
    let Some(output) = session.outputs().first() else {
        return Err("the model has no outputs".into());
    };
    let in_dims = float_tensor_dims(input.dtype()).ok_or_else(|| {
        format!(
            "input {:?} is {}, expected a float tensor",
            input.name(),
            input.dtype()
        )
    })?;
    let out_dims = float_tensor_dims(output.dtype()).ok_or_else(|| {
        format!(
            "output {:?} is {}, expected a float tensor",
            output.name(),
            output.dtype()
        )
    })?;

    let size = i64::from(size);
    // A dimension fits when it is what we want or dynamic (-1) on either side.
    let fits = |d: i64, want: i64| d == want || d < 0 || want < 0;
    let batch = match in_dims {
        [b, c, h, w] if fits(*c, 3) && fits(*h, size) && fits(*w, size) && fits(*b, 1) => *b,
        _ => {
            return Err(format!(
                "input {:?} has shape {in_dims:?}, expected [1 or dynamic, 3, {size}, {size}] \
                 (is input_size right?)",
                input.name()
            ))
        }
    };
    let anchors = anchors_for(size as u32) as i64;
    match out_dims {
        [b, rows, a] if fits(*b, batch) && fits(*rows, OUTPUT_ROWS) && fits(*a, anchors) => {}
        _ => {
            return Err(format!(
                "output {:?} has shape {out_dims:?}, expected [batch, {OUTPUT_ROWS}, {anchors}] \
                 (a YOLOv8/v11/v12 COCO detection head: 4 box rows + 80 class scores)",
                output.name()
            ))
        }
    }
    Ok(batch < 0)
}

/// Dimensions of a float32 tensor type (`-1` for dynamic ones), or `None` for anything else.
fn float_tensor_dims(ty: &ValueType) -> Option<&[i64]> {
    match ty {
        ValueType::Tensor {
            ty: TensorElementType::Float32,
            shape,
            ..
        } => Some(&shape[..]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_model_names_the_path_and_the_fix() {
        let path = Path::new("/nonexistent/models/yolov12n.onnx");
        let err = Detector::open(path, DetectorConfig::default()).unwrap_err();
        assert!(matches!(err, Error::ModelMissing { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/models/yolov12n.onnx"), "{msg}");
        assert!(msg.contains("deploy/setup.sh"), "{msg}");
    }

    #[test]
    fn config_defaults_and_rejects_unknown_fields() {
        let c: DetectorConfig = serde_json::from_str(r#"{"conf": 0.5}"#).unwrap();
        assert_eq!(
            c,
            DetectorConfig {
                conf: 0.5,
                ..DetectorConfig::default()
            }
        );
        assert_eq!((c.input_size, c.threads), (640, 1));
        let err = serde_json::from_str::<DetectorConfig>(r#"{"thread": 2}"#).unwrap_err();
        assert!(err.to_string().contains("thread"), "{err}");
    }

    #[test]
    fn timings_average_over_frames() {
        let t = Timings {
            frames: 4,
            preprocess: Duration::from_millis(4),
            inference: Duration::from_millis(36),
            postprocess: Duration::ZERO,
        };
        assert!((t.ms_per_frame() - 10.0).abs() < 1e-9);
        assert_eq!(Timings::default().ms_per_frame(), 0.0);
    }

    #[test]
    fn detector_can_move_to_a_worker_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Detector>();
    }
}
