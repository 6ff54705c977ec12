//! Vehicle body colour by a classical CIE-Lab method, straight from the I420 planes.
//!
//! [`body_colour`] samples two patches of the detector box (x in 10–38 % and 62–90 % of the box
//! width, y in 40–75 % of its height: below the windows, above wheels and road shadow, and
//! leaving out the middle where a front or rear view shows the licence plate) on a grid of at most
//! 12 × 16 points each. Each sample (luma at the point, chroma at half its coordinates) is
//! converted BT.601 limited range → sRGB → linear → XYZ (D65) → L\*a\*b\*. Samples with L\* < 4
//! or > 97 are dropped. A sample is chromatic when its chroma C ≥ clamp(3 + 0.3 L\*, 6, 12) and
//! votes by hue: [345°, 45°) red, [45°, 75°) orange (brown when dark), [75°, 110°) yellow (brown
//! when dark or dull), [110°, 200°) green, [200°, 300°) blue, [300°, 345°) purple. The
//! chromatic colour with the most votes wins if it has ≥ 25 % of the valid samples (confidence =
//! its share). Otherwise the vehicle is achromatic (windows, tyres and shadows are dark, so a
//! plain majority would say black): white if the 75th percentile of the achromatic samples'
//! lightness is ≥ 70, else black if their median is < 35, else grey; the confidence is the share
//! of valid samples inside the winner's band. Lightness is first multiplied by a per-frame
//! exposure gain ([`frame_gain`], 1.0–1.5) so white cars in overcast footage stay white. Callers
//! treat a confidence below [`MIN_CONFIDENCE`] as unknown.
//!
//! This is a port of the research reference (`colour.py`, 44/50 real crops right, 10/11
//! vehicles by majority over their crops); the thresholds are the constants below. Expect
//! silver/white confusion (a lightness threshold) and occluders (fences) pulling towards black.
//!
//! Invariants: the frame is only read; boxes are clamped to the frame, and an empty box gives
//! [`VehicleColor::Unknown`] with confidence 0. Performance contract: at most 384 samples per
//! box, no allocation beyond two small vectors, a few microseconds per box; [`frame_gain`]
//! reads every 16th luma sample once per frame.

use base::{BBox, Frame, VehicleColor};

/// Below this confidence a colour should be reported as unknown.
pub const MIN_CONFIDENCE: f32 = 0.3;

/// The two body patches, as fractions of the box width.
const REGION_X: [(f32, f32); 2] = [(0.10, 0.38), (0.62, 0.90)];
/// The patches' vertical extent, as fractions of the box height from its top.
const REGION_Y: (f32, f32) = (0.40, 0.75);
/// At most this many samples across (x) and down (y) each patch.
const GRID: (usize, usize) = (12, 16);
/// Samples darker (holes) or lighter (speculars) than this are not used.
const L_MIN: f64 = 4.0;
const L_MAX: f64 = 97.0;
/// A chromatic colour wins with this share of the valid samples.
const CHROMA_SHARE: f64 = 0.25;
/// Achromatic decision: white when the 75th percentile of lightness reaches this...
const ACH_WHITE: f64 = 70.0;
/// ...else black when the median is below this, else grey.
const ACH_BLACK: f64 = 35.0;
/// Lightness bands that count towards the achromatic winner's confidence: `[lo, hi)`.
const BAND_WHITE: (f64, f64) = (60.0, f64::INFINITY);
const BAND_GREY: (f64, f64) = (30.0, 75.0);
const BAND_BLACK: (f64, f64) = (f64::NEG_INFINITY, 45.0);
/// Exposure gain bounds: lifts dull footage, never darkens.
const GAIN_RANGE: (f64, f64) = (1.0, 1.5);

/// Chromatic colours in tie-break order (earlier wins a tie).
const CHROMATIC: [VehicleColor; 7] = [
    VehicleColor::Red,
    VehicleColor::Orange,
    VehicleColor::Yellow,
    VehicleColor::Green,
    VehicleColor::Blue,
    VehicleColor::Purple,
    VehicleColor::Brown,
];

/// Exposure gain of a frame: 100 / L\* of its 99th-percentile luma (every 4th pixel of every
/// 4th row), clamped to 1.0–1.5. Compute once per frame and pass to [`body_colour`].
pub fn frame_gain(frame: &Frame) -> f32 {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let yp = frame.planes[0];
    let mut hist = [0u32; 256];
    let mut n = 0usize;
    for r in (0..h).step_by(4) {
        let Some(row) = frame
            .data
            .get(yp.offset + r * yp.stride..yp.offset + r * yp.stride + w)
        else {
            break;
        };
        for &v in row.iter().step_by(4) {
            hist[usize::from(v)] += 1;
            n += 1;
        }
    }
    if n == 0 {
        return 1.0;
    }
    let yr = percentile_from_histogram(&hist, n, 0.99);
    let grey = ((yr - 16.0) * 255.0 / 219.0).clamp(0.0, 255.0);
    let (l, _, _) = srgb_to_lab([grey; 3]);
    (100.0 / l.max(1e-6)).clamp(GAIN_RANGE.0, GAIN_RANGE.1) as f32
}

/// The body colour of the vehicle in `bbox` (source pixels) and its confidence in `0..=1`.
/// `gain` is the frame's [`frame_gain`] (1.0 to skip exposure correction).
///
/// # Panics
/// If the frame's planes lie outside its buffer (frames from `Frame::from_i420` and the ingest
/// crate never do).
pub fn body_colour(frame: &Frame, bbox: &BBox, gain: f32) -> (VehicleColor, f32) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (bx0, by0) = (bbox.x1, bbox.y1);
    let (bw, bh) = (bbox.x2 - bbox.x1, bbox.y2 - bbox.y1);
    if w == 0 || h == 0 || !(bw > 0.0 && bh > 0.0) {
        return (VehicleColor::Unknown, 0.0);
    }
    let ys = grid(by0 + REGION_Y.0 * bh, by0 + REGION_Y.1 * bh, GRID.1, h);
    let [yp, up, vp] = frame.planes;
    let data = &frame.data[..];
    let gain = f64::from(gain);

    // (Ln, chromatic label) per valid sample; at most 2 × 12 × 16.
    let mut labels: Vec<Option<VehicleColor>> = Vec::with_capacity(2 * GRID.0 * GRID.1);
    let mut lightness: Vec<f64> = Vec::with_capacity(2 * GRID.0 * GRID.1);
    let mut achromatic: Vec<f64> = Vec::with_capacity(2 * GRID.0 * GRID.1);
    for (fa, fb) in REGION_X {
        let xs = grid(bx0 + fa * bw, bx0 + fb * bw, GRID.0, w);
        for &y in &ys {
            for &x in &xs {
                let luma = data[yp.offset + y * yp.stride + x];
                let u = data[up.offset + (y / 2) * up.stride + x / 2];
                let v = data[vp.offset + (y / 2) * vp.stride + x / 2];
                let (l, a, b) = srgb_to_lab(i420_to_rgb(luma, u, v));
                if !(L_MIN..=L_MAX).contains(&l) {
                    continue;
                }
                let c = a.hypot(b);
                let ln = (l * gain).min(100.0);
                let label = (c >= chroma_threshold(l)).then(|| hue_label(ln, c, hue_deg(a, b)));
                if label.is_none() {
                    achromatic.push(ln);
                }
                labels.push(label);
                lightness.push(ln);
            }
        }
    }
    let n = labels.len();
    if n == 0 {
        return (VehicleColor::Unknown, 0.0);
    }
    let votes = CHROMATIC.map(|c| labels.iter().filter(|l| **l == Some(c)).count());
    // max_by_key returns the last maximum; iterate reversed so the earliest colour wins a tie.
    if let Some((i, &best)) = votes.iter().enumerate().rev().max_by_key(|(_, v)| **v) {
        if best > 0 && best as f64 >= CHROMA_SHARE * n as f64 {
            return (CHROMATIC[i], (best as f64 / n as f64) as f32);
        }
    }
    if achromatic.is_empty() {
        return (VehicleColor::Unknown, 0.0);
    }
    achromatic.sort_by(f64::total_cmp);
    let (colour, band) = if percentile_sorted(&achromatic, 0.75) >= ACH_WHITE {
        (VehicleColor::White, BAND_WHITE)
    } else if percentile_sorted(&achromatic, 0.5) < ACH_BLACK {
        (VehicleColor::Black, BAND_BLACK)
    } else {
        (VehicleColor::Grey, BAND_GREY)
    };
    let inside = achromatic
        .iter()
        .filter(|&&l| l >= band.0 && l < band.1)
        .count();
    (colour, (inside as f64 / n as f64) as f32)
}

/// Sample coordinates along one axis of a patch `[a, b)`: at most `max` cell centres, floored
/// and clamped into `0..len`.
fn grid(a: f32, b: f32, max: usize, len: usize) -> Vec<usize> {
    let span = f64::from(b) - f64::from(a);
    let n = (span as i64).clamp(1, max as i64) as usize;
    (0..n)
        .map(|i| {
            let p = (f64::from(a) + (i as f64 + 0.5) * span / n as f64).floor();
            p.clamp(0.0, (len - 1) as f64) as usize
        })
        .collect()
}

/// BT.601 limited range to sRGB in `0..=255` (clamped, not rounded).
fn i420_to_rgb(y: u8, u: u8, v: u8) -> [f64; 3] {
    let c = (f64::from(y) - 16.0) * 1.164_383;
    let (d, e) = (f64::from(u) - 128.0, f64::from(v) - 128.0);
    [
        c + 1.596_027 * e,
        c - 0.391_762 * d - 0.812_968 * e,
        c + 2.017_232 * d,
    ]
    .map(|x| x.clamp(0.0, 255.0))
}

/// sRGB `0..=255` to CIE L\*a\*b\* (D65).
pub(crate) fn srgb_to_lab(rgb: [f64; 3]) -> (f64, f64, f64) {
    let [r, g, b] = rgb.map(|c| {
        let c = c / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    });
    let x = (0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b) / 0.950_47;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175_0 * b;
    let z = (0.019_333_9 * r + 0.119_192_0 * g + 0.950_304_1 * b) / 1.088_83;
    let f = |t: f64| {
        const E: f64 = 216.0 / 24389.0;
        const K: f64 = 24389.0 / 27.0;
        if t > E {
            t.cbrt()
        } else {
            (K * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    (116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz))
}

/// Minimum chroma for a sample of lightness `l` to count as coloured (dark colours have little).
fn chroma_threshold(l: f64) -> f64 {
    (3.0 + 0.3 * l).clamp(6.0, 12.0)
}

/// Hue angle in degrees, `0..360`.
fn hue_deg(a: f64, b: f64) -> f64 {
    b.atan2(a).to_degrees().rem_euclid(360.0)
}

/// The colour a chromatic sample votes for.
fn hue_label(ln: f64, c: f64, hue: f64) -> VehicleColor {
    if !(45.0..345.0).contains(&hue) {
        VehicleColor::Red
    } else if hue < 75.0 {
        if ln < 55.0 {
            VehicleColor::Brown
        } else {
            VehicleColor::Orange
        }
    } else if hue < 110.0 {
        if ln < 60.0 || c < 25.0 {
            VehicleColor::Brown
        } else {
            VehicleColor::Yellow
        }
    } else if hue < 200.0 {
        VehicleColor::Green
    } else if hue < 300.0 {
        VehicleColor::Blue
    } else {
        VehicleColor::Purple
    }
}

/// Percentile `q` of sorted values with linear interpolation (numpy's default).
fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let rank = q * (sorted.len() - 1) as f64;
    let (i, f) = (rank.floor() as usize, rank.fract());
    let next = sorted[(i + 1).min(sorted.len() - 1)];
    sorted[i] + (next - sorted[i]) * f
}

/// [`percentile_sorted`] over `n` byte values given as a histogram.
fn percentile_from_histogram(hist: &[u32; 256], n: usize, q: f64) -> f64 {
    let nth = |k: usize| -> f64 {
        let mut seen = 0usize;
        for (v, &count) in hist.iter().enumerate() {
            seen += count as usize;
            if seen > k {
                return v as f64;
            }
        }
        255.0
    };
    let rank = q * (n - 1) as f64;
    let i = rank.floor() as usize;
    let (a, b) = (nth(i), nth((i + 1).min(n - 1)));
    a + (b - a) * rank.fract()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BT.601 limited-range Y, U, V of an sRGB colour (as `colour.py::rgb_to_i420`).
    fn yuv(rgb: [f64; 3]) -> (u8, u8, u8) {
        let [r, g, b] = rgb;
        let q = |x: f64| x.round().clamp(0.0, 255.0) as u8;
        (
            q(16.0 + 0.256_788 * r + 0.504_129 * g + 0.097_906 * b),
            q(128.0 - 0.148_223 * r - 0.290_993 * g + 0.439_216 * b),
            q(128.0 + 0.439_216 * r - 0.367_788 * g - 0.071_427 * b),
        )
    }

    /// A 64 × 48 frame: a `body` coloured rectangle over the lower body band of a box covering
    /// the whole frame, dark "windows" above and "wheels" below.
    fn car(body: [f64; 3]) -> Frame {
        let (w, h) = (64usize, 48usize);
        let paint = |y: usize| -> [f64; 3] {
            if (18..36).contains(&y) {
                body
            } else {
                [20.0, 20.0, 22.0]
            }
        };
        let mut data = Vec::new();
        for y in 0..h {
            data.extend((0..w).map(|_| yuv(paint(y)).0));
        }
        for plane in [1, 2] {
            for cy in 0..h / 2 {
                let (_, u, v) = yuv(paint(2 * cy));
                data.extend(std::iter::repeat_n(if plane == 1 { u } else { v }, w / 2));
            }
        }
        Frame::from_i420("colour", 0, w as u32, h as u32, data)
    }

    fn whole(f: &Frame) -> BBox {
        BBox {
            x1: 0.0,
            y1: 0.0,
            x2: f.width as f32,
            y2: f.height as f32,
        }
    }

    #[test]
    fn lab_of_reference_colours() {
        let (l, a, b) = srgb_to_lab([255.0; 3]);
        assert!((l - 100.0).abs() < 0.01 && a.abs() < 0.01 && b.abs() < 0.01);
        let (l, a, b) = srgb_to_lab([255.0, 0.0, 0.0]);
        assert!((l - 53.24).abs() < 0.05 && (a - 80.09).abs() < 0.1 && (b - 67.20).abs() < 0.1);
        let (l, _, _) = srgb_to_lab([0.0; 3]);
        assert_eq!(l, 0.0);
    }

    #[test]
    fn painted_bodies_get_their_colour() {
        let cases = [
            ([200.0, 20.0, 25.0], VehicleColor::Red),
            ([20.0, 50.0, 170.0], VehicleColor::Blue),
            ([30.0, 140.0, 50.0], VehicleColor::Green),
            ([240.0, 200.0, 20.0], VehicleColor::Yellow),
            ([240.0, 130.0, 20.0], VehicleColor::Orange),
            ([110.0, 70.0, 30.0], VehicleColor::Brown),
            ([120.0, 40.0, 140.0], VehicleColor::Purple),
            ([235.0, 235.0, 235.0], VehicleColor::White),
            ([120.0, 121.0, 124.0], VehicleColor::Grey),
            ([25.0, 25.0, 28.0], VehicleColor::Black),
        ];
        for (rgb, want) in cases {
            let f = car(rgb);
            let (got, conf) = body_colour(&f, &whole(&f), 1.0);
            assert_eq!(got, want, "{rgb:?} (confidence {conf})");
            assert!(conf >= MIN_CONFIDENCE, "{rgb:?}: {conf}");
        }
    }

    #[test]
    fn gain_lifts_dull_white_and_never_darkens() {
        // A light grey car in dull footage whose brightest pixels are the car itself.
        let f = car([160.0, 160.0, 163.0]);
        let gain = frame_gain(&f);
        assert!(gain > 1.1 && gain <= 1.5, "{gain}");
        assert_eq!(body_colour(&f, &whole(&f), 1.0).0, VehicleColor::Grey);
        assert_eq!(body_colour(&f, &whole(&f), gain).0, VehicleColor::White);
        assert_eq!(frame_gain(&car([255.0; 3])), 1.0);
    }

    #[test]
    fn only_the_body_patches_vote() {
        // A red box in the middle (where a plate would be) of a white body does not matter.
        let mut f = car([235.0; 3]);
        let data = std::sync::Arc::get_mut(&mut f.data).unwrap();
        let (y, u, v) = yuv([30.0, 60.0, 200.0]);
        for r in 18..36 {
            data[r * 64 + 26..r * 64 + 38].fill(y);
        }
        for cr in 9..18 {
            data[64 * 48 + cr * 32 + 13..64 * 48 + cr * 32 + 19].fill(u);
            data[64 * 48 + 32 * 24 + cr * 32 + 13..][..6].fill(v);
        }
        assert_eq!(body_colour(&f, &whole(&f), 1.0).0, VehicleColor::White);
    }

    #[test]
    fn degenerate_boxes_are_unknown_and_boxes_are_clamped() {
        let f = car([200.0, 20.0, 25.0]);
        let empty = BBox {
            x1: 10.0,
            y1: 10.0,
            x2: 10.0,
            y2: 30.0,
        };
        assert_eq!(body_colour(&f, &empty, 1.0), (VehicleColor::Unknown, 0.0));
        let beyond = BBox {
            x1: -20.0,
            y1: -10.0,
            x2: 90.0,
            y2: 70.0,
        };
        assert_eq!(body_colour(&f, &beyond, 1.0).0, VehicleColor::Red);
    }

    #[test]
    fn grid_matches_the_reference_sampling() {
        // colour.py: n = clamp(int(b - a), 1, max), floor(a + (i + 0.5) (b - a) / n), clamped.
        assert_eq!(grid(10.0, 14.0, 12, 100), vec![10, 11, 12, 13]);
        assert_eq!(grid(0.0, 120.0, 12, 100).len(), 12);
        assert_eq!(grid(0.0, 120.0, 12, 100)[0], 5);
        assert_eq!(grid(98.0, 130.0, 12, 100).last(), Some(&99));
        assert_eq!(grid(5.0, 5.4, 12, 100), vec![5]);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_sorted(&v, 0.5), 2.5);
        assert_eq!(percentile_sorted(&v, 0.75), 3.25);
        let mut hist = [0u32; 256];
        hist[10] = 99;
        hist[200] = 1;
        // 100 values: rank 0.99 * 99 = 98.01 → between the 99th (10) and the 100th (200).
        assert!((percentile_from_histogram(&hist, 100, 0.99) - 11.9).abs() < 1e-9);
    }
}
