//! Decoding of YOLOv8/v11/v12 detection heads and class-wise non-maximum suppression.
//!
//! The head output for one image is `[4 + nc, anchors]`, row-major: rows 0..4 are the box centre
//! and size (`cx, cy, w, h`) in model input pixels, rows `4..4 + nc` the per-class scores (already
//! sigmoid-activated; there is no objectness row). For a 640 input, `anchors` is 8400
//! (80² + 40² + 20²). Decoding follows Ultralytics `non_max_suppression` with `multi_label=False`:
//! each anchor keeps its best class, anchors scoring above `conf` become candidates, and greedy
//! NMS runs per class. Boxes stay in model space until [`vehicles`] maps them to source pixels
//! and drops every class that is not a vehicle.
//!
//! Invariants: results are ordered by descending score (ties by anchor order), so output is
//! deterministic. Performance contract: one pass over the tensor (`(4 + nc) × anchors` reads,
//! about 0.7 M for YOLO at 640) class row by class row, so the reads are contiguous and
//! vectorised (about 0.6 ms at 640; two `anchors`-long scratch arrays per call), then O(k²) NMS
//! over the k candidates of each class — k is tens after the confidence cut, and
//! [`MAX_CANDIDATES`] bounds it for pathological outputs.

use base::{BBox, Detection, VehicleClass};

use crate::Letterbox;

/// Most candidates NMS considers (the highest-scoring ones), as in Ultralytics (`max_nms`).
pub const MAX_CANDIDATES: usize = 30_000;

/// A decoded box before class filtering: model-space coordinates and the COCO class index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Box in model input pixels (letterboxed space).
    pub bbox: BBox,
    /// Index into the model's classes (COCO-80 for the stock detector).
    pub class: usize,
    pub score: f32,
}

/// Number of anchors a YOLOv8-style head (strides 8, 16, 32) has for a square `size` input.
pub fn anchors_for(size: u32) -> usize {
    [8, 16, 32].iter().map(|s| (size as usize / s).pow(2)).sum()
}

/// Decodes one image's head output (`[4 + num_classes, anchors]`, row-major) into candidates
/// whose best class scores above `conf`, ordered by descending score.
///
/// # Panics
/// If `output.len() != (4 + num_classes) * anchors` (the detector checks shapes before calling).
pub fn decode(output: &[f32], num_classes: usize, anchors: usize, conf: f32) -> Vec<Candidate> {
    assert_eq!(
        output.len(),
        (4 + num_classes) * anchors,
        "YOLO output must be [4 + {num_classes}, {anchors}]"
    );
    let row = |r: usize| &output[r * anchors..(r + 1) * anchors];
    let (cx, cy, w, h) = (row(0), row(1), row(2), row(3));
    let scores = &output[4 * anchors..];

    // Best class per anchor, one class row at a time: contiguous reads the compiler vectorises
    // (walking each anchor's column instead is a 4 + nc-way strided gather, several times slower).
    let mut best = vec![f32::NEG_INFINITY; anchors];
    let mut best_class = vec![0u32; anchors];
    for (c, row) in scores.chunks_exact(anchors).enumerate() {
        for ((s, b), k) in row.iter().zip(&mut best).zip(&mut best_class) {
            if *s > *b {
                *b = *s;
                *k = c as u32;
            }
        }
    }

    let mut out = Vec::new();
    for (a, (&score, &class)) in best.iter().zip(&best_class).enumerate() {
        if score > conf {
            let (hw, hh) = (w[a] * 0.5, h[a] * 0.5);
            out.push(Candidate {
                bbox: BBox {
                    x1: cx[a] - hw,
                    y1: cy[a] - hh,
                    x2: cx[a] + hw,
                    y2: cy[a] + hh,
                },
                class: class as usize,
                score,
            });
        }
    }
    // Stable sort: equal scores keep anchor order.
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(MAX_CANDIDATES);
    out
}

/// Greedy class-wise NMS: going down by score, keeps a candidate unless a kept candidate of the
/// same class overlaps it with IoU above `iou_thresh`. Returns survivors by descending score.
pub fn nms(mut candidates: Vec<Candidate>, iou_thresh: f32) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::with_capacity(candidates.len().min(64));
    for c in candidates {
        let suppressed = kept
            .iter()
            .any(|k| k.class == c.class && k.bbox.iou(&c.bbox) > iou_thresh);
        if !suppressed {
            kept.push(c);
        }
    }
    kept
}

/// Keeps the vehicle classes (COCO bicycle, car, motorcycle, bus, truck) and maps their boxes to
/// source pixels of a `frame_w × frame_h` frame; boxes that lie wholly in the letterbox margin
/// (empty after clamping) are dropped.
pub fn vehicles(
    candidates: &[Candidate],
    letterbox: &Letterbox,
    frame_w: u32,
    frame_h: u32,
) -> Vec<Detection> {
    candidates
        .iter()
        .filter_map(|c| {
            let class = VehicleClass::from_coco(c.class)?;
            let bbox = letterbox.to_source(c.bbox, frame_w, frame_h);
            (bbox.width() > 0.0 && bbox.height() > 0.0).then_some(Detection {
                bbox,
                class,
                score: c.score,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NC: usize = 80;
    const ANCHORS: usize = 8400;

    /// The recorded head output of frame 110 of the bikes clip, rebuilt from its sparse form:
    /// `[85, 381]` little-endian f32, row 0 the anchor index, rows 1..85 that anchor's column.
    fn recorded_output() -> Vec<f32> {
        let path = format!(
            "{}/testdata/bikes_frame110_output0_sparse.f32",
            std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")
        );
        let bytes = std::fs::read(path).expect("testdata is committed");
        let sparse: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let cols = sparse.len() / 85;
        assert_eq!(sparse.len(), 85 * cols);
        let mut full = vec![0.0f32; (4 + NC) * ANCHORS];
        for col in 0..cols {
            let anchor = sparse[col] as usize;
            assert!(anchor < ANCHORS);
            for r in 0..4 + NC {
                full[r * ANCHORS + anchor] = sparse[(r + 1) * cols + col];
            }
        }
        full
    }

    #[derive(serde::Deserialize)]
    struct Expected {
        score: f32,
        class: usize,
        box_640: [f32; 4],
    }

    #[test]
    fn recorded_frame_decodes_like_the_reference() {
        let output = recorded_output();
        let got = nms(decode(&output, NC, ANCHORS, 0.25), 0.45);
        let path = format!(
            "{}/testdata/bikes_frame110_expected.json",
            std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")
        );
        let want: Vec<Expected> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.class, w.class);
            assert!((g.score - w.score).abs() < 1e-3, "{g:?}");
            let b = [g.bbox.x1, g.bbox.y1, g.bbox.x2, g.bbox.y2];
            for (x, y) in b.iter().zip(w.box_640) {
                assert!((x - y).abs() < 1e-3, "{g:?} vs {:?}", w.box_640);
            }
        }
    }

    #[test]
    fn recorded_frame_keeps_only_vehicles_in_source_pixels() {
        let output = recorded_output();
        let kept = nms(decode(&output, NC, ANCHORS, 0.25), 0.45);
        // The clip is 640x272, letterboxed into 640 with 184 rows of margin on top.
        let lb = Letterbox::fit(640, 272, 640);
        let dets = vehicles(&kept, &lb, 640, 272);
        let classes: Vec<VehicleClass> = dets.iter().map(|d| d.class).collect();
        assert_eq!(
            classes,
            [
                VehicleClass::Bicycle,
                VehicleClass::Motorcycle,
                VehicleClass::Truck
            ]
        );
        let bike = dets[0].bbox;
        assert!((bike.y1 - (338.653 - 184.0)).abs() < 1e-2, "{bike:?}");
        assert!(dets
            .iter()
            .all(|d| d.bbox.y2 <= 272.0 && d.bbox.x2 <= 640.0));
    }

    fn column_tensor(cols: &[([f32; 4], usize, f32)], nc: usize) -> Vec<f32> {
        let n = cols.len();
        let mut t = vec![0.0; (4 + nc) * n];
        for (a, (b, class, score)) in cols.iter().enumerate() {
            for (r, v) in b.iter().enumerate() {
                t[r * n + a] = *v;
            }
            t[(4 + class) * n + a] = *score;
        }
        t
    }

    #[test]
    fn decode_takes_best_class_and_cuts_at_conf() {
        let t = column_tensor(
            &[
                ([50.0, 50.0, 20.0, 10.0], 2, 0.9),
                ([10.0, 10.0, 4.0, 4.0], 1, 0.2),
                ([30.0, 30.0, 10.0, 10.0], 0, 0.5),
            ],
            3,
        );
        let got = decode(&t, 3, 3, 0.25);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].class, got[0].score), (2, 0.9));
        assert_eq!(
            got[0].bbox,
            BBox {
                x1: 40.0,
                y1: 45.0,
                x2: 60.0,
                y2: 55.0
            }
        );
        assert_eq!(got[1].class, 0);
        assert!(decode(&t, 3, 3, 0.95).is_empty());
    }

    #[test]
    fn nms_is_class_wise_and_greedy() {
        let c = |x: f32, class: usize, score: f32| Candidate {
            bbox: BBox {
                x1: x,
                y1: 0.0,
                x2: x + 10.0,
                y2: 10.0,
            },
            class,
            score,
        };
        let kept = nms(
            vec![
                c(1.0, 2, 0.8),  // IoU 0.82 with the 0.9 car: suppressed
                c(0.0, 2, 0.9),  // best car
                c(0.0, 7, 0.7),  // same place, other class: kept
                c(6.0, 2, 0.6),  // IoU 0.25 with the best car: kept
                c(40.0, 2, 0.1), // disjoint: kept
            ],
            0.45,
        );
        let summary: Vec<(usize, f32)> = kept.iter().map(|k| (k.class, k.score)).collect();
        assert_eq!(summary, [(2, 0.9), (7, 0.7), (2, 0.6), (2, 0.1)]);
    }

    #[test]
    fn anchors_match_the_stock_head() {
        assert_eq!(anchors_for(640), 8400);
        assert_eq!(anchors_for(320), 2100);
    }
}
