//! Per-frame CPU work around the model, on canned inputs (no model needed):
//! letterboxing a decoded I420 frame into the 640×640 tensor, and decoding + NMS of the real
//! YOLO output recorded on frame 110 of bikes.mp4. Per crop, on a real crop of the grey van
//! (testdata/attr_van_f120.i420): the body colour, the 224×224 classifier crop, and — when the
//! setup command has installed ONNX Runtime and the classifier — the whole classification (crop,
//! EfficientNet-Lite0 on one thread, softmax, embedding). Plates, on the committed test images
//! (testdata/plates/): the template Viterbi, the covered-plate fallback, and — when the plate
//! models are installed — the plate detector per vehicle crop and recognition per plate (single
//! and double row). `cargo bench -p xueliang-vision`.

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
    let path = format!(
        "{}/testdata/bikes_frame110_output0_sparse.f32",
        std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")
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

/// The stored van crop (156×128 I420) and its detector box.
fn van_crop() -> (base::Frame, base::BBox) {
    let path = format!(
        "{}/testdata/attr_van_f120.i420",
        std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")
    );
    let data = std::fs::read(path).expect("stored crop");
    let frame = base::Frame::from_i420("bench", 0, 156, 128, data);
    let bbox = base::BBox {
        x1: 0.65,
        y1: 1.2,
        x2: 154.6,
        y2: 128.0,
    };
    (frame, bbox)
}

fn attributes(c: &mut Criterion) {
    let (van, bbox) = van_crop();
    c.bench_function("body_colour per crop (van 154x127)", |b| {
        b.iter(|| vision::body_colour(black_box(&van), black_box(&bbox), 1.5))
    });
    let hd = i420(1920, 1080);
    c.bench_function("frame_gain 1920x1080", |b| {
        b.iter(|| vision::frame_gain(black_box(&hd)))
    });
    let mut input = vec![0u8; 3 * 224 * 224];
    c.bench_function("crop_i420_rgb van 154x127 -> 224", |b| {
        b.iter(|| vision::crop_i420_rgb(black_box(&van), &bbox, 224, &mut input))
    });
    let big = base::BBox {
        x1: 300.0,
        y1: 200.0,
        x2: 1500.0,
        y2: 1000.0,
    };
    c.bench_function("crop_i420_rgb 1200x800 box of 1920x1080 -> 224", |b| {
        b.iter(|| vision::crop_i420_rgb(black_box(&hd), &big, 224, &mut input))
    });
    let feature: Vec<f32> = (0..1280).map(|i| ((i * 37) % 101) as f32 / 17.0).collect();
    c.bench_function("embed 1280 -> 256 int8", |b| {
        b.iter(|| vision::embed(black_box(&feature)))
    });

    let (lib, model) = (
        vision::default_lib_path(),
        vision::default_classifier_path(),
    );
    if !(lib.is_file() && model.is_file()) {
        eprintln!("skipping the classifier bench: run deploy/setup.sh");
        return;
    }
    let mut classifier = vision::VehicleClassifier::open(&model, 1).expect("classifier loads");
    c.bench_function("classify per crop (1 thread, batch 1)", |b| {
        b.iter(|| classifier.classify(black_box(&van), &bbox).unwrap())
    });
    let batch: Vec<(&base::Frame, base::BBox)> = (0..4).map(|_| (&van, bbox)).collect();
    c.bench_function("classify_batch of 4 crops (1 thread)", |b| {
        b.iter(|| classifier.classify_batch(black_box(&batch)).unwrap())
    });
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

fn plate_image(name: &str) -> vision::plate::Image {
    let path = format!(
        "{}/testdata/plates/{name}",
        std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")
    );
    vision::plate::Image::decode(&std::fs::read(path).expect("test image")).expect("decodes")
}

fn plates(c: &mut Criterion) {
    use vision::plate::{self, decode, Charset, Probs, Templates};
    // A charset of the plate characters and a 40-frame line spelling 京A12345 (what PP-OCRv4
    // emits for a 192×56 plate; the Viterbi cost depends on the allowed sets, not on the 6625
    // classes).
    let chars: String = format!(
        "{}{}{}警学挂港澳使领",
        plate::decode::PROVINCES,
        decode::LETTERS,
        decode::DIGITS
    );
    let lines: Vec<String> = chars.chars().map(String::from).collect();
    let charset = Charset::from_metadata(&lines.join("\n")).unwrap();
    let templates = Templates::new(&charset);
    let spelled = "__京京_AA__·_11_2_33_4__55____"
        .chars()
        .chain(std::iter::repeat_n('_', 40));
    let mut data = Vec::new();
    for ch in spelled.take(40) {
        let mut row = vec![0.02 / charset.len() as f32; charset.len()];
        row[if ch == '_' || ch == '·' {
            0
        } else {
            charset.class(ch).unwrap()
        }] = 0.98;
        data.extend(row);
    }
    let probs = Probs {
        frames: 40,
        classes: charset.len(),
        data,
    };
    c.bench_function(
        "plate template Viterbi (T=40, 6 single-row templates)",
        |b| b.iter(|| decode::constrained(black_box(&probs), &charset, &templates.single)),
    );
    let covered = plate_image("plate_0004.jpg");
    c.bench_function("plate fallback find_plate_region 385x231", |b| {
        b.iter(|| plate::fallback::find_plate_region(black_box(&covered), &plate::FALLBACK))
    });

    let (lib, det, rec) = (
        vision::default_lib_path(),
        plate::default_detector_path(),
        plate::default_recogniser_path(),
    );
    if !(lib.is_file() && det.is_file() && rec.is_file()) {
        eprintln!("skipping the plate model benches: run deploy/setup.sh");
        return;
    }
    let mut reader = vision::PlateReader::open(&det, &rec, 1).expect("plate models load");
    let single = plate_image("plate_0000.jpg");
    // A typical vehicle crop: the mean crop of the evaluation set is 958×681.
    let vehicle = plate::recognize::resize_linear(&single, 960, 680);
    let mut group = c.benchmark_group("plate models (1 thread)");
    group.sample_size(10);
    group.bench_function("detect 385x231 crop", |b| {
        b.iter(|| reader.detector().detect(black_box(&single)).unwrap())
    });
    group.bench_function("detect 960x680 vehicle crop", |b| {
        b.iter(|| reader.detector().detect(black_box(&vehicle)).unwrap())
    });
    for (name, file) in [
        ("single-row", "plate_0000.jpg"),
        ("double-row", "plate_0014.jpg"),
    ] {
        let img = plate_image(file);
        let best = reader.detector().detect(&img).unwrap()[0];
        let quad = plate::detect::order_quad(best.corners);
        group.bench_function(
            format!("recognise {name} plate (rectify + model + decode)"),
            |b| b.iter(|| reader.recognise_quad(black_box(&img), &quad).unwrap()),
        );
    }
    group.bench_function("read_image 385x231 (detect + recognise + colour)", |b| {
        b.iter(|| reader.read_image(black_box(&single)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench, attributes, plates);
criterion_main!(benches);
