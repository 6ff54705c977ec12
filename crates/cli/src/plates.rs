//! `xueliang plates IMAGE…`: read the Chinese licence plate in still images (PNG or JPEG), one
//! JSON line per image; `xueliang plates --eval DIR`: measure the plate reader on a set written
//! by `models/plates/gen_eval.py` and print the metrics of the Python reference (`eval.py`:
//! exact match and per-character accuracy on clear and degraded plates, covered precision and
//! recall, colour accuracy, per kind, detector recall and corner error, milliseconds).
//!
//! A still image is searched as a whole; in `--eval` mode each image is read inside its ground
//! truth vehicle box (+5 %), as the edge reads a tracked vehicle.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use base::{BBox, PlateColor, PlateState};
use serde_json::{json, Value};
use vision::plate::{self, Image, Localiser, PlateReader, PlateResult};

#[derive(clap::Args)]
pub struct Args {
    /// Images (PNG or JPEG) to read; prints one JSON line each.
    #[arg(required_unless_present = "eval")]
    images: Vec<PathBuf>,
    /// Evaluate on a set made by models/plates/gen_eval.py (DIR/gt.jsonl, DIR/images/).
    #[arg(long, value_name = "DIR", conflicts_with = "images")]
    eval: Option<PathBuf>,
    /// With --eval: only the first N images (0 = all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// With --eval: also write the metrics to this JSON file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// With --eval: write one JSON line per image (what was found and read) to this file.
    #[arg(long, value_name = "FILE")]
    dump: Option<PathBuf>,
    /// Plate detector model [default: <home>/models/clp_det.onnx].
    #[arg(long)]
    detector: Option<PathBuf>,
    /// Plate recogniser model [default: <home>/models/ppocrv4_rec.onnx].
    #[arg(long)]
    recogniser: Option<PathBuf>,
    /// ONNX Runtime intra-op threads per model.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let det = args
        .detector
        .clone()
        .unwrap_or_else(plate::default_detector_path);
    let rec = args
        .recogniser
        .clone()
        .unwrap_or_else(plate::default_recogniser_path);
    let mut reader = PlateReader::open(&det, &rec, args.threads)?;
    match &args.eval {
        Some(dir) => evaluate(&mut reader, dir, &args),
        None => {
            let mut out = std::io::stdout().lock();
            for path in &args.images {
                let img = load(path)?;
                let r = reader.read_image(&img)?;
                let line = json!({
                    "file": path.display().to_string(),
                    "plate": r.plate.text,
                    "color": colour_name(r.plate.color),
                    "state": r.plate.state.name(),
                    "confidence": round3(r.plate.confidence),
                    "char_confidences": r.plate.char_confidences.iter().map(|c| round3(*c)).collect::<Vec<_>>(),
                    "corners": r.corners.map(|q| q.map(|p| p.map(round1))),
                });
                writeln!(out, "{line}")?;
            }
            Ok(())
        }
    }
}

fn load(path: &Path) -> anyhow::Result<Image> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Image::decode(&bytes).map_err(|e| anyhow::anyhow!("cannot decode {}: {e}", path.display()))
}

fn localiser_name(l: Localiser) -> &'static str {
    match l {
        Localiser::Detector => "detector",
        Localiser::Fallback => "fallback",
        Localiser::WeakDetector => "weak_detector",
    }
}

fn colour_name(c: PlateColor) -> Option<&'static str> {
    (c != PlateColor::Unknown).then(|| c.name())
}

fn round1(v: f32) -> f64 {
    (f64::from(v) * 10.0).round() / 10.0
}

fn round3(v: f32) -> f64 {
    (f64::from(v) * 1000.0).round() / 1000.0
}

/// One line of `gt.jsonl`.
#[derive(Debug, serde::Deserialize)]
struct Truth {
    image: String,
    text: Option<String>,
    colour: Option<String>,
    kind: Option<String>,
    /// read | covered | none
    state: String,
    /// clear | degraded | partial_cover | full_cover | none
    subset: String,
    /// cloth | paper | mud | tape | blank (covered plates only)
    cover: Option<String>,
    corners: Option<[[f32; 2]; 4]>,
    vehicle_box: [f32; 4],
}

/// What the evaluation keeps per image.
struct Outcome {
    state: PlateState,
    text: Option<String>,
    colour: Option<&'static str>,
    greedy: String,
    localiser: Option<Localiser>,
    iou: f64,
    corner_err: Option<f64>,
    crop: [usize; 2],
    ms_detect: f64,
    ms_fallback: Option<f64>,
    ms_recognise: Option<f64>,
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut d: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = d[0];
        d[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = (d[j + 1] + 1)
                .min(d[j] + 1)
                .min(prev + usize::from(ca != cb));
            prev = d[j + 1];
            d[j + 1] = cur;
        }
    }
    d[b.len()]
}

fn box_of(q: &[[f32; 2]; 4]) -> [f64; 4] {
    let xs = q.map(|p| f64::from(p[0]));
    let ys = q.map(|p| f64::from(p[1]));
    let min = |v: [f64; 4]| v.into_iter().fold(f64::MAX, f64::min);
    let max = |v: [f64; 4]| v.into_iter().fold(f64::MIN, f64::max);
    [min(xs), min(ys), max(xs), max(ys)]
}

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let inter =
        (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Percentile with linear interpolation (numpy's default).
fn percentile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

fn ratio(a: usize, b: usize) -> f64 {
    a as f64 / b.max(1) as f64
}

fn evaluate(reader: &mut PlateReader, dir: &Path, args: &Args) -> anyhow::Result<()> {
    let gt_path = dir.join("gt.jsonl");
    let gt_text = std::fs::read_to_string(&gt_path)
        .with_context(|| format!("cannot read {}", gt_path.display()))?;
    let mut truths: Vec<Truth> = gt_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{} line {}", gt_path.display(), i + 1))
        })
        .collect::<anyhow::Result<_>>()?;
    if args.limit > 0 {
        truths.truncate(args.limit);
    }
    let mut dump = match &args.dump {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    let started = Instant::now();
    let mut results = Vec::with_capacity(truths.len());
    for (i, g) in truths.iter().enumerate() {
        let img = load(&dir.join("images").join(&g.image))?;
        let [x1, y1, x2, y2] = g.vehicle_box;
        let vehicle = BBox { x1, y1, x2, y2 };
        let rect = plate::vehicle_rect(&vehicle, img.width, img.height).context("empty image")?;
        let r = reader.read_image_in(&img, &vehicle)?;
        let o = outcome(g, &r, [rect.x1 - rect.x0, rect.y1 - rect.y0]);
        if let Some(d) = dump.as_mut() {
            let line = json!({
                "image": g.image,
                "state": o.state.name(),
                "text": o.text,
                "greedy": o.greedy,
                "conf": r.plate.char_confidences.iter().map(|c| round3(*c)).collect::<Vec<_>>(),
                "colour": o.colour,
                "source": o.localiser.map(localiser_name),
                "evidence": r.evidence.map(|e| json!({"visible": e.visible, "glyphs": e.glyphs, "text_cols": round3(e.text_cols), "smooth_cols": round3(e.smooth_cols), "texture": round3(e.plate_texture), "scene": round3(e.scene_sharpness), "contrast": round3(e.contrast), "coherence": round3(e.coherence), "in_part": e.in_part, "fragment": e.fragment})),
                "det_score": round3(r.detector_score),
                "rows": r.rows,
                "quad": r.corners.map(|q| q.map(|p| p.map(round1))),
                "iou": o.iou,
                "corner_err": o.corner_err,
            });
            writeln!(d, "{line}")?;
        }
        results.push(o);
        let n = i + 1;
        let clear: Vec<usize> = (0..n).filter(|&k| truths[k].subset == "clear").collect();
        let exact = clear
            .iter()
            .filter(|&&k| results[k].state == PlateState::Read && results[k].text == truths[k].text)
            .count();
        eprint!(
            "\r{n}/{} images, {:.1} s, clear exact {exact}/{}   ",
            truths.len(),
            started.elapsed().as_secs_f64(),
            clear.len()
        );
    }
    eprintln!();
    if let Some(mut d) = dump {
        d.flush()?;
    }
    let report = metrics(&truths, &results);
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(p) = &args.json {
        std::fs::write(p, &text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

fn outcome(g: &Truth, r: &PlateResult, crop: [usize; 2]) -> Outcome {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let (mut iou_v, mut corner_err) = (0.0, None);
    if let (Some(q), Some(t)) = (&r.corners, &g.corners) {
        let (bb, gb) = (box_of(q), box_of(t));
        iou_v = iou(bb, gb);
        let worst = q
            .iter()
            .zip(t)
            .flat_map(|(a, b)| [(a[0] - b[0]).abs(), (a[1] - b[1]).abs()])
            .fold(0.0f32, f32::max);
        corner_err = Some(f64::from(worst) / (gb[2] - gb[0]).max(1.0));
    }
    Outcome {
        state: r.plate.state,
        text: r.plate.text.clone(),
        colour: colour_name(r.plate.color),
        greedy: r.greedy.clone(),
        localiser: r.localiser,
        iou: iou_v,
        corner_err,
        crop,
        ms_detect: ms(r.timings.detect),
        ms_fallback: (r.localiser != Some(Localiser::Detector)).then(|| ms(r.timings.fallback)),
        ms_recognise: r.corners.is_some().then(|| ms(r.timings.recognise)),
    }
}

const STATES: [(PlateState, &str); 4] = [
    (PlateState::Read, "read"),
    (PlateState::Unreadable, "unreadable"),
    (PlateState::Covered, "covered"),
    (PlateState::None, "none"),
];

fn state_counts<'a>(it: impl Iterator<Item = &'a Outcome>) -> serde_json::Map<String, Value> {
    let states: Vec<PlateState> = it.map(|o| o.state).collect();
    STATES
        .iter()
        .map(|(s, name)| {
            (
                name.to_string(),
                json!(states.iter().filter(|x| *x == s).count()),
            )
        })
        .collect()
}

/// The metrics of `eval.py` (one recogniser: PP-OCRv4), keyed as it keys them.
fn metrics(truths: &[Truth], res: &[Outcome]) -> Value {
    let all: Vec<(&Truth, &Outcome)> = truths.iter().zip(res).collect();
    let of = |pred: &dyn Fn(&Truth) -> bool| -> Vec<(&Truth, &Outcome)> {
        all.iter().copied().filter(|(g, _)| pred(g)).collect()
    };
    let mut m = serde_json::Map::new();
    for sub in ["clear", "degraded"] {
        let s = of(&|g| g.subset == sub);
        let exact = s
            .iter()
            .filter(|(g, o)| o.state == PlateState::Read && o.text == g.text)
            .count();
        let wrong = s
            .iter()
            .filter(|(g, o)| o.state == PlateState::Read && o.text != g.text)
            .count();
        let (mut correct, mut total) = (0usize, 0usize);
        for (g, o) in &s {
            let gt: Vec<char> = g.text.as_deref().unwrap_or("").chars().collect();
            let pred: Vec<char> = match (&o.state, &o.text) {
                (PlateState::Read, Some(t)) => t.chars().collect(),
                _ => o.greedy.chars().collect(),
            };
            total += gt.len();
            correct += if pred.len() == gt.len() {
                pred.iter().zip(&gt).filter(|(a, b)| a == b).count()
            } else {
                gt.len().saturating_sub(levenshtein(&pred, &gt))
            };
        }
        m.insert(
            sub.into(),
            json!({
                "n": s.len(),
                "exact": ratio(exact, s.len()),
                "per_char": ratio(correct, total),
                "read_wrong": wrong,
                "states": state_counts(s.iter().map(|(_, o)| *o)),
            }),
        );
    }
    let covered_gt = |g: &Truth| g.state == "covered";
    let tp = all
        .iter()
        .filter(|(g, o)| o.state == PlateState::Covered && covered_gt(g))
        .count();
    let fp = all
        .iter()
        .filter(|(g, o)| o.state == PlateState::Covered && !covered_gt(g))
        .count();
    let fn_ = all
        .iter()
        .filter(|(g, o)| o.state != PlateState::Covered && covered_gt(g))
        .count();
    m.insert(
        "covered".into(),
        json!({"tp": tp, "fp": fp, "fn": fn_, "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn_)}),
    );
    // Where the covered errors are: states per covered subset and cover kind (misses), and
    // which other subsets were called covered (false alarms).
    let mut by_cover = serde_json::Map::new();
    for sub in ["partial_cover", "full_cover"] {
        let mut covers: Vec<&str> = all
            .iter()
            .filter(|(g, _)| g.subset == sub)
            .filter_map(|(g, _)| g.cover.as_deref())
            .collect();
        covers.sort_unstable();
        covers.dedup();
        for c in covers {
            let s = of(&|g| g.subset == sub && g.cover.as_deref() == Some(c));
            by_cover.insert(
                format!("{sub}/{c}"),
                Value::Object(state_counts(s.iter().map(|(_, o)| *o))),
            );
        }
    }
    m.insert("covered_by_cover".into(), Value::Object(by_cover));
    let false_covered: serde_json::Map<String, Value> = ["clear", "degraded", "none"]
        .iter()
        .map(|sub| {
            let n = all
                .iter()
                .filter(|(g, o)| g.subset == *sub && o.state == PlateState::Covered)
                .count();
            (sub.to_string(), json!(n))
        })
        .collect();
    m.insert("false_covered".into(), Value::Object(false_covered));
    for sub in ["partial_cover", "full_cover", "none"] {
        let s = of(&|g| g.subset == sub);
        m.insert(
            sub.into(),
            Value::Object(state_counts(s.iter().map(|(_, o)| *o))),
        );
    }
    let gt_none = of(&|g| g.state == "none");
    let none_hit = gt_none
        .iter()
        .filter(|(_, o)| o.state == PlateState::None)
        .count();
    let none_pred = all
        .iter()
        .filter(|(_, o)| o.state == PlateState::None)
        .count();
    if let Some(Value::Object(n)) = m.get_mut("none") {
        n.insert(
            "precision_recall".into(),
            json!({"recall": ratio(none_hit, gt_none.len()), "precision": ratio(none_hit, none_pred)}),
        );
    }
    for (name, subs) in [
        ("colour_clear", &["clear"][..]),
        ("colour_degraded", &["degraded"][..]),
        ("colour_covered", &["partial_cover", "full_cover"][..]),
    ] {
        let s = of(&|g| subs.contains(&g.subset.as_str()));
        let right = |v: &[(&Truth, &Outcome)]| {
            v.iter()
                .filter(|(g, o)| o.colour.is_some() && o.colour == g.colour.as_deref())
                .count()
        };
        m.insert(name.into(), json!(ratio(right(&s), s.len())));
        let found: Vec<_> = s
            .iter()
            .copied()
            .filter(|(_, o)| o.state != PlateState::None)
            .collect();
        m.insert(
            format!("{name}_localised"),
            json!({"n": found.len(), "acc": ratio(right(&found), found.len())}),
        );
    }
    let mut kinds: Vec<&str> = all.iter().filter_map(|(g, _)| g.kind.as_deref()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut per_kind = serde_json::Map::new();
    for k in kinds {
        let s = of(&|g| g.kind.as_deref() == Some(k) && g.subset == "clear");
        let exact = s
            .iter()
            .filter(|(g, o)| o.state == PlateState::Read && o.text == g.text)
            .count();
        let colour = s
            .iter()
            .filter(|(g, o)| o.colour.is_some() && o.colour == g.colour.as_deref())
            .count();
        let r3 = |v: f64| (v * 1000.0).round() / 1000.0;
        per_kind.insert(k.into(), json!({"n": s.len(), "exact": r3(ratio(exact, s.len())), "colour": r3(ratio(colour, s.len()))}));
    }
    m.insert("per_kind_clear".into(), Value::Object(per_kind));
    let rec_ms: Vec<f64> = res.iter().filter_map(|o| o.ms_recognise).collect();
    m.insert("ms_rec_mean".into(), json!(mean(&rec_ms)));
    m.insert("ms_rec_p90".into(), json!(percentile(&rec_ms, 90.0)));

    let present = of(&|g| g.state != "none");
    let found_by = |pred: &dyn Fn(&Truth) -> bool, how: Localiser| {
        let s: Vec<_> = present.iter().filter(|(g, _)| pred(g)).collect();
        ratio(
            s.iter()
                .filter(|(_, o)| o.localiser == Some(how) && o.iou > 0.3)
                .count(),
            s.len(),
        )
    };
    let det_ms: Vec<f64> = res.iter().map(|o| o.ms_detect).collect();
    let fb_ms: Vec<f64> = res.iter().filter_map(|o| o.ms_fallback).collect();
    let corner: Vec<f64> = present
        .iter()
        .filter(|(g, o)| g.subset == "clear" && o.iou > 0.3)
        .filter_map(|(_, o)| o.corner_err)
        .collect();
    let detector = json!({
        "n_present": present.len(),
        "found_clear": found_by(&|g| g.subset == "clear", Localiser::Detector),
        "found_degraded": found_by(&|g| g.subset == "degraded", Localiser::Detector),
        "found_covered_by_detector": found_by(&covered_gt, Localiser::Detector),
        "found_covered_by_fallback": found_by(&covered_gt, Localiser::Fallback),
        "detector_on_none": gt_none.iter().filter(|(_, o)| o.localiser == Some(Localiser::Detector)).count(),
        "fallback_on_none": gt_none.iter().filter(|(_, o)| o.localiser == Some(Localiser::Fallback)).count(),
        "ms_fallback_mean": mean(&fb_ms),
        "mean_corner_err_clear": mean(&corner),
        "ms_mean": mean(&det_ms),
        "ms_p90": percentile(&det_ms, 90.0),
        "crop_mean": [mean(&res.iter().map(|o| o.crop[0] as f64).collect::<Vec<_>>()), mean(&res.iter().map(|o| o.crop[1] as f64).collect::<Vec<_>>())],
    });
    json!({"ppocr": Value::Object(m), "detector": detector})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levenshtein_and_percentile() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(levenshtein(&c("京A12345"), &c("京A1234")), 1);
        assert_eq!(levenshtein(&c(""), &c("京A1")), 3);
        assert_eq!(levenshtein(&c("AB12"), &c("BA12")), 2);
        assert_eq!(
            percentile(
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0],
                90.0
            ),
            10.0
        );
        assert!((percentile(&[1.0, 2.0], 90.0) - 1.9).abs() < 1e-12);
        assert!((iou([0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 3.0, 2.0]) - 1.0 / 3.0).abs() < 1e-12);
    }
}
