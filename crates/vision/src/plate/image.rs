//! Pixels for plate reading: a small interleaved RGB [`Image`], decoding of still images (PNG,
//! JPEG, pure Rust), and the two [`PixelSource`]s the rectifier samples from — an [`Image`] or
//! an I420 [`Frame`] read in place.
//!
//! Invariants: an [`Image`] is never empty and `data.len() == 3 * width * height`. Conversions
//! from a frame touch only the requested rectangle (the vehicle crop) or the sampled positions
//! (a plate warp): the frame is never converted to RGB as a whole. Colour maths follow OpenCV
//! where the Python reference (`clp.py`) used it: BT.601 luma with 14-bit coefficients for grey,
//! bilinear sampling with replicated borders. Performance contract: `from_i420` costs about one
//! multiply-add per output byte; `sample` is a handful of loads and multiplies.

use base::Frame;

use crate::crop::PixelRect;

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    /// `R, G, B` per pixel, rows top to bottom.
    pub data: Vec<u8>,
}

impl Image {
    /// A black `width × height` image (at least 1 × 1).
    pub fn new(width: usize, height: usize) -> Image {
        let (width, height) = (width.max(1), height.max(1));
        Image {
            width,
            height,
            data: vec![0; 3 * width * height],
        }
    }

    /// Wraps interleaved RGB bytes; `None` when the size does not match or is empty.
    pub fn from_rgb(width: usize, height: usize, data: Vec<u8>) -> Option<Image> {
        (width > 0 && height > 0 && data.len() == 3 * width * height).then_some(Image {
            width,
            height,
            data,
        })
    }

    /// Decodes a PNG or JPEG file held in memory (8 or 16 bits, grey, grey+alpha, RGB or RGBA;
    /// alpha is dropped, 16-bit samples keep their high byte).
    pub fn decode(bytes: &[u8]) -> Result<Image, String> {
        use zune_core::bytestream::ZCursor;
        use zune_core::colorspace::ColorSpace;
        use zune_core::options::DecoderOptions;

        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            let options = DecoderOptions::default().png_set_strip_to_8bit(true);
            let mut dec = zune_png::PngDecoder::new_with_options(ZCursor::new(bytes), options);
            let pixels = dec.decode().map_err(|e| format!("PNG: {e:?}"))?;
            let (w, h) = dec.dimensions().ok_or("PNG: no header")?;
            let space = dec.colorspace().ok_or("PNG: no colour space")?;
            let pixels = match pixels {
                zune_core::result::DecodingResult::U8(p) => p,
                _ => return Err("PNG: samples wider than 8 bits after stripping".into()),
            };
            let channels = match space {
                ColorSpace::Luma => 1,
                ColorSpace::LumaA => 2,
                ColorSpace::RGB => 3,
                ColorSpace::RGBA => 4,
                other => return Err(format!("PNG: unsupported colour space {other:?}")),
            };
            to_rgb(w, h, &pixels, channels)
        } else if bytes.starts_with(&[0xff, 0xd8]) {
            let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
            let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
            let pixels = dec.decode().map_err(|e| format!("JPEG: {e:?}"))?;
            let (w, h) = dec.dimensions().ok_or("JPEG: no header")?;
            let channels = pixels.len() / (w * h).max(1);
            to_rgb(w, h, &pixels, channels)
        } else {
            Err("not a PNG or JPEG file".into())
        }
    }

    /// The pixel at `(x, y)`; panics outside the image.
    #[inline]
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = 3 * (y * self.width + x);
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// A copy of the pixels in `rect` (which must lie inside the image).
    pub fn crop(&self, rect: PixelRect) -> Image {
        let (w, h) = (rect.x1 - rect.x0, rect.y1 - rect.y0);
        let mut data = Vec::with_capacity(3 * w * h);
        for y in rect.y0..rect.y1 {
            let row = 3 * (y * self.width + rect.x0);
            data.extend_from_slice(&self.data[row..row + 3 * w]);
        }
        Image {
            width: w,
            height: h,
            data,
        }
    }

    /// The pixels of `rect` of an I420 frame converted to RGB (BT.601 limited range, chroma
    /// taken from the sample covering each pixel). Only `rect` is converted.
    pub fn from_i420(frame: &Frame, rect: PixelRect) -> Image {
        let (w, h) = (rect.x1 - rect.x0, rect.y1 - rect.y0);
        let [yp, up, vp] = frame.planes;
        let d = &frame.data;
        let mut data = Vec::with_capacity(3 * w * h);
        for y in rect.y0..rect.y1 {
            let yrow = yp.offset + y * yp.stride;
            let (urow, vrow) = (
                up.offset + (y / 2) * up.stride,
                vp.offset + (y / 2) * vp.stride,
            );
            for x in rect.x0..rect.x1 {
                data.extend_from_slice(&crate::crop::yuv_to_rgb(
                    f32::from(d[yrow + x]),
                    f32::from(d[urow + x / 2]),
                    f32::from(d[vrow + x / 2]),
                ));
            }
        }
        Image {
            width: w,
            height: h,
            data,
        }
    }

    /// Grey levels as OpenCV's `COLOR_BGR2GRAY` computes them (14-bit fixed point).
    pub fn grey(&self) -> Vec<u8> {
        self.data
            .chunks_exact(3)
            .map(|p| {
                let v = u32::from(p[0]) * 4899 + u32::from(p[1]) * 9617 + u32::from(p[2]) * 1868;
                ((v + (1 << 13)) >> 14) as u8
            })
            .collect()
    }
}

fn to_rgb(w: usize, h: usize, pixels: &[u8], channels: usize) -> Result<Image, String> {
    if w == 0 || h == 0 || pixels.len() < w * h * channels {
        return Err(format!("{w}x{h} image with {} bytes", pixels.len()));
    }
    let data = match channels {
        1 | 2 => pixels
            .chunks_exact(channels)
            .take(w * h)
            .flat_map(|p| [p[0]; 3])
            .collect(),
        3 | 4 => pixels
            .chunks_exact(channels)
            .take(w * h)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        n => return Err(format!("{n} channels")),
    };
    Ok(Image {
        width: w,
        height: h,
        data,
    })
}

/// Clamps to 0..=255 and rounds half up.
#[inline]
pub(crate) fn round_u8(x: f32) -> u8 {
    (x.clamp(0.0, 255.0) + 0.5) as u8
}

/// Something a perspective warp can read RGB from at sub-pixel positions.
pub trait PixelSource {
    /// Width and height in pixels.
    fn size(&self) -> (usize, usize);
    /// Bilinear RGB at `(x, y)` (pixel centres at integers), borders replicated.
    fn sample(&self, x: f32, y: f32) -> [f32; 3];
}

/// Integer corners and weights of a bilinear tap along one axis of `len` samples, the border
/// replicated.
#[inline]
fn tap(v: f32, len: usize) -> (usize, usize, f32) {
    let f = v.floor();
    let w = v - f;
    let last = len as isize - 1;
    let i0 = (f as isize).clamp(0, last) as usize;
    let i1 = (f as isize + 1).clamp(0, last) as usize;
    (i0, i1, w)
}

impl PixelSource for Image {
    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    #[inline]
    fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let (x0, x1, fx) = tap(x, self.width);
        let (y0, y1, fy) = tap(y, self.height);
        let (a, b) = (self.pixel(x0, y0), self.pixel(x1, y0));
        let (c, d) = (self.pixel(x0, y1), self.pixel(x1, y1));
        std::array::from_fn(|i| {
            let top = f32::from(a[i]) + (f32::from(b[i]) - f32::from(a[i])) * fx;
            let bot = f32::from(c[i]) + (f32::from(d[i]) - f32::from(c[i])) * fx;
            top + (bot - top) * fy
        })
    }
}

/// An I420 frame sampled in place: luma bilinear at `(x, y)`, chroma bilinear at the matching
/// half-resolution position, converted to RGB per sample.
#[derive(Debug, Clone, Copy)]
pub struct I420Source<'a>(pub &'a Frame);

impl I420Source<'_> {
    #[inline]
    fn plane(&self, i: usize, x: f32, y: f32, w: usize, h: usize) -> f32 {
        let p = self.0.planes[i];
        let (x0, x1, fx) = tap(x, w);
        let (y0, y1, fy) = tap(y, h);
        let at = |xx: usize, yy: usize| f32::from(self.0.data[p.offset + yy * p.stride + xx]);
        let top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * fx;
        let bot = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * fx;
        top + (bot - top) * fy
    }
}

impl PixelSource for I420Source<'_> {
    fn size(&self) -> (usize, usize) {
        (self.0.width as usize, self.0.height as usize)
    }

    #[inline]
    fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let (w, h) = self.size();
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (cx, cy) = ((x + 0.5) / 2.0 - 0.5, (y + 0.5) / 2.0 - 0.5);
        crate::crop::yuv_to_rgb_f32(
            self.plane(0, x, y, w, h),
            self.plane(1, cx, cy, cw, ch),
            self.plane(2, cx, cy, cw, ch),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An I420 frame whose RGB conversion is (about) `rgb(x, y)`, for tests.
    pub(crate) fn i420_of(img: &Image) -> Frame {
        let (w, h) = (img.width, img.height);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut data = vec![0u8; w * h + 2 * cw * ch];
        let yuv = |p: [u8; 3]| {
            let [r, g, b] = p.map(f32::from);
            let y = 16.0 + 0.256_788 * r + 0.504_129 * g + 0.097_906 * b;
            let u = 128.0 - 0.148_223 * r - 0.290_993 * g + 0.439_216 * b;
            let v = 128.0 + 0.439_216 * r - 0.367_788 * g - 0.071_427 * b;
            [y, u, v]
        };
        for y in 0..h {
            for x in 0..w {
                data[y * w + x] = round_u8(yuv(img.pixel(x, y))[0]);
            }
        }
        for y in 0..ch {
            for x in 0..cw {
                let [_, u, v] = yuv(img.pixel((2 * x).min(w - 1), (2 * y).min(h - 1)));
                data[w * h + y * cw + x] = round_u8(u);
                data[w * h + cw * ch + y * cw + x] = round_u8(v);
            }
        }
        Frame::from_i420("test", 0, w as u32, h as u32, data)
    }

    fn gradient(w: usize, h: usize) -> Image {
        let mut img = Image::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let i = 3 * (y * w + x);
                img.data[i] = (x * 8) as u8;
                img.data[i + 1] = (y * 8) as u8;
                img.data[i + 2] = 100;
            }
        }
        img
    }

    #[test]
    fn crop_and_sample_agree_with_pixels() {
        let img = gradient(20, 10);
        let rect = PixelRect {
            x0: 3,
            y0: 2,
            x1: 9,
            y1: 7,
        };
        let c = img.crop(rect);
        assert_eq!((c.width, c.height), (6, 5));
        assert_eq!(c.pixel(0, 0), img.pixel(3, 2));
        assert_eq!(c.pixel(5, 4), img.pixel(8, 6));
        // Bilinear halfway between pixels, replicated borders outside.
        assert_eq!(img.sample(2.5, 3.0), [20.0, 24.0, 100.0]);
        assert_eq!(img.sample(-5.0, -5.0), [0.0, 0.0, 100.0]);
        assert_eq!(img.sample(100.0, 100.0), [152.0, 72.0, 100.0]);
    }

    #[test]
    fn i420_crop_and_source_reproduce_rgb() {
        // A blocky image (2×2 blocks) survives 4:2:0 subsampling exactly up to rounding.
        let mut img = Image::new(16, 8);
        for y in 0..8 {
            for x in 0..16 {
                let i = 3 * (y * 16 + x);
                let (bx, by) = (x / 2, y / 2);
                img.data[i..i + 3].copy_from_slice(&[
                    (bx * 30) as u8,
                    (by * 60) as u8,
                    (200 - bx * 20) as u8,
                ]);
            }
        }
        let frame = i420_of(&img);
        let rect = PixelRect {
            x0: 2,
            y0: 2,
            x1: 12,
            y1: 8,
        };
        let c = Image::from_i420(&frame, rect);
        let want = img.crop(rect);
        for (a, b) in c.data.iter().zip(&want.data) {
            assert!(a.abs_diff(*b) <= 3, "{a} vs {b}");
        }
        let s = I420Source(&frame).sample(4.5, 2.5);
        let p = img.pixel(4, 2);
        for i in 0..3 {
            assert!((s[i] - f32::from(p[i])).abs() <= 4.0, "{s:?} vs {p:?}");
        }
    }

    #[test]
    fn grey_matches_opencv_coefficients() {
        let img = Image::from_rgb(3, 1, vec![255, 0, 0, 0, 255, 0, 10, 200, 30]).unwrap();
        // cv2.cvtColor(BGR2GRAY) of the same pixels: 76, 150, 124.
        assert_eq!(img.grey(), vec![76, 150, 124]);
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(Image::decode(b"GIF89a")
            .unwrap_err()
            .contains("PNG or JPEG"));
        assert!(Image::from_rgb(2, 2, vec![0; 11]).is_none());
    }
}
