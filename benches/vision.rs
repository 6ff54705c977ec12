//! Per-frame CPU work around the model, on canned inputs (no model needed):
//! letterboxing a decoded I420 frame into the 640×640 tensor, and decoding + NMS of the real
//! YOLO output recorded on frame 110 of bikes.mp4. `cargo bench -p xueliang-vision`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use xueliang_vision as vision;

fn i420(width: u32, height: u32) -> base::Frame {
    let (w, h) = (width as usize, height as usize);
    let n = w * h + 2 * w.div_ceil(2) * h.div_ceil(2);
    let data = (0..n).map(|i| (i * 31 % 251) as u8).collect();
    base::Frame::from_i420("bench", 0, width, height, data)
}

fn recorded_output() -> Vec<f32> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/bikes_frame110_output0_sparse.f32"
    );
    let raw = std::fs::read(path).expect("recorded tensor");
    let v: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let cols = v.len() / 85;
    let mut full = vec![0f32; 84 * 8400];
    for c in 0..cols {
        let anchor = v[c] as usize;
        for row in 0..84 {
            full[row * 8400 + anchor] = v[(row + 1) * cols + c];
        }
    }
    full
}

fn bench(c: &mut Criterion) {
    let mut out = vec![0f32; 3 * 640 * 640];
    for (w, h) in [(640, 272), (1920, 1080)] {
        let frame = i420(w, h);
        c.bench_function(&format!("letterbox_i420 {w}x{h} -> 640"), |b| {
            b.iter(|| vision::letterbox_i420(black_box(&frame), 640, &mut out))
        });
    }
    let output = recorded_output();
    let lb = vision::Letterbox::fit(640, 272, 640);
    c.bench_function("yolo decode + nms + vehicles (8400 anchors)", |b| {
        b.iter(|| {
            let cands = vision::yolo::decode(black_box(&output), 80, 8400, 0.35);
            let kept = vision::yolo::nms(cands, 0.45);
            vision::yolo::vehicles(&kept, &lb, 640, 272)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
