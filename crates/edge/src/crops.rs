//! Best-shot crops: the vehicle's box (plus a margin) cut from the I420 frame the tracker
//! chose, scaled down to at most `MAX_SIDE` pixels, and encoded as JPEG straight from the
//! Y/U/V planes (JPEG is YCbCr itself: no RGB conversion anywhere).
//!
//! The analysis thread keeps the chosen frame per open track (an `Arc` of its pixels, not a
//! copy) and encodes once, when the track ends; the recorder stores the JPEG in the crop store
//! and puts its reference in the sighting.
//!
//! Cost: one pass over the crop's output pixels (≤ 384×384) plus the encoder, ~1–3 ms per
//! vehicle, never per frame.

use base::{BBox, Frame};

/// Longest side of a stored crop, in pixels.
pub const MAX_SIDE: u32 = 384;
/// Margin around the box, as a share of its size on each side.
const MARGIN: f32 = 0.08;
const QUALITY: u8 = 85;

/// The JPEG of `bbox` in `frame` (source pixels), or `None` for an empty box.
pub fn encode(frame: &Frame, bbox: &BBox) -> Option<Vec<u8>> {
    let (fw, fh) = (frame.width as f32, frame.height as f32);
    let (mx, my) = (bbox.width() * MARGIN, bbox.height() * MARGIN);
    let x1 = (bbox.x1 - mx).clamp(0.0, fw);
    let y1 = (bbox.y1 - my).clamp(0.0, fh);
    let x2 = (bbox.x2 + mx).clamp(0.0, fw);
    let y2 = (bbox.y2 + my).clamp(0.0, fh);
    let (cw, ch) = (x2 - x1, y2 - y1);
    if cw < 2.0 || ch < 2.0 {
        return None;
    }
    let scale = (MAX_SIDE as f32 / cw.max(ch)).min(1.0);
    let (ow, oh) = (
        ((cw * scale).round() as u32).max(1),
        ((ch * scale).round() as u32).max(1),
    );
    // Nearest sample per output pixel, interleaved Y Cb Cr.
    let mut ycc = Vec::with_capacity((ow * oh * 3) as usize);
    let max_x = frame.width as usize - 1;
    let max_y = frame.height as usize - 1;
    for oy in 0..oh {
        let sy = ((y1 + (oy as f32 + 0.5) * ch / oh as f32) as usize).min(max_y);
        for ox in 0..ow {
            let sx = ((x1 + (ox as f32 + 0.5) * cw / ow as f32) as usize).min(max_x);
            let (u, v) = frame.uv_at(sx, sy);
            ycc.extend_from_slice(&[frame.y_at(sx, sy), u, v]);
        }
    }
    let mut out = Vec::with_capacity(ycc.len() / 8);
    jpeg_encoder::Encoder::new(&mut out, QUALITY)
        .encode(&ycc, ow as u16, oh as u16, jpeg_encoder::ColorType::Ycbcr)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey_frame(w: u32, h: u32) -> Frame {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut data = vec![200u8; (w * h) as usize];
        data.extend(std::iter::repeat_n(128u8, (2 * cw * ch) as usize));
        Frame::from_i420("cam", 1, w, h, data)
    }

    /// Width and height from the JPEG's SOF0 segment.
    fn jpeg_size(j: &[u8]) -> (u16, u16) {
        let at = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let h = u16::from_be_bytes([j[at + 5], j[at + 6]]);
        let w = u16::from_be_bytes([j[at + 7], j[at + 8]]);
        (w, h)
    }

    #[test]
    fn crops_are_jpeg_with_margin_and_bounded_size() {
        let frame = grey_frame(1920, 1080);
        let small = BBox {
            x1: 100.0,
            y1: 100.0,
            x2: 200.0,
            y2: 150.0,
        };
        let j = encode(&frame, &small).unwrap();
        assert_eq!(&j[..2], &[0xFF, 0xD8], "JPEG start");
        assert_eq!(&j[j.len() - 2..], &[0xFF, 0xD9], "JPEG end");
        assert_eq!(jpeg_size(&j), (116, 58), "box plus 8% margin each side");
        let big = BBox {
            x1: 0.0,
            y1: 0.0,
            x2: 1900.0,
            y2: 1000.0,
        };
        let (w, h) = jpeg_size(&encode(&frame, &big).unwrap());
        assert!(w as u32 <= MAX_SIDE && h as u32 <= MAX_SIDE, "{w}x{h}");
        let outside = BBox {
            x1: 3000.0,
            y1: 0.0,
            x2: 3100.0,
            y2: 50.0,
        };
        assert!(encode(&frame, &outside).is_none());
    }
}
