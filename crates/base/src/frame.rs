//! Decoded frames and per-frame detections.
//!
//! A [`Frame`] is kept exactly as the decoder produced it: planar I420 (YUV 4:2:0), never
//! converted to RGB at full resolution. Consumers sample it at model size (see
//! `vision::letterbox`), which costs a fraction of a full-frame colour conversion.

use std::sync::Arc;

use crate::VehicleClass;

/// One plane of a planar image: where it starts in [`Frame::data`] and its row stride in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plane {
    pub offset: usize,
    pub stride: usize,
}

/// A decoded I420 frame from one camera.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Camera id as configured (not the URL).
    pub camera: Arc<str>,
    /// Frame counter for this camera since the node started (counts every decoded frame).
    pub seq: u64,
    /// Wall-clock time the frame was decoded on this node, Unix ms.
    pub captured_ms: i64,
    pub width: u32,
    pub height: u32,
    /// Y, U, V planes inside `data`.
    pub planes: [Plane; 3],
    pub data: Arc<[u8]>,
}

impl Frame {
    /// Builds a tightly packed I420 frame from its three planes (used by tests and tools).
    pub fn from_i420(camera: &str, seq: u64, width: u32, height: u32, data: Vec<u8>) -> Self {
        let (w, h) = (width as usize, height as usize);
        let cw = w.div_ceil(2);
        let ch = h.div_ceil(2);
        assert_eq!(data.len(), w * h + 2 * cw * ch, "I420 buffer size");
        Frame {
            camera: camera.into(),
            seq,
            captured_ms: crate::now_ms(),
            width,
            height,
            planes: [
                Plane {
                    offset: 0,
                    stride: w,
                },
                Plane {
                    offset: w * h,
                    stride: cw,
                },
                Plane {
                    offset: w * h + cw * ch,
                    stride: cw,
                },
            ],
            data: data.into(),
        }
    }

    /// Luma at (x, y); coordinates must lie inside the frame.
    #[inline]
    pub fn y_at(&self, x: usize, y: usize) -> u8 {
        let p = self.planes[0];
        self.data[p.offset + y * p.stride + x]
    }

    /// Chroma (U, V) at full-resolution coordinates (x, y).
    #[inline]
    pub fn uv_at(&self, x: usize, y: usize) -> (u8, u8) {
        let (u, v) = (self.planes[1], self.planes[2]);
        let (cx, cy) = (x / 2, y / 2);
        (
            self.data[u.offset + cy * u.stride + cx],
            self.data[v.offset + cy * v.stride + cx],
        )
    }
}

/// Axis-aligned box in source-frame pixels, `x1 < x2`, `y1 < y2`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    /// Intersection over union; 0 for disjoint or empty boxes.
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// One object the detector found in one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: BBox,
    pub class: VehicleClass,
    pub score: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        let a = BBox {
            x1: 0.0,
            y1: 0.0,
            x2: 10.0,
            y2: 10.0,
        };
        let b = BBox {
            x1: 5.0,
            y1: 0.0,
            x2: 15.0,
            y2: 10.0,
        };
        let c = BBox {
            x1: 20.0,
            y1: 20.0,
            x2: 30.0,
            y2: 30.0,
        };
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&c), 0.0);
    }

    #[test]
    fn i420_accessors_follow_planes() {
        let (w, h) = (4u32, 2u32);
        let mut data = vec![0u8; 8 + 2 + 2];
        data[5] = 77; // y at (1, 1)
        data[9] = 10; // u of the second chroma column
        data[11] = 20; // v of the second chroma column
        let f = Frame::from_i420("c", 0, w, h, data);
        assert_eq!(f.y_at(1, 1), 77);
        assert_eq!(f.uv_at(3, 1), (10, 20));
    }
}
