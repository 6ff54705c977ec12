//! The covered-plate fallback (`clp.find_plate_region`): clp_det does not fire on covered
//! plates, so when it finds nothing, look in the vehicle crop for a plate-sized, plate-shaped,
//! smooth quadrilateral that differs from its surroundings — a cloth, paper, mud or a blank plate
//! where the plate goes.
//!
//! Steps, as the reference does them with OpenCV: grey (BT.601), 3×3 Gaussian blur, Canny
//! (40, 120, L1 gradient), 3×3 closing — and the same on the a\* and b\* chroma channels, each
//! on its own (Canny 30, 90) — then every contour's minimum-area rectangle is tested:
//! long side within 25° of horizontal, width within [min_w_frac, max_w_frac] of the crop,
//! height ≥ 6 px and aspect within `aspect`, centre in the lower 65 % and middle 80 %, convex
//! hull filling ≥ `min_rect` of the rectangle, inside (rectangle shrunk 30 %) smooth (grey std ≤
//! `max_inner_std`, mean Sobel gradient ≤ `max_inner_gradient`, or ≤ `max_folded_gradient` for
//! folds whose gradient keeps to one direction) and differing by a colour difference ΔE ≥
//! `min_contrast` (CIE76, of the mean colours) from a ring 25 % around it.
//! Score = contrast × fill / (1 + std / 10); the best wins. A region that passes all but the
//! smoothness tests is kept as covered in part when, along its length, a smooth stretch of at
//! least `min_smooth_run` lies beside bins with the texture of characters; the best of those is
//! returned only when no smooth region was found.
//!
//! What differs from the reference was measured on the eval set (seeds 1, 3, 4): the
//! contrast is a colour difference, not a grey one, since a green cloth on a red bus can have
//! the bus's grey level (+5 covered plates found on seed 4); the gradient test keeps grain,
//! noise and blurred characters out, which the grey spread alone let through (regions found on
//! degraded plates, mostly not on the plate: 29 → 4 on seed 4, 35 → 13 on seed 1); the chroma
//! contours find covers whose border is colour, not brightness (covered recall +3 to +5 points
//! on each seed); the widest region is 0.32 of the crop, not 0.45 (see `FALLBACK`); the centre
//! may lie in the middle 80 %, not 70 %, since a vehicle seen at an angle has its front or back,
//! and so its plate, off-centre in its box (+1 or +2 covered plates on four of five seeds, one
//! more false `covered` on one); the grey spread may reach 60, not 45, since with the gradient
//! test keeping text and grain out the spread only has to keep out regions half bright, half
//! dark, and 45 refused two-tone covers (tape over half a plate; +1 or +2 covered plates on
//! each of five seeds, one more false `covered` on one; 80 found no more); a cloth's folds may
//! reach a mean gradient of 14 when the gradient's direction is coherent (≥ 0.9; the structure
//! tensor's), since folds are parallel while text, noise and grain point every way; the centre
//! must lie in the lower 65 % of the crop, not 75 %, since a plate is mounted at bumper height —
//! its centre ≈ 0.55–0.9 of a car's, van's, bus's or truck's height from the top, ≈ 0.35–0.5 for
//! a motorcycle — while bus banners and windows lie higher. These two together: +6 covered
//! plates and −3 false `covered` over seeds 1, 3, 4, 5, 6. The eval's cloth is ideal sinusoidal
//! folds (coherence ≥ 0.97), so real cloth will gain less; regions on motion-blurred degraded
//! plates reached 0.74–0.94, two over 0.9. Every eval plate's centre lies at 0.51–0.89. The
//! reference finds covers only; a plate covered in part (the detector misses most of those:
//! the cover breaks its shape) is neither smooth nor read, so it was `none`. Taking the plate
//! for its smooth stretch beside characters (`covered_in_part`), and calling it `covered` only
//! when the recogniser sees characters on it (see `plate::unread_state`): covered recall +1.9
//! to +3.4 points on each of seeds 1, 3, 4, 5, 6, precision within ±0.2.
//!
//! Port notes: contours are taken as the 8-connected edge components (outer borders) and the
//! edge pixels 4-adjacent to each enclosed non-edge component (hole borders) — the point sets
//! OpenCV's `findContours(RETR_LIST)` traces, up to its chain compression; OpenCV's `len(c) < 4`
//! test on compressed chains is replaced by the size tests that follow it. Polygon masks use
//! pixel centres. Performance contract: linear in the crop's pixels plus the area of each
//! surviving candidate, three edge maps: 9.1 ms for a 385×231 crop (`benches/vision.rs`; 2.8 ms
//! with the grey map alone), so about 65 ms for 958×681 on one core; it only runs when the
//! detector found nothing.

use std::sync::OnceLock;

use super::detect::{order_quad, Quad};
use super::image::Image;
use crate::colour::srgb_to_lab;

/// Parameters of [`find_plate_region`] (`plate::FALLBACK`: the reference's, changed where the
/// module docs say).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FallbackParams {
    pub min_w_frac: f32,
    pub max_w_frac: f32,
    pub aspect: (f32, f32),
    pub min_rect: f32,
    pub min_contrast: f32,
    pub max_inner_std: f32,
    /// Most mean gradient (grey levels per pixel, Sobel / 8) inside: a cover is smooth, while
    /// text, noise and grain are not.
    pub max_inner_gradient: f32,
    /// ... unless the texture is folds: up to this mean gradient, when the gradient keeps to
    /// one direction by at least `min_fold_coherence` (a cloth's parallel folds; text, noise and
    /// grain point every way).
    pub max_folded_gradient: f32,
    /// Coherence of the gradient's direction (0 to 1, from the structure tensor) from which a
    /// texture counts as folds.
    pub min_fold_coherence: f32,
    /// A region that is not smooth is still a plate covered in part when a smooth stretch
    /// spans at least this fraction of its length beside characters (tape or mud over some of
    /// them); taken only when no smooth region was found.
    pub min_smooth_run: f32,
}

/// Index of the column left and right of each `x` (clamped or reflected at the borders).
fn neighbours(n: usize, reflect: bool) -> (Vec<usize>, Vec<usize>) {
    let left = (0..n)
        .map(|i| match (i, reflect) {
            (0, true) => 1.min(n - 1),
            (0, false) => 0,
            _ => i - 1,
        })
        .collect();
    let right = (0..n)
        .map(|i| match (i + 1 == n, reflect) {
            (true, true) => i.saturating_sub(1),
            (true, false) => i,
            _ => i + 1,
        })
        .collect();
    (left, right)
}

/// 3×3 Gaussian ([1 2 1] ⊗ [1 2 1] / 16, reflect-101 border), rounding half up as OpenCV's
/// fixed-point 8-bit path does.
pub(super) fn blur3(g: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (l, r) = neighbours(w, true);
    let (up, down) = neighbours(h, true);
    let mut tmp = vec![0u16; w * h];
    for (src, dst) in g.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        for x in 0..w {
            dst[x] = u16::from(src[l[x]]) + 2 * u16::from(src[x]) + u16::from(src[r[x]]);
        }
    }
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let (a, b, c) = (
            &tmp[up[y] * w..][..w],
            &tmp[y * w..][..w],
            &tmp[down[y] * w..][..w],
        );
        for (x, o) in out[y * w..(y + 1) * w].iter_mut().enumerate() {
            *o = ((u32::from(a[x]) + 2 * u32::from(b[x]) + u32::from(c[x]) + 8) >> 4) as u8;
        }
    }
    out
}

/// Canny edges (3×3 Sobel with replicated border, L1 magnitude, OpenCV's sector tests and
/// hysteresis over 8-neighbours): 1 = edge, 0 = not.
fn canny(g: &[u8], w: usize, h: usize, low: i32, high: i32) -> Vec<u8> {
    let (l, r) = neighbours(w, false);
    let (up, down) = neighbours(h, false);
    let mw = w + 2; // magnitudes with a zero border of one pixel
    let mut dx = vec![0i32; w * h];
    let mut dy = vec![0i32; w * h];
    let mut mag = vec![0i32; mw * (h + 2)];
    for y in 0..h {
        let (a, b, c) = (
            &g[up[y] * w..][..w],
            &g[y * w..][..w],
            &g[down[y] * w..][..w],
        );
        for x in 0..w {
            let (xl, xr) = (l[x], r[x]);
            let p = |row: &[u8], i: usize| i32::from(row[i]);
            let gx = (p(a, xr) + 2 * p(b, xr) + p(c, xr)) - (p(a, xl) + 2 * p(b, xl) + p(c, xl));
            let gy = (p(c, xl) + 2 * p(c, x) + p(c, xr)) - (p(a, xl) + 2 * p(a, x) + p(a, xr));
            dx[y * w + x] = gx;
            dy[y * w + x] = gy;
            mag[(y + 1) * mw + x + 1] = gx.abs() + gy.abs();
        }
    }
    const SHIFT: i32 = 15;
    let tg22 = (0.414_213_562_373_095_f64 * f64::from(1 << SHIFT) + 0.5) as i64;
    // 0 = not an edge, 1 = weak candidate, 2 = strong.
    let mut map = vec![0u8; w * h];
    let mut stack = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let mi = (y + 1) * mw + x + 1;
            let v = mag[mi];
            if v <= low {
                continue;
            }
            let (gx, gy) = (dx[y * w + x], dy[y * w + x]);
            let (xs, ys) = (i64::from(gx.abs()), i64::from(gy.abs()));
            let tg22x = xs * tg22;
            let yy = ys << SHIFT;
            let keep = if yy < tg22x {
                v > mag[mi - 1] && v >= mag[mi + 1]
            } else if yy > tg22x + (xs << (SHIFT + 1)) {
                v > mag[mi - mw] && v >= mag[mi + mw]
            } else if (gx ^ gy) < 0 {
                v > mag[mi - mw + 1] && v > mag[mi + mw - 1]
            } else {
                v > mag[mi - mw - 1] && v > mag[mi + mw + 1]
            };
            if keep {
                if v > high {
                    map[y * w + x] = 2;
                    stack.push(y * w + x);
                } else {
                    map[y * w + x] = 1;
                }
            }
        }
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
            for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                if map[ny * w + nx] == 1 {
                    map[ny * w + nx] = 2;
                    stack.push(ny * w + nx);
                }
            }
        }
    }
    for v in &mut map {
        *v = u8::from(*v == 2);
    }
    map
}

/// 3×3 closing of a 0/1 mask (dilate then erode, separably; pixels outside are ignored).
fn close3(e: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (l, r) = neighbours(w, false);
    let (up, down) = neighbours(h, false);
    let pass = |src: &[u8], f: fn(u8, u8) -> u8| -> Vec<u8> {
        let mut t = vec![0u8; w * h];
        for (s, d) in src.chunks_exact(w).zip(t.chunks_exact_mut(w)) {
            for x in 0..w {
                d[x] = f(f(s[l[x]], s[x]), s[r[x]]);
            }
        }
        let mut out = vec![0u8; w * h];
        for y in 0..h {
            let (a, b, c) = (
                &t[up[y] * w..][..w],
                &t[y * w..][..w],
                &t[down[y] * w..][..w],
            );
            for (x, o) in out[y * w..(y + 1) * w].iter_mut().enumerate() {
                *o = f(f(a[x], b[x]), c[x]);
            }
        }
        out
    };
    pass(&pass(e, u8::max), u8::min)
}

/// Calls `visit` with the point set of every contour of a 0/1 edge mask, as OpenCV's
/// `findContours(RETR_LIST)` would trace them: each 8-connected edge component (its outer
/// border), and for each 4-connected non-edge region not touching the image border (a hole),
/// the edge pixels 4-adjacent to it. `min_extent` skips sets whose bounding box diagonal is
/// shorter (they cannot be a plate).
fn for_each_contour(
    edges: &[u8],
    w: usize,
    h: usize,
    min_extent: f64,
    mut visit: impl FnMut(&[(usize, usize)]),
) {
    // 0 = unvisited, 1 = visited / outside.
    let mut seen = vec![0u8; w * h];
    let mut stack: Vec<usize> = Vec::new();
    let mut points: Vec<(usize, usize)> = Vec::new();
    let extent = |p: &[(usize, usize)]| {
        let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0, usize::MAX, 0);
        for &(x, y) in p {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        ((x1 - x0) as f64).hypot((y1 - y0) as f64)
    };
    // Background reachable from the image border is outside every hole.
    for i in 0..w * h {
        let (x, y) = (i % w, i / w);
        let border = x == 0 || y == 0 || x == w - 1 || y == h - 1;
        if !border || edges[i] != 0 || seen[i] != 0 {
            continue;
        }
        seen[i] = 1;
        stack.push(i);
        while let Some(j) = stack.pop() {
            let (x, y) = (j % w, j / w);
            let mut go = |k: usize| {
                if edges[k] == 0 && seen[k] == 0 {
                    seen[k] = 1;
                    stack.push(k);
                }
            };
            if x > 0 {
                go(j - 1);
            }
            if x + 1 < w {
                go(j + 1);
            }
            if y > 0 {
                go(j - w);
            }
            if y + 1 < h {
                go(j + w);
            }
        }
    }
    for i in 0..w * h {
        if seen[i] != 0 {
            continue;
        }
        seen[i] = 1;
        stack.push(i);
        points.clear();
        if edges[i] != 0 {
            // An edge component, 8-connected.
            while let Some(j) = stack.pop() {
                let (x, y) = (j % w, j / w);
                points.push((x, y));
                for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                        let k = ny * w + nx;
                        if edges[k] != 0 && seen[k] == 0 {
                            seen[k] = 1;
                            stack.push(k);
                        }
                    }
                }
            }
        } else {
            // A hole (never on the border: those were marked above), 4-connected; keep the
            // edge pixels around it.
            while let Some(j) = stack.pop() {
                for k in [j - 1, j + 1, j - w, j + w] {
                    if edges[k] != 0 {
                        points.push((k % w, k / w));
                    } else if seen[k] == 0 {
                        seen[k] = 1;
                        stack.push(k);
                    }
                }
            }
            points.sort_unstable();
            points.dedup();
        }
        if !points.is_empty() && extent(&points) >= min_extent {
            visit(&points);
        }
    }
}

/// Convex hull (monotone chain), counter-clockwise in image axes, no collinear points.
fn hull(points: &[(usize, usize)]) -> Vec<[f64; 2]> {
    let mut p: Vec<[f64; 2]> = points.iter().map(|&(x, y)| [x as f64, y as f64]).collect();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut lower: Vec<[f64; 2]> = Vec::new();
    for &q in &p {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], q) <= 0.0 {
            lower.pop();
        }
        lower.push(q);
    }
    let mut upper: Vec<[f64; 2]> = Vec::new();
    for &q in p.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], q) <= 0.0 {
            upper.pop();
        }
        upper.push(q);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

fn polygon_area(poly: &[[f64; 2]]) -> f64 {
    let n = poly.len();
    (0..n)
        .map(|i| {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            a[0] * b[1] - a[1] * b[0]
        })
        .sum::<f64>()
        .abs()
        / 2.0
}

/// Minimum-area rectangle of a convex hull (rotating calipers): centre, long side, short side,
/// the long side's angle in degrees folded to (−90, 90], and its four corners.
#[derive(Debug, Clone, Copy)]
struct MinRect {
    centre: [f64; 2],
    long: f64,
    short: f64,
    angle: f64,
    corners: [[f64; 2]; 4],
}

fn min_area_rect(hull: &[[f64; 2]]) -> Option<MinRect> {
    if hull.len() < 3 {
        return None;
    }
    let mut best: Option<(f64, MinRect)> = None;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let len = (b[0] - a[0]).hypot(b[1] - a[1]);
        if len == 0.0 {
            continue;
        }
        let u = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
        let v = [-u[1], u[0]];
        let (mut u0, mut u1, mut v0, mut v1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in hull {
            let pu = p[0] * u[0] + p[1] * u[1];
            let pv = p[0] * v[0] + p[1] * v[1];
            (u0, u1, v0, v1) = (u0.min(pu), u1.max(pu), v0.min(pv), v1.max(pv));
        }
        let area = (u1 - u0) * (v1 - v0);
        if best.as_ref().is_some_and(|(ba, _)| *ba <= area) {
            continue;
        }
        let at = |s: f64, t: f64| [s * u[0] + t * v[0], s * u[1] + t * v[1]];
        let corners = [at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)];
        let centre = at((u0 + u1) / 2.0, (v0 + v1) / 2.0);
        let (du, dv) = (u1 - u0, v1 - v0);
        let (long, short, dir) = if du >= dv { (du, dv, u) } else { (dv, du, v) };
        let mut angle = dir[1].atan2(dir[0]).to_degrees();
        while angle > 90.0 {
            angle -= 180.0;
        }
        while angle <= -90.0 {
            angle += 180.0;
        }
        best = Some((
            area,
            MinRect {
                centre,
                long,
                short,
                angle,
                corners,
            },
        ));
    }
    best.map(|(_, r)| r)
}

/// Pixels (integer centres) inside the convex polygon with vertices truncated to integers, as a
/// list of row spans `(y, x0, x1)` inclusive, clipped to the image.
fn fill_spans(poly: &[[f64; 2]; 4], w: usize, h: usize) -> Vec<(usize, usize, usize)> {
    let p: Vec<[f64; 2]> = poly.iter().map(|q| [q[0].trunc(), q[1].trunc()]).collect();
    let ymin = p.iter().map(|q| q[1]).fold(f64::MAX, f64::min).max(0.0);
    let ymax = p
        .iter()
        .map(|q| q[1])
        .fold(f64::MIN, f64::max)
        .min(h as f64 - 1.0);
    let mut out = Vec::new();
    if ymax < ymin {
        return out;
    }
    for y in ymin as usize..=ymax as usize {
        let yf = y as f64;
        let (mut xl, mut xr) = (f64::MAX, f64::MIN);
        for i in 0..4 {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            if (a[1] - yf) * (b[1] - yf) > 0.0 {
                continue;
            }
            if a[1] == b[1] {
                (xl, xr) = (xl.min(a[0]).min(b[0]), xr.max(a[0]).max(b[0]));
            } else {
                let x = a[0] + (yf - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                (xl, xr) = (xl.min(x), xr.max(x));
            }
        }
        if xl > xr {
            continue;
        }
        let x0 = xl.ceil().max(0.0);
        let x1 = xr.floor().min(w as f64 - 1.0);
        if x1 >= x0 {
            out.push((y, x0 as usize, x1 as usize));
        }
    }
    out
}

/// `q` moved towards (positive `f`) or away from (negative) its centre by `f` × the offset.
fn scale_to_centre(q: &[[f64; 2]; 4], f: f64) -> [[f64; 2]; 4] {
    let c = [
        q.iter().map(|p| p[0]).sum::<f64>() / 4.0,
        q.iter().map(|p| p[1]).sum::<f64>() / 4.0,
    ];
    q.map(|p| [p[0] + (c[0] - p[0]) * f, p[1] + (c[1] - p[1]) * f])
}

/// Canny thresholds on the chroma channels (a\* and b\* in OpenCV's 8-bit scale: +128).
const CHROMA_CANNY: (i32, i32) = (30, 90);

/// The a\* and b\* channels of `crop` in OpenCV's 8-bit scale (value + 128, rounded), through
/// two tables (sRGB decoding; the Lab curve, linearly interpolated): a few nanoseconds a pixel,
/// within ±1 of [`srgb_to_lab`].
fn chroma(crop: &Image) -> [Vec<u8>; 2] {
    const CURVE_BINS: usize = 2048;
    const CURVE_MAX: f32 = 1.1; // X / Xn, Y, Z / Zn of sRGB colours stay below 1.
    static TABLES: OnceLock<([f32; 256], Vec<f32>)> = OnceLock::new();
    let (linear, curve) = TABLES.get_or_init(|| {
        let linear = std::array::from_fn(|i| {
            let c = i as f64 / 255.0;
            (if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }) as f32
        });
        let curve = (0..=CURVE_BINS)
            .map(|i| {
                let t = f64::from(CURVE_MAX) * i as f64 / CURVE_BINS as f64;
                (if t > 216.0 / 24389.0 {
                    t.cbrt()
                } else {
                    (24389.0 / 27.0 * t + 16.0) / 116.0
                }) as f32
            })
            .collect();
        (linear, curve)
    });
    let f = |t: f32| {
        let x = (t.max(0.0) / CURVE_MAX * CURVE_BINS as f32).min(CURVE_BINS as f32 - 1e-3);
        let (i, frac) = (x as usize, x.fract());
        curve[i] + (curve[i + 1] - curve[i]) * frac
    };
    let n = crop.width * crop.height;
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for p in crop.data.chunks_exact(3) {
        let [r, g, bl] = [p[0], p[1], p[2]].map(|v| linear[usize::from(v)]);
        let fx = f((0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * bl) / 0.950_47);
        let fy = f(0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * bl);
        let fz = f((0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * bl) / 1.088_83);
        a.push((500.0 * (fx - fy) + 128.0).round().clamp(0.0, 255.0) as u8);
        b.push((200.0 * (fy - fz) + 128.0).round().clamp(0.0, 255.0) as u8);
    }
    [a, b]
}

/// Grey spread and mean sRGB over some spans of a crop.
struct Stats {
    n: usize,
    std: f64,
    mean_rgb: [f64; 3],
}

impl Stats {
    /// Over the pixels of `spans` that `skip` does not exclude; `g` is the blurred grey of
    /// `crop`.
    fn over(
        spans: &[(usize, usize, usize)],
        crop: &Image,
        g: &[u8],
        skip: &dyn Fn(usize, usize) -> bool,
    ) -> Stats {
        let (mut n, mut s, mut s2) = (0usize, 0f64, 0f64);
        let mut rgb = [0f64; 3];
        for &(y, a, b) in spans {
            for x in a..=b {
                if skip(x, y) {
                    continue;
                }
                let v = f64::from(g[y * crop.width + x]);
                (n, s, s2) = (n + 1, s + v, s2 + v * v);
                for (acc, c) in rgb.iter_mut().zip(crop.pixel(x, y)) {
                    *acc += f64::from(c);
                }
            }
        }
        let k = n.max(1) as f64;
        let mean = s / k;
        Stats {
            n,
            std: (s2 / k - mean * mean).max(0.0).sqrt(),
            mean_rgb: rgb.map(|c| c / k),
        }
    }
}

/// Mean Sobel magnitude (|gx| + |gy|, each / 8, borders replicated) of the blurred grey `g`
/// (`w × h`) over `spans` — fine texture — and the coherence of the gradient's direction over
/// them (0: every direction alike, as text, noise and grain have; 1: one direction, as
/// parallel folds or a shading ramp have).
pub(super) fn texture(spans: &[(usize, usize, usize)], g: &[u8], w: usize, h: usize) -> (f64, f64) {
    let at = |x: usize, y: usize| i32::from(g[y * w + x]);
    let (mut n, mut sum) = (0usize, 0f64);
    let (mut jxx, mut jyy, mut jxy) = (0f64, 0f64, 0f64);
    for &(y, a, b) in spans {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in a..=b {
            let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let gx =
                (at(r, up) + 2 * at(r, y) + at(r, down)) - (at(l, up) + 2 * at(l, y) + at(l, down));
            let gy = (at(l, down) + 2 * at(x, down) + at(r, down))
                - (at(l, up) + 2 * at(x, up) + at(r, up));
            (n, sum) = (n + 1, sum + f64::from(gx.abs() + gy.abs()) / 8.0);
            let (fx, fy) = (f64::from(gx), f64::from(gy));
            (jxx, jyy, jxy) = (jxx + fx * fx, jyy + fy * fy, jxy + fx * fy);
        }
    }
    let coherence = ((jxx - jyy).powi(2) + 4.0 * jxy * jxy).sqrt() / (jxx + jyy).max(1e-9);
    (sum / n.max(1) as f64, coherence)
}

/// CIE76 colour difference between two mean sRGB colours (`0..=255`).
fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
    let ((l1, a1, b1), (l2, a2, b2)) = (srgb_to_lab(a), srgb_to_lab(b));
    ((l1 - l2).powi(2) + (a1 - a2).powi(2) + (b1 - b2).powi(2)).sqrt()
}

/// A plate-shaped region [`find_plate_region`] found: smooth, or covered in part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// TL, TR, BR, BL in crop pixels.
    pub quad: Quad,
    /// Contrast × fill / (1 + std / 10): how it was chosen among the candidates.
    pub score: f32,
    /// Colour difference (CIE76 ΔE of the mean colours) against a ring around it.
    pub contrast: f32,
    /// Not smooth as a whole but covered in part (see `FallbackParams::min_smooth_run`): found
    /// only when no smooth region was.
    pub partial: bool,
}

/// Looks for a covered plate in a vehicle crop; returns the best region, or `None`.
pub fn find_plate_region(crop: &Image, params: &FallbackParams) -> Option<Region> {
    let (w, h) = (crop.width, crop.height);
    if w < 16 || h < 16 {
        return None;
    }
    let g = blur3(&crop.grey(), w, h);
    // Edges of the grey picture, then of each chroma channel on its own: a cover's border can
    // be all colour and no brightness, and OR-ing the maps would merge contours with clutter.
    let [ca, cb] = chroma(crop).map(|c| blur3(&c, w, h));
    let edge_maps = [
        close3(&canny(&g, w, h, 40, 120), w, h),
        close3(&canny(&ca, w, h, CHROMA_CANNY.0, CHROMA_CANNY.1), w, h),
        close3(&canny(&cb, w, h, CHROMA_CANNY.0, CHROMA_CANNY.1), w, h),
    ];

    let (wf, hf) = (w as f64, h as f64);
    let min_w = f64::from(params.min_w_frac) * wf;
    let max_w = f64::from(params.max_w_frac) * wf;
    // Smooth regions first; one covered in part only when there is none.
    let (mut best, mut best_partial): (Option<Region>, Option<Region>) = (None, None);
    // The bounding box's diagonal bounds the rectangle's long side: skip what cannot be wide
    // enough before any geometry.
    let mut candidate = |c: &[(usize, usize)]| {
        let hl = hull(c);
        let Some(r) = min_area_rect(&hl) else {
            return;
        };
        if r.angle.abs() > 25.0 || r.long < min_w || r.long > max_w {
            return;
        }
        let aspect = r.long / r.short.max(1e-9);
        if r.short < 6.0
            || aspect < f64::from(params.aspect.0)
            || aspect > f64::from(params.aspect.1)
        {
            return;
        }
        let [cx, cy] = r.centre;
        if !(0.35 * hf..=0.98 * hf).contains(&cy) || !(0.1 * wf..=0.9 * wf).contains(&cx) {
            return;
        }
        let fill = polygon_area(&hl) / (r.long * r.short + 1e-6);
        if fill < f64::from(params.min_rect) {
            return;
        }
        let q64: [[f64; 2]; 4] = {
            let o = order_quad(r.corners.map(|p| [p[0] as f32, p[1] as f32]));
            o.map(|p| [f64::from(p[0]), f64::from(p[1])])
        };
        let inner = fill_spans(&scale_to_centre(&q64, 0.3), w, h);
        let si = Stats::over(&inner, crop, &g, &|_, _| false);
        let plate = fill_spans(&q64, w, h);
        let in_plate = |x: usize, y: usize| {
            plate
                .binary_search_by_key(&y, |s| s.0)
                .is_ok_and(|i| (plate[i].1..=plate[i].2).contains(&x))
        };
        let outer = fill_spans(&scale_to_centre(&q64, -0.25), w, h);
        let so = Stats::over(&outer, crop, &g, &in_plate);
        if si.n < 20 || so.n < 20 {
            return;
        }
        let contrast = delta_e(si.mean_rgb, so.mean_rgb);
        if contrast < f64::from(params.min_contrast) {
            return;
        }
        let (gradient, coherence) = texture(&inner, &g, w, h);
        let folds = gradient <= f64::from(params.max_folded_gradient)
            && coherence >= f64::from(params.min_fold_coherence);
        let smooth = si.std <= f64::from(params.max_inner_std)
            && (gradient <= f64::from(params.max_inner_gradient) || folds);
        if !smooth && !covered_in_part(&q64, &g, w, h, params) {
            return;
        }
        let s = (contrast * fill / (1.0 + si.std / 10.0)) as f32;
        let slot = if smooth { &mut best } else { &mut best_partial };
        if slot.as_ref().is_none_or(|b| s > b.score) {
            *slot = Some(Region {
                quad: q64.map(|p| [p[0] as f32, p[1] as f32]),
                score: s,
                contrast: contrast as f32,
                partial: !smooth,
            });
        }
    };
    for edges in &edge_maps {
        for_each_contour(edges, w, h, min_w, &mut candidate);
    }
    best.or(best_partial)
}

/// Bins along a plate region for [`covered_in_part`].
const PART_BINS: usize = 20;

/// Whether the plate-shaped region `q` (TL, TR, BR, BL) is a plate covered in part: along its
/// length (5–95 %, in [`PART_BINS`] bins, over the middle 60 % of its height) a run of smooth
/// bins (mean gradient ≤ `max_inner_gradient`) spans at least `min_smooth_run` of it, and at
/// least two bins have the texture of characters (over twice that).
fn covered_in_part(q: &[[f64; 2]; 4], g: &[u8], w: usize, h: usize, p: &FallbackParams) -> bool {
    let lerp =
        |a: [f64; 2], b: [f64; 2], t: f64| [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
    let max = f64::from(p.max_inner_gradient);
    let (mut run, mut longest, mut text) = (0usize, 0usize, 0usize);
    for i in 0..PART_BINS {
        let t0 = 0.05 + 0.9 * i as f64 / PART_BINS as f64;
        let t1 = 0.05 + 0.9 * (i + 1) as f64 / PART_BINS as f64;
        let (top0, top1) = (lerp(q[0], q[1], t0), lerp(q[0], q[1], t1));
        let (bottom0, bottom1) = (lerp(q[3], q[2], t0), lerp(q[3], q[2], t1));
        let cell = [
            lerp(top0, bottom0, 0.2),
            lerp(top1, bottom1, 0.2),
            lerp(top1, bottom1, 0.8),
            lerp(top0, bottom0, 0.8),
        ];
        let spans = fill_spans(&cell, w, h);
        let gradient = if spans.is_empty() {
            f64::INFINITY
        } else {
            texture(&spans, g, w, h).0
        };
        run = if gradient <= max { run + 1 } else { 0 };
        longest = longest.max(run);
        text += usize::from(gradient > 2.0 * max);
    }
    longest as f64 >= f64::from(p.min_smooth_run) * PART_BINS as f64 && text >= 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plate::FALLBACK;

    /// A grey "car" with a darker uniform plate-shaped patch (a cloth) where the plate goes.
    fn car_with_cover(cover: Option<u8>) -> Image {
        let (w, h) = (400, 300);
        let mut img = Image::new(w, h);
        for y in 0..h {
            for x in 0..w {
                // Body with a soft vertical gradient.
                let v = 150 + (y / 30) as u8;
                let v = match cover {
                    Some(c) if (150..250).contains(&x) && (200..240).contains(&y) => c,
                    _ => v,
                };
                img.data[3 * (y * w + x)..3 * (y * w + x) + 3].copy_from_slice(&[v, v, v]);
            }
        }
        img
    }

    #[test]
    fn finds_a_uniform_plate_sized_patch() {
        let r = find_plate_region(&car_with_cover(Some(60)), &FALLBACK).expect("a region");
        assert!(r.score > 10.0 && r.contrast > 30.0, "{r:?}");
        let q = r.quad;
        // Around x 150..249, y 200..239 (within the edge detector's couple of pixels).
        for (p, want) in q.iter().zip([
            [150.0, 200.0],
            [249.0, 200.0],
            [249.0, 239.0],
            [150.0, 239.0],
        ]) {
            assert!(
                (p[0] - want[0]).abs() <= 3.0 && (p[1] - want[1]).abs() <= 3.0,
                "{q:?}"
            );
        }
    }

    #[test]
    fn a_plain_body_has_no_region() {
        assert!(find_plate_region(&car_with_cover(None), &FALLBACK).is_none());
        // Too small a crop.
        assert!(find_plate_region(&Image::new(10, 10), &FALLBACK).is_none());
    }

    /// [`find_plate_region`] with [`FALLBACK`] changed by `change`.
    fn found_with(img: &Image, change: impl Fn(&mut FallbackParams)) -> Option<Region> {
        let mut params = FALLBACK;
        change(&mut params);
        find_plate_region(img, &params)
    }

    /// Whether `q` lies on the plate place of `car_painted` (x 150..250, y 200..240) within the
    /// edge detector's couple of pixels.
    fn at_plate_place(q: &Quad) -> bool {
        let near = |v: f32, want: f32| (v - want).abs() <= 3.0;
        near(q[0][0], 150.0) && near(q[0][1], 200.0) && near(q[2][0], 249.0) && near(q[2][1], 239.0)
    }

    /// `car_with_cover(None)` with `paint(x, y)` over the plate place (x 150..250, y 200..240).
    fn car_painted(paint: impl Fn(usize, usize) -> [u8; 3]) -> Image {
        let mut img = car_with_cover(None);
        for y in 200..240 {
            for x in 150..250 {
                let i = 3 * (y * img.width + x);
                img.data[i..i + 3].copy_from_slice(&paint(x, y));
            }
        }
        img
    }

    #[test]
    fn chroma_tables_follow_the_exact_conversion() {
        let mut img = Image::new(64, 64);
        for (i, px) in img.data.chunks_exact_mut(3).enumerate() {
            px.copy_from_slice(&[
                (i * 7 % 256) as u8,
                (i * 13 % 256) as u8,
                (i * 29 % 256) as u8,
            ]);
        }
        let [a, b] = chroma(&img);
        for (i, px) in img.data.chunks_exact(3).enumerate() {
            let (_, ea, eb) = srgb_to_lab([px[0], px[1], px[2]].map(f64::from));
            assert!((f64::from(a[i]) - (ea + 128.0)).abs() <= 1.0, "{px:?}");
            assert!((f64::from(b[i]) - (eb + 128.0)).abs() <= 1.0, "{px:?}");
        }
    }

    #[test]
    fn a_cover_of_the_body_grey_is_found_by_its_colour() {
        // A green cloth as bright as the grey body (BT.601 grey 156 against 156..157): no grey
        // edge and no grey contrast, but a* edges and a colour difference of ΔE ≈ 50.
        let img = car_painted(|_, _| [100, 190, 130]);
        let q = find_plate_region(&img, &FALLBACK).expect("a region").quad;
        assert!(at_plate_place(&q), "{q:?}");
    }

    #[test]
    fn a_two_tone_cover_is_found() {
        // Dark tape over the left half, a pale sticker over the right: grey spread 50 (over the
        // reference's 45, within 60), smooth but at the seam.
        let img = car_painted(|x, _| {
            if x < 200 {
                [20, 20, 20]
            } else {
                [120, 120, 120]
            }
        });
        let q = find_plate_region(&img, &FALLBACK).expect("a region").quad;
        assert!(at_plate_place(&q), "{q:?}");
        assert!(found_with(&img, |p| p.max_inner_std = 45.0).is_none());
    }

    #[test]
    fn a_grainy_patch_is_not_a_cover() {
        // Dark, but grainy (3-pixel blocks of 20 and 100: blurred spread 20 ≤ max_inner_std,
        // gradient 20 > 8): what noise or blurred characters look like, not a cloth.
        let img = car_painted(|x, y| {
            let v = if (x / 3 + y / 3) % 2 == 0 { 20 } else { 100 };
            [v, v, v]
        });
        let found = find_plate_region(&img, &FALLBACK);
        assert!(found.is_none(), "{found:?}");
        // The same patch smooth is one.
        assert!(find_plate_region(&car_painted(|_, _| [60, 60, 60]), &FALLBACK).is_some());
    }

    #[test]
    fn folds_are_a_cover_but_grain_is_not() {
        // Parallel folds: a ramp of ±35 grey levels every 12 pixels, mean gradient ≈ 11 (over
        // the 8 for other texture) in one direction.
        let folds = car_painted(|x, _| {
            let v = 60.0 + 35.0 * (x as f64 * std::f64::consts::TAU / 12.0).sin();
            [v as u8; 3]
        });
        let q = find_plate_region(&folds, &FALLBACK).expect("a region").quad;
        assert!(at_plate_place(&q), "{q:?}");
        let no_folds = found_with(&folds, |p| p.max_folded_gradient = p.max_inner_gradient);
        assert!(no_folds.is_none(), "{no_folds:?}");
        // The same ramps in every direction (a grid of bumps: text, grain) are refused.
        let bumps = car_painted(|x, y| {
            let t = |i: usize| (i as f64 * std::f64::consts::TAU / 12.0).sin();
            [(60.0 + 17.0 * (t(x) + t(y))) as u8; 3]
        });
        let found = find_plate_region(&bumps, &FALLBACK);
        assert!(found.is_none(), "{found:?}");
        assert!(found_with(&bumps, |p| p.min_fold_coherence = 0.0).is_some());
    }

    #[test]
    fn a_plate_covered_in_part_is_found() {
        // Characters (bars 3 px wide) over the left 40 % of the plate, a cover over the rest.
        let bars = |x: usize| if (x / 3).is_multiple_of(2) { 20 } else { 230 };
        let img = car_painted(|x, _| [if x >= 190 { 60 } else { bars(x) }; 3]);
        let r = find_plate_region(&img, &FALLBACK).expect("a region");
        assert!(r.partial, "{r:?}");
        assert!(at_plate_place(&r.quad), "{r:?}");
        assert!(found_with(&img, |p| p.min_smooth_run = 1.1).is_none());
        // Characters all along: nothing covered.
        let text = car_painted(|x, _| [bars(x); 3]);
        let found = find_plate_region(&text, &FALLBACK);
        assert!(found.is_none(), "{found:?}");
    }

    #[test]
    fn a_patch_high_on_the_vehicle_is_not_a_plate() {
        // The same patch as `finds_a_uniform_plate_sized_patch`, with its centre a third of the
        // way down the vehicle (a window, a sign): a plate sits at bumper height.
        let mut img = car_with_cover(None);
        for y in 80..120 {
            for x in 150..250 {
                let i = 3 * (y * img.width + x);
                img.data[i..i + 3].copy_from_slice(&[60, 60, 60]);
            }
        }
        assert!(find_plate_region(&img, &FALLBACK).is_none());
    }

    #[test]
    fn hull_and_min_rect_of_a_tilted_rectangle() {
        let (c, s) = (10f64.to_radians().cos(), 10f64.to_radians().sin());
        let mut pts = Vec::new();
        for i in 0..=100 {
            for j in 0..=30 {
                let (x, y) = (i as f64 - 50.0, j as f64 - 15.0);
                pts.push((
                    (200.0 + c * x - s * y).round() as usize,
                    (100.0 + s * x + c * y).round() as usize,
                ));
            }
        }
        let r = min_area_rect(&hull(&pts)).unwrap();
        assert!(
            (r.long - 100.0).abs() < 2.0 && (r.short - 30.0).abs() < 2.0,
            "{r:?}"
        );
        assert!((r.angle - 10.0).abs() < 1.5, "{r:?}");
        assert!((r.centre[0] - 200.0).abs() < 1.0 && (r.centre[1] - 100.0).abs() < 1.0);
    }

    #[test]
    fn blur_rounds_like_opencv() {
        // cv2.GaussianBlur(np.uint8([[0, 0, 0], [0, 255, 0], [0, 0, 0]]), (3, 3), 0)
        let g = blur3(&[0, 0, 0, 0, 255, 0, 0, 0, 0], 3, 3);
        assert_eq!(g, vec![64, 64, 64, 64, 64, 64, 64, 64, 64]);
    }
}
