//! Xueliang vision: ONNX Runtime sessions and the pure pre- and post-processing around them.
//!
//! ```text
//! Frame (I420) ──letterbox_i420──▶ [B,3,640,640] ──Detector (ort)──▶ [B,84,8400]
//!                                                   ──decode → nms → vehicles──▶ Vec<Detection>
//! ```
//!
//! [`runtime`] loads ONNX Runtime once per process; [`Detector`] owns one session of a
//! YOLOv8/v11/v12 COCO model. Preprocessing ([`letterbox`]) and decoding ([`yolo`]) are plain
//! functions over slices, tested without a model. Detections leave this crate in source-frame
//! pixels with a [`base::VehicleClass`]; nothing else about COCO leaks out.

pub mod detector;
mod error;
pub mod letterbox;
pub mod runtime;
pub mod yolo;

pub use detector::{default_model_path, Detector, DetectorConfig, Timings};
pub use error::Error;
pub use letterbox::{letterbox_i420, Letterbox};
pub use runtime::{default_lib_path, init};
