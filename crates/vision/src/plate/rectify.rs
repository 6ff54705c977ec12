//! Rectification: a plate quad (TL, TR, BR, BL) perspective-warped to a fixed-size RGB image,
//! from any [`PixelSource`] — an RGB [`Image`] or an I420 frame read in place — plus the
//! double-row geometry (extending the quad upward, splitting the rows).
//!
//! Geometry follows `clp.rectify` (OpenCV `getPerspectiveTransform` + `warpPerspective`,
//! bilinear, replicated border): output pixel `(0, 0)` is the quad's TL corner and
//! `(w−1, h−1)` its BR corner. A `margin` grows the quad by that fraction of its width and
//! height on each side (negative shrinks). Performance contract: one homography per warp and
//! one bilinear sample per output pixel (192×56 ≈ 11 k samples, well under a millisecond).

use super::detect::{order_quad, Quad};
use super::image::{round_u8, Image, PixelSource};

/// Single-row plates: the whole plate at 192×56 (3.4:1).
pub const LINE_SIZE: (usize, usize) = (192, 56);
/// Double-row plates are warped to 176×88 (2:1) and split into rows.
pub const DOUBLE_SIZE: (usize, usize) = (176, 88);
/// Aspect a double-row plate's quad is extended to (440×220 mm).
pub const DOUBLE_ASPECT: f32 = 2.0;

fn sub(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

fn norm(a: [f32; 2]) -> f32 {
    a[0].hypot(a[1])
}

/// The homography taking `from[i]` to `to[i]` (row-major 3×3, `h[8] = 1`), as OpenCV's
/// `getPerspectiveTransform`; `None` for a degenerate quad.
pub fn homography(from: &Quad, to: &Quad) -> Option<[f64; 9]> {
    // Unknowns h0..h7: u = (h0 x + h1 y + h2) / (h6 x + h7 y + 1), v likewise with h3..h5.
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let (x, y) = (f64::from(from[i][0]), f64::from(from[i][1]));
        let (u, v) = (f64::from(to[i][0]), f64::from(to[i][1]));
        a[i] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u, u];
        a[i + 4] = [0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v, v];
    }
    // Gaussian elimination with partial pivoting on the augmented 8×9 matrix.
    for col in 0..8 {
        let pivot = (col..8).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            if r != col && f != 0.0 {
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * p;
                }
            }
        }
    }
    let mut h = [0f64; 9];
    for i in 0..8 {
        h[i] = a[i][8] / a[i][i];
    }
    h[8] = 1.0;
    Some(h)
}

/// Applies a homography to a point.
#[inline]
pub fn project(h: &[f64; 9], x: f64, y: f64) -> [f64; 2] {
    let w = h[6] * x + h[7] * y + h[8];
    [
        (h[0] * x + h[1] * y + h[2]) / w,
        (h[3] * x + h[4] * y + h[5]) / w,
    ]
}

/// `q` grown outward by `margin` × its mean width and height on each side.
pub fn grow(q: &Quad, margin: f32) -> Quad {
    if margin == 0.0 {
        return *q;
    }
    let [tl, tr, br, bl] = *q;
    let ux = [
        ((tr[0] - tl[0]) + (br[0] - bl[0])) / 2.0,
        ((tr[1] - tl[1]) + (br[1] - bl[1])) / 2.0,
    ];
    let uy = [
        ((bl[0] - tl[0]) + (br[0] - tr[0])) / 2.0,
        ((bl[1] - tl[1]) + (br[1] - tr[1])) / 2.0,
    ];
    let m = margin;
    let at = |p: [f32; 2], sx: f32, sy: f32| {
        [
            p[0] + m * (sx * ux[0] + sy * uy[0]),
            p[1] + m * (sx * ux[1] + sy * uy[1]),
        ]
    };
    [
        at(tl, -1.0, -1.0),
        at(tr, 1.0, -1.0),
        at(br, 1.0, 1.0),
        at(bl, -1.0, 1.0),
    ]
}

/// Perspective-warps `quad` of `src` to a `w × h` image (bilinear, replicated border), after
/// ordering its corners and growing it by `margin`.
pub fn warp(src: &impl PixelSource, quad: &Quad, w: usize, h: usize, margin: f32) -> Image {
    let q = grow(&order_quad(*quad), margin);
    let (wf, hf) = ((w - 1) as f32, (h - 1) as f32);
    let dst = [[0.0, 0.0], [wf, 0.0], [wf, hf], [0.0, hf]];
    let mut out = Image::new(w, h);
    // A degenerate quad (all corners on a line) leaves the output black.
    let Some(m) = homography(&dst, &q) else {
        return out;
    };
    for y in 0..h {
        for x in 0..w {
            let [sx, sy] = project(&m, x as f64, y as f64);
            let rgb = src.sample(sx as f32, sy as f32);
            let i = 3 * (y * w + x);
            out.data[i..i + 3].copy_from_slice(&rgb.map(round_u8));
        }
    }
    out
}

/// clp_det puts the upper corners of a double-row plate (440×220 mm) on its upper row, so the
/// quad comes out too flat and the province is cut: moves the upper edge up along the side
/// edges until width / height = 2 (never down).
pub fn extend_double_row(quad: &Quad) -> Quad {
    let [tl, tr, br, bl] = order_quad(*quad);
    let w = (norm(sub(tr, tl)) + norm(sub(br, bl))) / 2.0;
    let h = (norm(sub(bl, tl)) + norm(sub(br, tr))) / 2.0;
    let f = (w / DOUBLE_ASPECT) / h.max(1e-6);
    if f <= 1.0 {
        return [tl, tr, br, bl];
    }
    let up = |top: [f32; 2], bottom: [f32; 2]| {
        [
            bottom[0] + (top[0] - bottom[0]) * f,
            bottom[1] + (top[1] - bottom[1]) * f,
        ]
    };
    [up(tl, bl), up(tr, br), br, bl]
}

/// Splits a rectified double-row plate ([`DOUBLE_SIZE`]) into its upper row (rows 2–38 %,
/// columns 20–80 %: province and letter) and lower row (rows 36–97 %, all columns).
pub fn split_rows(plate: &Image) -> (Image, Image) {
    let (w, h) = (plate.width as f32, plate.height as f32);
    // Truncation as in the Python reference (`int(0.38 * H)`).
    let at = |f: f32, len: f32| (f * len) as usize;
    let top = plate.crop(crate::crop::PixelRect {
        x0: at(0.20, w),
        y0: at(0.02, h),
        x1: at(0.80, w),
        y1: at(0.38, h),
    });
    let bottom = plate.crop(crate::crop::PixelRect {
        x0: 0,
        y0: at(0.36, h),
        x1: plate.width,
        y1: at(0.97, h),
    });
    (top, bottom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 2], b: [f32; 2], tol: f32) -> bool {
        (a[0] - b[0]).abs() <= tol && (a[1] - b[1]).abs() <= tol
    }

    #[test]
    fn homography_maps_corners_and_inverts() {
        let from = [[0.0, 0.0], [191.0, 0.0], [191.0, 55.0], [0.0, 55.0]];
        let to = [
            [312.0, 187.0],
            [392.0, 181.0],
            [395.0, 214.0],
            [310.0, 213.0],
        ];
        let h = homography(&from, &to).unwrap();
        for i in 0..4 {
            let p = project(&h, f64::from(from[i][0]), f64::from(from[i][1]));
            assert!(close([p[0] as f32, p[1] as f32], to[i], 1e-3), "{p:?}");
        }
        let back = homography(&to, &from).unwrap();
        let p = project(&h, 100.0, 20.0);
        let q = project(&back, p[0], p[1]);
        assert!(
            (q[0] - 100.0).abs() < 1e-6 && (q[1] - 20.0).abs() < 1e-6,
            "{q:?}"
        );
        // Degenerate: all corners on one line.
        let line = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]];
        assert!(homography(&from, &line).is_none());
    }

    /// An image whose pixel (x, y) holds (x, y, 0): the warp output then says exactly which
    /// source position each output pixel came from.
    fn coordinates(w: usize, h: usize) -> Image {
        let mut img = Image::new(w, h);
        for y in 0..h {
            for x in 0..w {
                img.data[3 * (y * w + x)..3 * (y * w + x) + 2].copy_from_slice(&[x as u8, y as u8]);
            }
        }
        img
    }

    #[test]
    fn warp_reads_the_quad_corner_to_corner() {
        let img = coordinates(200, 120);
        // An axis-aligned quad 96 px wide (x 40..=135) and 28 px high (y 50..=77), corners given
        // in the model's order (BR, BL, TL, TR).
        let quad = [[135.0, 77.0], [40.0, 77.0], [40.0, 50.0], [135.0, 50.0]];
        let out = warp(&img, &quad, 192, 56, 0.0);
        assert_eq!(out.pixel(0, 0), [40, 50, 0]);
        assert_eq!(out.pixel(191, 55), [135, 77, 0]);
        assert_eq!(out.pixel(191, 0), [135, 50, 0]);
        // Halfway: x = 40 + 95 * 96/191.
        let mid = out.pixel(96, 28);
        assert!(
            mid[0].abs_diff(88) <= 1 && mid[1].abs_diff(64) <= 1,
            "{mid:?}"
        );
        // A margin of 10 % grows the quad by 9.5 px and 2.7 px on each side.
        let out = warp(&img, &quad, 192, 56, 0.1);
        assert_eq!(out.pixel(0, 0)[..2], [31, 47]);
        // Outside the image, the border is replicated.
        let out = warp(
            &img,
            &[[-50.0, -50.0], [10.0, -50.0], [10.0, 10.0], [-50.0, 10.0]],
            8,
            8,
            0.0,
        );
        assert_eq!(out.pixel(0, 0), [0, 0, 0]);
        assert_eq!(out.pixel(7, 7), [10, 10, 0]);
    }

    #[test]
    fn double_row_quad_is_extended_upward_to_two_to_one() {
        // Detector quad on a double-row plate: 200 wide, 60 high (too flat for 2:1).
        let q = [[0.0, 40.0], [200.0, 40.0], [200.0, 100.0], [0.0, 100.0]];
        let e = extend_double_row(&q);
        assert_eq!(e[2], [200.0, 100.0]);
        assert_eq!(e[3], [0.0, 100.0]);
        assert!(
            close(e[0], [0.0, 0.0], 1e-4) && close(e[1], [200.0, 0.0], 1e-4),
            "{e:?}"
        );
        // Already taller than 2:1: unchanged.
        let tall = [[0.0, 0.0], [100.0, 0.0], [100.0, 80.0], [0.0, 80.0]];
        assert_eq!(extend_double_row(&tall), tall);
    }

    #[test]
    fn rows_split_at_the_reference_fractions() {
        let plate = coordinates(176, 88);
        let (top, bottom) = split_rows(&plate);
        assert_eq!((top.width, top.height), (105, 32));
        assert_eq!(top.pixel(0, 0)[..2], [35, 1]);
        assert_eq!((bottom.width, bottom.height), (176, 54));
        assert_eq!(bottom.pixel(0, 0)[..2], [0, 31]);
    }
}
