//! Letterboxing: an I420 [`Frame`] sampled straight into a square model input tensor.
//!
//! The output is planar RGB (`[3, size, size]`, the NCHW layout YOLO models take) with values in
//! `0..=1`. The frame is scaled by one factor to fit, centred, and the margins are filled with
//! grey 114/255, as the Ultralytics training pipeline does. Each output pixel is sampled
//! bilinearly from the Y plane and bilinearly from the (half-resolution) U and V planes, then
//! converted with BT.601 limited-range coefficients — the frame is never converted to RGB at full
//! resolution. Sample positions follow `cv2.resize(INTER_LINEAR)` (pixel centres aligned), so the
//! model sees what it saw in training.
//!
//! Invariants: the frame is never modified; every element of `out` is written on every call (no
//! stale data from a previous frame); [`Letterbox`] maps model-space boxes back to source pixels.
//! Performance contract: one pass over the output, row by row, separable: for each output row
//! the two source rows of each plane are blended vertically (a contiguous pass the compiler
//! vectorises), then sampled at horizontal taps precomputed once per call and converted. Cost
//! follows the output (about 0.23 M content pixels for 16:9 into 640) plus one source width per
//! output row — about 1.4 ms for 1920 × 1080 and 0.9 ms for 640 × 272 on one core of the dev box.
//! Allocations: the tap table and three row buffers, a few KiB per call.

use base::{BBox, Frame};

/// Grey used for the margins, as in training (114 / 255).
pub const PAD_VALUE: f32 = 114.0 / 255.0;

/// How a frame was placed into the model input: `model = source * scale + pad`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Model pixels per source pixel (the smaller of the two axis ratios).
    pub scale: f32,
    /// Left margin in model pixels.
    pub pad_x: f32,
    /// Top margin in model pixels.
    pub pad_y: f32,
}

/// Integer placement of the content inside the `size × size` input.
#[derive(Debug, Clone, Copy)]
struct Placement {
    scale: f32,
    new_w: usize,
    new_h: usize,
    left: usize,
    top: usize,
}

impl Placement {
    fn new(width: u32, height: u32, size: u32) -> Self {
        if width == 0 || height == 0 || size == 0 {
            return Placement {
                scale: 1.0,
                new_w: 0,
                new_h: 0,
                left: 0,
                top: 0,
            };
        }
        let size_f = f64::from(size);
        let scale = (size_f / f64::from(width)).min(size_f / f64::from(height));
        let fit = |len: u32| ((f64::from(len) * scale).round() as usize).clamp(1, size as usize);
        let (new_w, new_h) = (fit(width), fit(height));
        Placement {
            scale: scale as f32,
            new_w,
            new_h,
            left: (size as usize - new_w) / 2,
            top: (size as usize - new_h) / 2,
        }
    }

    fn letterbox(&self) -> Letterbox {
        Letterbox {
            scale: self.scale,
            pad_x: self.left as f32,
            pad_y: self.top as f32,
        }
    }
}

impl Letterbox {
    /// The placement [`letterbox_i420`] uses for a `width × height` frame and a `size` input.
    pub fn fit(width: u32, height: u32, size: u32) -> Self {
        Placement::new(width, height, size).letterbox()
    }

    /// Maps a box from model input pixels to source pixels, clamped to the `frame_w × frame_h`
    /// frame (a box in the margin comes back with zero width or height).
    pub fn to_source(&self, b: BBox, frame_w: u32, frame_h: u32) -> BBox {
        let (w, h) = (frame_w as f32, frame_h as f32);
        let x = |v: f32| ((v - self.pad_x) / self.scale).clamp(0.0, w);
        let y = |v: f32| ((v - self.pad_y) / self.scale).clamp(0.0, h);
        BBox {
            x1: x(b.x1),
            y1: y(b.y1),
            x2: x(b.x2),
            y2: y(b.y2),
        }
    }

    /// Maps a box from source pixels to model input pixels (the inverse of [`Self::to_source`]).
    pub fn to_model(&self, b: BBox) -> BBox {
        BBox {
            x1: b.x1 * self.scale + self.pad_x,
            y1: b.y1 * self.scale + self.pad_y,
            x2: b.x2 * self.scale + self.pad_x,
            y2: b.y2 * self.scale + self.pad_y,
        }
    }
}

/// Why `frame` cannot be sampled (a plane outside its buffer), or `None` when it is well formed.
pub(crate) fn frame_problem(frame: &Frame) -> Option<String> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    if w == 0 || h == 0 {
        return Some(format!("empty frame {w}x{h}"));
    }
    let dims = [
        (w, h),
        (w.div_ceil(2), h.div_ceil(2)),
        (w.div_ceil(2), h.div_ceil(2)),
    ];
    for (i, (plane, (pw, ph))) in frame.planes.iter().zip(dims).enumerate() {
        let end = plane.offset + (ph - 1) * plane.stride + pw;
        if plane.stride < pw || end > frame.data.len() {
            return Some(format!(
                "plane {i} (offset {}, stride {}) needs {end} bytes for {pw}x{ph}, buffer has {}",
                plane.offset,
                plane.stride,
                frame.data.len()
            ));
        }
    }
    None
}

/// One sample position along an axis: the two neighbours and the weight of the second.
#[derive(Debug, Clone, Copy)]
struct Tap {
    i0: u32,
    i1: u32,
    f: f32,
}

impl Tap {
    /// Position of output pixel `o` in a source axis of `src_len` samples, `ratio` source samples
    /// per output pixel, pixel centres aligned (as `cv2.resize` does).
    #[inline]
    fn new(o: usize, ratio: f32, src_len: usize) -> Tap {
        let s = ((o as f32 + 0.5) * ratio - 0.5).clamp(0.0, (src_len - 1) as f32);
        let i0 = s as u32; // s >= 0, so truncation is floor
        Tap {
            i0,
            i1: (i0 + 1).min(src_len as u32 - 1),
            f: s - i0 as f32,
        }
    }
}

#[inline(always)]
fn lerp(a: f32, b: f32, f: f32) -> f32 {
    a + (b - a) * f
}

/// Vertical pass: `out[i] = lerp(r0[i], r1[i], f)` over whole source rows (contiguous, so the
/// compiler vectorises it).
#[inline]
fn blend_rows(r0: &[u8], r1: &[u8], f: f32, out: &mut [f32]) {
    for ((o, &a), &b) in out.iter_mut().zip(r0).zip(r1) {
        *o = lerp(f32::from(a), f32::from(b), f);
    }
}

/// Horizontal pass: the blended row sampled at a tap.
#[inline(always)]
fn sample(row: &[f32], t: Tap) -> f32 {
    lerp(row[t.i0 as usize], row[t.i1 as usize], t.f)
}

// BT.601 limited range, output scaled to 0..=1.
const KY: f32 = 1.164_383 / 255.0;
const KRV: f32 = 1.596_027 / 255.0;
const KGU: f32 = 0.391_762 / 255.0;
const KGV: f32 = 0.812_968 / 255.0;
const KBU: f32 = 2.017_232 / 255.0;

/// Letterboxes `frame` into `out` (`[3, size, size]`, planar RGB in `0..=1`) and returns the
/// placement, for mapping detections back with [`Letterbox::to_source`].
///
/// # Panics
/// If `out.len() != 3 * size * size`, or the frame's planes lie outside its buffer (frames from
/// `Frame::from_i420` and the ingest crate never do).
pub fn letterbox_i420(frame: &Frame, size: u32, out: &mut [f32]) -> Letterbox {
    let size_us = size as usize;
    let area = size_us * size_us;
    assert_eq!(
        out.len(),
        3 * area,
        "letterbox output must be 3 x {size} x {size}"
    );
    let (r_plane, rest) = out.split_at_mut(area);
    let (g_plane, b_plane) = rest.split_at_mut(area);

    let p = Placement::new(frame.width, frame.height, size);
    if p.new_w == 0 {
        for plane in [r_plane, g_plane, b_plane] {
            plane.fill(PAD_VALUE);
        }
        return p.letterbox();
    }

    let (w, h) = (frame.width as usize, frame.height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (ratio_x, ratio_y) = (w as f32 / p.new_w as f32, h as f32 / p.new_h as f32);
    // Chroma sample j sits at luma coordinate 2j + 0.5 (centred 4:2:0 siting), so luma position
    // s is chroma position (s - 0.5) / 2, which is exactly a tap with half the ratio.
    let x_taps: Vec<(Tap, Tap)> = (0..p.new_w)
        .map(|ox| (Tap::new(ox, ratio_x, w), Tap::new(ox, ratio_x * 0.5, cw)))
        .collect();

    // Source rows after the vertical pass; each output row blends two source rows per plane.
    let (mut y_row, mut u_row, mut v_row) = (vec![0.0; w], vec![0.0; cw], vec![0.0; cw]);

    let data = &frame.data[..];
    let [yp, up, vp] = frame.planes;
    let row = |offset: usize, stride: usize, i: u32, len: usize| -> &[u8] {
        &data[offset + i as usize * stride..][..len]
    };

    for oy in 0..size_us {
        let line = oy * size_us..(oy + 1) * size_us;
        let (r_row, g_row, b_row) = (
            &mut r_plane[line.clone()],
            &mut g_plane[line.clone()],
            &mut b_plane[line],
        );
        if oy < p.top || oy >= p.top + p.new_h {
            r_row.fill(PAD_VALUE);
            g_row.fill(PAD_VALUE);
            b_row.fill(PAD_VALUE);
            continue;
        }
        let content = p.left..p.left + p.new_w;
        for row_part in [&mut *r_row, &mut *g_row, &mut *b_row] {
            row_part[..content.start].fill(PAD_VALUE);
            row_part[content.end..].fill(PAD_VALUE);
        }

        let ty = Tap::new(oy - p.top, ratio_y, h);
        let tc = Tap::new(oy - p.top, ratio_y * 0.5, ch);
        let plane_rows = |pl: base::Plane, t: Tap, len| {
            (
                row(pl.offset, pl.stride, t.i0, len),
                row(pl.offset, pl.stride, t.i1, len),
            )
        };
        let (y0, y1) = plane_rows(yp, ty, w);
        blend_rows(y0, y1, ty.f, &mut y_row);
        let (u0, u1) = plane_rows(up, tc, cw);
        blend_rows(u0, u1, tc.f, &mut u_row);
        let (v0, v1) = plane_rows(vp, tc, cw);
        blend_rows(v0, v1, tc.f, &mut v_row);

        let r_out = &mut r_row[content.clone()];
        let g_out = &mut g_row[content.clone()];
        let b_out = &mut b_row[content];
        let outs = r_out.iter_mut().zip(g_out.iter_mut()).zip(b_out.iter_mut());
        for (&(tx, tcx), ((r, g), b)) in x_taps.iter().zip(outs) {
            let c = sample(&y_row, tx) - 16.0;
            let d = sample(&u_row, tcx) - 128.0;
            let e = sample(&v_row, tcx) - 128.0;
            let luma = KY * c;
            *r = (luma + KRV * e).clamp(0.0, 1.0);
            *g = (luma - KGU * d - KGV * e).clamp(0.0, 1.0);
            *b = (luma + KBU * d).clamp(0.0, 1.0);
        }
    }
    p.letterbox()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tightly packed I420 frame; `y(x, y)` gives luma, `uv(cx, cy)` chroma per chroma sample.
    fn frame(
        w: u32,
        h: u32,
        y: impl Fn(usize, usize) -> u8,
        uv: impl Fn(usize, usize) -> (u8, u8),
    ) -> Frame {
        let (wu, hu) = (w as usize, h as usize);
        let (cw, ch) = (wu.div_ceil(2), hu.div_ceil(2));
        let mut data = Vec::with_capacity(wu * hu + 2 * cw * ch);
        data.extend(
            (0..hu)
                .flat_map(|r| (0..wu).map(move |c| (r, c)))
                .map(|(r, c)| y(c, r)),
        );
        let chroma: Vec<(u8, u8)> = (0..ch)
            .flat_map(|r| (0..cw).map(move |c| (r, c)))
            .map(|(r, c)| uv(c, r))
            .collect();
        data.extend(chroma.iter().map(|p| p.0));
        data.extend(chroma.iter().map(|p| p.1));
        Frame::from_i420("test", 0, w, h, data)
    }

    fn solid(w: u32, h: u32, y: u8, u: u8, v: u8) -> Frame {
        frame(w, h, |_, _| y, |_, _| (u, v))
    }

    fn rgb_at(out: &[f32], size: usize, x: usize, y: usize) -> [f32; 3] {
        let i = y * size + x;
        [out[i], out[size * size + i], out[2 * size * size + i]]
    }

    fn close(a: [f32; 3], b: [f32; 3], tol: f32) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn known_colours_convert_with_bt601_limited_range() {
        let size = 32;
        let mut out = vec![0.0; 3 * size * size];
        // Y=81, U=90, V=240 is studio-swing pure red.
        letterbox_i420(&solid(32, 32, 81, 90, 240), size as u32, &mut out);
        let red = rgb_at(&out, size, 10, 10);
        assert!(close(red, [1.0, 0.0, 0.0], 0.01), "{red:?}");
        // Mid grey and the studio-swing black and white points.
        letterbox_i420(&solid(32, 32, 126, 128, 128), size as u32, &mut out);
        let grey = rgb_at(&out, size, 3, 30);
        assert!(close(grey, [0.502; 3], 0.005), "{grey:?}");
        letterbox_i420(&solid(32, 32, 16, 128, 128), size as u32, &mut out);
        assert!(close(rgb_at(&out, size, 0, 0), [0.0; 3], 1e-6));
        letterbox_i420(&solid(32, 32, 235, 128, 128), size as u32, &mut out);
        assert!(close(rgb_at(&out, size, 31, 31), [1.0; 3], 1e-3));
        // Blue: Y=41, U=240, V=110.
        letterbox_i420(&solid(32, 32, 41, 240, 110), size as u32, &mut out);
        let blue = rgb_at(&out, size, 16, 16);
        assert!(close(blue, [0.0, 0.0, 1.0], 0.01), "{blue:?}");
    }

    #[test]
    fn wide_frame_is_centred_with_grey_bars() {
        let size = 640;
        let mut out = vec![f32::NAN; 3 * size * size];
        let lb = letterbox_i420(&solid(640, 272, 81, 90, 240), size as u32, &mut out);
        assert_eq!(
            lb,
            Letterbox {
                scale: 1.0,
                pad_x: 0.0,
                pad_y: 184.0
            }
        );
        assert!(
            out.iter().all(|v| v.is_finite()),
            "every element is written"
        );
        for y in [0, 100, 183, 456, 639] {
            assert_eq!(rgb_at(&out, size, 320, y), [PAD_VALUE; 3], "row {y}");
        }
        for y in [184, 300, 455] {
            assert!(
                close(rgb_at(&out, size, 0, y), [1.0, 0.0, 0.0], 0.01),
                "row {y}"
            );
        }
    }

    #[test]
    fn tall_odd_frame_gets_side_bars() {
        let size = 64;
        let mut out = vec![f32::NAN; 3 * size * size];
        // 33x101 → scale 64/101, content 21x64, left margin (64 - 21) / 2 = 21.
        let lb = letterbox_i420(&solid(33, 101, 235, 128, 128), size as u32, &mut out);
        assert_eq!((lb.pad_x, lb.pad_y), (21.0, 0.0));
        assert!((lb.scale - 64.0 / 101.0).abs() < 1e-6);
        assert_eq!(rgb_at(&out, size, 20, 10), [PAD_VALUE; 3]);
        assert_eq!(rgb_at(&out, size, 42, 10), [PAD_VALUE; 3]);
        assert!(close(rgb_at(&out, size, 21, 10), [1.0; 3], 1e-3));
        assert!(close(rgb_at(&out, size, 41, 63), [1.0; 3], 1e-3));
    }

    #[test]
    fn sampling_is_identity_at_scale_one_and_averages_when_halving() {
        // Luma ramp 16 + 2x; at scale 1 every output pixel is its source pixel.
        let ramp = frame(64, 64, |x, _| 16 + 2 * x as u8, |_, _| (128, 128));
        let mut out = vec![0.0; 3 * 64 * 64];
        letterbox_i420(&ramp, 64, &mut out);
        for x in [0, 1, 17, 63] {
            let want = (2 * x) as f32 * KY;
            assert!((out[5 * 64 + x] - want).abs() < 1e-5, "x={x}");
        }
        // Halving: output pixel x sits between source pixels 2x and 2x+1 (cv2 INTER_LINEAR).
        let mut half = vec![0.0; 3 * 32 * 32];
        letterbox_i420(&ramp, 32, &mut half);
        for x in [0, 5, 31] {
            let want = (4 * x + 1) as f32 * KY;
            assert!((half[7 * 32 + x] - want).abs() < 1e-5, "x={x}");
        }
    }

    #[test]
    fn chroma_is_sampled_per_output_pixel() {
        // Left half red, right half blue, in both luma and chroma.
        let f = frame(
            64,
            16,
            |x, _| if x < 32 { 81 } else { 41 },
            |cx, _| if cx < 16 { (90, 240) } else { (240, 110) },
        );
        let mut out = vec![0.0; 3 * 64 * 64];
        letterbox_i420(&f, 64, &mut out);
        assert!(close(rgb_at(&out, 64, 2, 30), [1.0, 0.0, 0.0], 0.01));
        assert!(close(rgb_at(&out, 64, 61, 30), [0.0, 0.0, 1.0], 0.01));
    }

    #[test]
    fn strided_planes_are_honoured() {
        // Same picture as a packed frame but with 8 bytes of row padding on every plane.
        let packed = solid(16, 8, 81, 90, 240);
        let (ys, cs) = (24, 16);
        let mut data = vec![0u8; ys * 8 + 2 * cs * 4];
        for r in 0..8 {
            data[r * ys..r * ys + 16].fill(81);
        }
        for r in 0..4 {
            data[ys * 8 + r * cs..][..8].fill(90);
            data[ys * 8 + cs * 4 + r * cs..][..8].fill(240);
        }
        let strided = Frame {
            planes: [
                base::Plane {
                    offset: 0,
                    stride: ys,
                },
                base::Plane {
                    offset: ys * 8,
                    stride: cs,
                },
                base::Plane {
                    offset: ys * 8 + cs * 4,
                    stride: cs,
                },
            ],
            data: data.into(),
            ..packed.clone()
        };
        assert_eq!(frame_problem(&strided), None);
        let (mut a, mut b) = (vec![0.0; 3 * 16 * 16], vec![0.0; 3 * 16 * 16]);
        letterbox_i420(&packed, 16, &mut a);
        letterbox_i420(&strided, 16, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn malformed_frames_are_reported() {
        let mut f = solid(16, 8, 81, 90, 240);
        assert_eq!(frame_problem(&f), None);
        f.planes[2].offset += 1;
        let problem = frame_problem(&f).expect("V plane overruns the buffer");
        assert!(problem.contains("plane 2"), "{problem}");
        f.width = 0;
        assert!(frame_problem(&f).is_some());
    }

    #[test]
    fn boxes_round_trip_and_clamp() {
        let lb = Letterbox::fit(1920, 1080, 640);
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 140.0));
        let src = BBox {
            x1: 100.0,
            y1: 200.0,
            x2: 700.0,
            y2: 1000.0,
        };
        let model = lb.to_model(src);
        assert!((model.y1 - (200.0 / 3.0 + 140.0)).abs() < 1e-3);
        let back = lb.to_source(model, 1920, 1080);
        for (a, b) in [
            (back.x1, src.x1),
            (back.y1, src.y1),
            (back.x2, src.x2),
            (back.y2, src.y2),
        ] {
            assert!((a - b).abs() < 1e-2, "{back:?} vs {src:?}");
        }
        // A box reaching into the bottom margin is clamped to the frame.
        let clamped = lb.to_source(
            BBox {
                x1: -5.0,
                y1: 400.0,
                x2: 645.0,
                y2: 600.0,
            },
            1920,
            1080,
        );
        assert_eq!((clamped.x1, clamped.x2, clamped.y2), (0.0, 1920.0, 1080.0));
        assert!((clamped.y1 - 780.0).abs() < 1e-3);
    }
}
