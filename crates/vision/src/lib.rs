//! Xueliang vision: ONNX Runtime sessions and the pure pre- and post-processing around them.
//!
//! ```text
//! Frame (I420) ──letterbox_i420──▶ [B,3,640,640] ──Detector (ort)──▶ [B,84,8400]
//!                                                   ──decode → nms → vehicles──▶ Vec<Detection>
//! Frame + box ──crop_i420_rgb──▶ [N,3,224,224] u8 ──VehicleClassifier (ort)──▶ logits, feature
//!                                     ──TypeMasses + embed──▶ Attributes ──TypeVote (per track)
//! Frame + box ──body_colour (Lab, sampled from the planes)──▶ (VehicleColor, confidence)
//! Frame + box ──vehicle crop→RGB──▶ clp_det ──quad──▶ warp ──▶ PP-OCRv4 ──▶ template Viterbi
//!                                     └─ none: covered-plate fallback        ──▶ PlateRead
//! ```
//!
//! [`runtime`] loads ONNX Runtime once per process; [`Detector`] owns one session of a
//! YOLOv8/v11/v12 COCO model. Preprocessing ([`letterbox`]) and decoding ([`yolo`]) are plain
//! functions over slices, tested without a model. Detections leave this crate in source-frame
//! pixels with a [`base::VehicleClass`]; nothing else about COCO leaks out. [`VehicleClassifier`]
//! owns one session of EfficientNet-Lite0 (ImageNet) for vehicle type and the appearance
//! embedding ([`attributes`] interprets its outputs, [`crop`] feeds it); [`colour`] is a
//! classical Lab-space body colour that needs no model. [`PlateReader`] ([`plate`]) reads Chinese
//! licence plates: clp_det finds the plate's corners, the quad is rectified and read by PP-OCRv4
//! with CTC decoding constrained to plate syntax, then colour and state (read, unreadable,
//! covered, none).

pub mod attributes;
pub mod classifier;
pub mod colour;
pub mod crop;
pub mod detector;
mod error;
pub mod letterbox;
pub mod plate;
pub mod runtime;
pub mod yolo;

pub use attributes::{embed, TypeDecision, TypeMasses, TypeSource, TypeVote, TYPE_CUT};
pub use base::Embedding;
pub use classifier::{default_classifier_path, Attributes, RawOutput, VehicleClassifier};
pub use colour::{body_colour, frame_gain};
pub use crop::crop_i420_rgb;
pub use detector::{default_model_path, Detector, DetectorConfig, Timings};
pub use error::Error;
pub use letterbox::{letterbox_i420, Letterbox};
pub use plate::{PlateReader, PlateResult};
pub use runtime::{default_lib_path, init};
