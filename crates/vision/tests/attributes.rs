//! Vehicle type, colour and appearance embedding with the real ONNX Runtime and the real
//! EfficientNet-Lite0 model, on real crops.
//!
//! - The model itself: a synthetic image gives the logits, feature and embedding the research
//!   reference recorded (`testdata/efficientnet_testvectors.json`).
//! - Real crops (`testdata/attr_*.i420`, described in `testdata/attributes.json`): the grey van
//!   the detector calls "truck" comes out a van, the pickup it calls "car" a pickup, the cars
//!   stay cars; type masses and embeddings agree with the numpy/onnxruntime reference pipeline on
//!   the same crops; the two shots of the van are each other's nearest neighbours; body colours
//!   are right (grey van, white pickup, red car) and agree with the reference method.
//!
//! Needs the files the setup command installs (`vision::default_lib_path()`,
//! `vision::default_classifier_path()`); without them the model tests skip, unless
//! `XUELIANG_REQUIRE_MODELS` is set, which turns that into a failure. The colour checks need no
//! model and always run.
//!
//! `cargo test -p xueliang-vision --test attributes -- --nocapture` prints the time per crop.

use std::path::{Path, PathBuf};

use base::{BBox, Frame, VehicleClass, VehicleColor};
use serde_json::Value;
use vision::{Attributes, TypeSource, TypeVote, VehicleClassifier, TYPE_CUT};
use xueliang_vision as vision;

fn testdata(name: &str) -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .join("testdata")
        .join(name)
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(testdata(name)).unwrap()).unwrap()
}

/// The classifier path when the runtime and model are installed, else `None` (after saying why).
fn installed_model() -> Option<PathBuf> {
    let (lib, model) = (
        vision::default_lib_path(),
        vision::default_classifier_path(),
    );
    let missing: Vec<String> = [&lib, &model]
        .into_iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(model);
    }
    assert!(
        std::env::var_os("XUELIANG_REQUIRE_MODELS").is_none(),
        "missing {missing:?}; run deploy/setup.sh"
    );
    eprintln!("skipping: missing {missing:?}; run deploy/setup.sh");
    None
}

/// One stored crop: the frame (the crop itself), the detector box in it, and its description.
struct Crop {
    name: String,
    frame: Frame,
    bbox: BBox,
    meta: Value,
}

fn crops() -> Vec<Crop> {
    json("attributes.json")["crops"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let data = std::fs::read(testdata(m["file"].as_str().unwrap())).unwrap();
            let (w, h) = (m["width"].as_u64().unwrap(), m["height"].as_u64().unwrap());
            let b: Vec<f32> = m["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            Crop {
                name: m["name"].as_str().unwrap().to_owned(),
                frame: Frame::from_i420("testdata", i as u64, w as u32, h as u32, data),
                bbox: BBox {
                    x1: b[0],
                    y1: b[1],
                    x2: b[2],
                    y2: b[3],
                },
                meta: m.clone(),
            }
        })
        .collect()
}

fn embedding_from_hex(hex: &str) -> vision::Embedding {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    vision::Embedding::from_bytes(&bytes).unwrap()
}

#[test]
fn synthetic_image_matches_the_reference_vectors() {
    let Some(model) = installed_model() else {
        return;
    };
    let mut classifier = VehicleClassifier::open(&model, 1).expect("model loads");
    // vehicle_attrs.py::test_image: R = x*255//223, G = y*255//223, B = ((x+y)*7) % 256.
    let n = vision::classifier::INPUT_SIZE;
    let mut image = vec![0u8; 3 * n * n];
    for y in 0..n {
        for x in 0..n {
            image[y * n + x] = (x * 255 / 223) as u8;
            image[n * n + y * n + x] = (y * 255 / 223) as u8;
            image[2 * n * n + y * n + x] = ((x + y) * 7 % 256) as u8;
        }
    }
    let out = classifier.run_rgb(&image).unwrap().pop().unwrap();
    let tv = json("efficientnet_testvectors.json");
    let f64s = |key: &str| -> Vec<f64> {
        tv[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let mut order: Vec<usize> = (0..out.logits.len()).collect();
    order.sort_by(|&a, &b| out.logits[b].total_cmp(&out.logits[a]));
    let top5: Vec<f64> = order[..5].iter().map(|&i| i as f64).collect();
    assert_eq!(top5, f64s("top5_index"));
    for (&i, want) in order[..5].iter().zip(f64s("top5_logit")) {
        assert!((f64::from(out.logits[i]) - want).abs() < 2e-3, "logit {i}");
    }
    for (got, want) in out.feature.iter().zip(f64s("feature_first8")) {
        assert!(
            (f64::from(*got) - want).abs() < 2e-3,
            "feature {got} vs {want}"
        );
    }
    let sum: f64 = out.feature.iter().map(|&v| f64::from(v)).sum();
    assert!(
        (sum - tv["feature_sum"].as_f64().unwrap()).abs() < 0.05,
        "{sum}"
    );

    let attrs = Attributes::from_outputs(&out.logits, &out.feature);
    for (class, mass) in attrs.masses.iter() {
        let want = tv["type_masses"][class.name()].as_f64().unwrap();
        assert!(
            (f64::from(mass) - want).abs() < 2e-5 + want * 0.01,
            "{class}: {mass} vs {want}"
        );
    }
    for (got, want) in attrs
        .embedding
        .components()
        .iter()
        .zip(f64s("embedding_first16"))
    {
        assert!((f64::from(*got) - want).abs() <= 1.0, "{got} vs {want}");
    }
}

#[test]
fn real_crops_get_their_type_and_embedding() {
    let Some(model) = installed_model() else {
        return;
    };
    let mut classifier = VehicleClassifier::open(&model, 1).expect("model loads");
    let crops = crops();
    let batch: Vec<(&Frame, BBox)> = crops.iter().map(|c| (&c.frame, c.bbox)).collect();
    let attrs = classifier.classify_batch(&batch).unwrap();
    assert_eq!(attrs.len(), crops.len());

    for (c, a) in crops.iter().zip(&attrs) {
        let reference = &c.meta["reference"];
        // Same crop through the reference pipeline (RGB, Pillow resize): masses and embedding
        // agree closely, so the I420 crop path feeds the model what it was evaluated with.
        for (class, mass) in a.masses.iter() {
            let want = reference["masses"][class.name()].as_f64().unwrap();
            assert!(
                (f64::from(mass) - want).abs() < 0.04,
                "{}: {class} mass {mass} vs reference {want}",
                c.name
            );
        }
        assert_eq!(
            u64::from(a.top_class),
            reference["top1"].as_u64().unwrap(),
            "{}",
            c.name
        );
        let ref_emb = embedding_from_hex(reference["embedding"].as_str().unwrap());
        let agreement = a.embedding.cosine(&ref_emb);
        assert!(
            agreement > 0.95,
            "{}: embedding cosine to reference {agreement}",
            c.name
        );

        // The per-track decision on this one crop.
        let detector: VehicleClass = c.meta["detector_class"].as_str().unwrap().parse().unwrap();
        let score = c.meta["detector_score"].as_f64().unwrap() as f32;
        let mut vote = TypeVote::new();
        vote.add(&a.masses);
        let decision = vote.decide(detector, score, TYPE_CUT);
        let want: VehicleClass = c.meta["expect_type"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            decision.class, want,
            "{}: {decision:?} from {:?}",
            c.name, a.masses
        );
        assert_eq!(decision.source, TypeSource::Classifier, "{}", c.name);
        eprintln!(
            "{:15} detector {detector:5} → {:6} ({:.2}), top ImageNet {} ({:.2})",
            c.name, decision.class, decision.confidence, a.top_class, a.top_prob
        );
    }

    // Two shots of the grey van, ten frames apart, are each other's nearest neighbours, by a
    // wide margin over every other vehicle.
    let idx = |name: &str| crops.iter().position(|c| c.name == name).unwrap();
    let (v1, v2) = (idx("van_f120"), idx("van_f130"));
    let same = attrs[v1].embedding.cosine(&attrs[v2].embedding);
    for (i, c) in crops.iter().enumerate() {
        if i == v1 || i == v2 {
            continue;
        }
        for v in [v1, v2] {
            let other = attrs[v].embedding.cosine(&attrs[i].embedding);
            assert!(same > other + 0.4, "van {same} vs {} {other}", c.name);
        }
    }
    assert!(same > 0.85, "{same}");

    // One crop at a time gives what the batch gave.
    let single = classifier
        .classify(&crops[2].frame, &crops[2].bbox)
        .unwrap();
    assert!(single.embedding.cosine(&attrs[2].embedding) > 0.999);
    for ((_, a), (_, b)) in single.masses.iter().zip(attrs[2].masses.iter()) {
        assert!((a - b).abs() < 1e-4);
    }

    // One quick timing (information only; no assertion on speed).
    let before = classifier.timings();
    for _ in 0..4 {
        classifier.classify_batch(&batch[..1]).unwrap();
    }
    let t = classifier.timings();
    let n = (t.frames - before.frames) as f64;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3 / n;
    eprintln!(
        "classifier, 1 thread, batch 1: {:.2} ms/crop = crop {:.2} + inference {:.2} + softmax/embedding {:.2}",
        ms((t.preprocess + t.inference + t.postprocess)
            - (before.preprocess + before.inference + before.postprocess)),
        ms(t.preprocess - before.preprocess),
        ms(t.inference - before.inference),
        ms(t.postprocess - before.postprocess),
    );
}

#[test]
fn real_crops_get_their_colour() {
    for c in crops() {
        let gain = c.meta["frame_gain"].as_f64().unwrap() as f32;
        let (colour, confidence) = vision::body_colour(&c.frame, &c.bbox, gain);
        let reference = &c.meta["reference"];
        let want: VehicleColor = reference["colour"].as_str().unwrap().parse().unwrap();
        assert_eq!(colour, want, "{}: same as the reference method", c.name);
        let want_conf = reference["colour_conf"].as_f64().unwrap();
        assert!(
            (f64::from(confidence) - want_conf).abs() < 0.03,
            "{}: {confidence}",
            c.name
        );
        if let Some(truth) = c.meta["expect_colour"].as_str() {
            assert_eq!(colour.name(), truth, "{}", c.name);
            assert!(confidence >= vision::colour::MIN_CONFIDENCE, "{}", c.name);
        }
    }
}

#[test]
fn bad_frames_and_wrong_models_are_errors() {
    let Some(model) = installed_model() else {
        return;
    };
    // The detector is a valid ONNX model but not a classifier.
    let err = VehicleClassifier::open(&vision::default_model_path(), 1).unwrap_err();
    assert!(
        matches!(err, vision::Error::ModelContract { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("uint8"), "{err}");

    let mut classifier = VehicleClassifier::open(&model, 1).unwrap();
    let crops = crops();
    let mut broken = crops[0].frame.clone();
    broken.seq = 77;
    broken.planes[2].offset = broken.data.len();
    let err = classifier
        .classify_batch(&[(&crops[1].frame, crops[1].bbox), (&broken, crops[0].bbox)])
        .unwrap_err();
    assert!(
        matches!(err, vision::Error::BadFrame { seq: 77, .. }),
        "{err:?}"
    );
    assert!(classifier.classify_batch(&[]).unwrap().is_empty());
    assert!(classifier.run_rgb(&[0u8; 100]).is_err());
}
