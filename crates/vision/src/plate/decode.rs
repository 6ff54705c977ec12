//! CTC decoding constrained to Chinese plate syntax: an exact Viterbi over fixed-length
//! templates (one allowed-character set per position), with per-character confidences; and the
//! unconstrained greedy reading kept for diagnostics and the covered-plate rule.
//!
//! A template of n positions has states `blank_k` (k characters emitted, now in a blank) and
//! `(k, c)` (emitting c ∈ set_k at position k). Per frame: stay; `blank_k → (k, c)`;
//! `(k−1, c') → blank_k`; `(k−1, c') → (k, c)` directly only when c ≠ c' (CTC needs a blank
//! between equal characters). Score = Σ log p; the path ends in `blank_n` or `(n−1, ·)`. The
//! best template wins (the first on ties). Keeping the class in the state matters: a "best class
//! per frame" shortcut lets one position swallow two characters (8-character plates became 7).
//!
//! Per-character confidence: over the frames of that character, the maximum of
//! p(c) / (p(blank) + Σ p over the position's allowed set) — the model's distribution restricted
//! to what may stand there. This is a faithful port of `clp.constrained_decode`, tie-breaking
//! included, except that the suffix template does not allow 使 (a 使 plate has its own forms,
//! and `base::plate::validate` refuses `京A1234使`).
//!
//! Performance contract: O(T · Σ|set_k|) per template: about 0.5 ms for a 40-frame line over the six
//! single-row templates (criterion), against ~35 ms for the model run.

use super::recognize::{Charset, Probs};

/// The 31 province abbreviations.
pub use base::plate::PROVINCES;
/// Letters on plates: A–Z without I and O.
pub const LETTERS: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ";
pub const DIGITS: &str = "0123456789";
/// Suffix characters of single-row special plates (使 has its own templates).
pub const SUFFIXES: &str = "警学挂港澳领";
/// Third character of small new-energy plates, last of large ones.
pub const NEW_ENERGY: &str = "DFABCEGHJK";

const NEG: f64 = -1e30;

/// One plate form: allowed classes per position.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: &'static str,
    pub positions: Vec<Vec<usize>>,
}

/// The templates of single-row plates and of the two rows of a double-row plate, as classes of
/// one model's charset.
#[derive(Debug, Clone)]
pub struct Templates {
    pub single: Vec<Template>,
    pub upper: Vec<Template>,
    pub lower: Vec<Template>,
}

impl Templates {
    /// Builds the plate templates for `charset`; a template with a position the model cannot
    /// emit at all is dropped.
    pub fn new(charset: &Charset) -> Templates {
        let alnum = format!("{LETTERS}{DIGITS}");
        let (p, l, a, d) = (PROVINCES, LETTERS, alnum.as_str(), DIGITS);
        let make = |name: &'static str, sets: &[&str]| -> Option<Template> {
            let positions: Vec<Vec<usize>> = sets
                .iter()
                .map(|s| {
                    let mut ids: Vec<usize> = Vec::new();
                    for c in s.chars() {
                        if let Some(i) = charset.class(c) {
                            if !ids.contains(&i) {
                                ids.push(i);
                            }
                        }
                    }
                    ids
                })
                .collect();
            positions
                .iter()
                .all(|s| !s.is_empty())
                .then_some(Template { name, positions })
        };
        let single = [
            make("std", &[p, l, a, a, a, a, a]),
            make("suffix", &[p, l, a, a, a, a, SUFFIXES]),
            make("ne_small", &[p, l, NEW_ENERGY, a, d, d, d, d]),
            make("ne_large", &[p, l, d, d, d, d, d, NEW_ENERGY]),
            make("使", &["使", d, d, d, d, d, d]),
            make("使_end", &[d, d, d, d, d, d, "使"]),
        ];
        let upper = [make("top2", &[p, l])];
        let lower = [
            make("bottom5", &[a, a, a, a, a]),
            make("bottom_suffix", &[a, a, a, a, "挂学警"]),
        ];
        let keep = |v: &[Option<Template>]| v.iter().flatten().cloned().collect();
        Templates {
            single: keep(&single),
            upper: keep(&upper),
            lower: keep(&lower),
        }
    }
}

/// A constrained reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub text: String,
    pub confidences: Vec<f32>,
    /// Log-probability of the best path.
    pub log_prob: f64,
    /// Name of the template that won.
    pub template: &'static str,
}

/// Greedy CTC: argmax per frame, repeats collapsed, blanks dropped; returns the classes and the
/// probability of each at its first frame.
pub fn greedy(p: &Probs) -> (Vec<usize>, Vec<f32>) {
    let (mut classes, mut confs) = (Vec::new(), Vec::new());
    let mut prev = usize::MAX;
    for t in 0..p.frames {
        let row = p.row(t);
        let mut best = 0;
        for (i, v) in row.iter().enumerate() {
            if *v > row[best] {
                best = i;
            }
        }
        if best != prev && best != 0 {
            classes.push(best);
            confs.push(row[best]);
        }
        prev = best;
    }
    (classes, confs)
}

/// The greedy reading as text.
pub fn greedy_text(p: &Probs, charset: &Charset) -> String {
    greedy(p).0.into_iter().map(|c| charset.char(c)).collect()
}

/// Index of the first maximum.
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// Per template position: the chosen entry of its allowed set and the frames that emit it.
pub type Alignment = Vec<(usize, Vec<usize>)>;

/// The best path through one template: per position the chosen entry of its set and the frames
/// it covers, and the path's log-probability. `None` when the template cannot fit (fewer frames
/// than positions).
pub fn viterbi(p: &Probs, template: &Template) -> Option<(Alignment, f64)> {
    let ids = &template.positions;
    let n = ids.len();
    let frames = p.frames;
    if n == 0 || frames < n || ids.iter().any(|s| s.is_empty()) {
        return None;
    }
    let lp = |t: usize, c: usize| f64::from(p.data[t * p.classes + c].clamp(1e-12, 1.0).ln());
    let mut b = vec![NEG; n + 1];
    let mut c: Vec<Vec<f64>> = ids.iter().map(|s| vec![NEG; s.len()]).collect();
    b[0] = lp(0, 0);
    for (j, &cls) in ids[0].iter().enumerate() {
        c[0][j] = lp(0, cls);
    }
    // Back pointers. blank_k: -1 stay, j >= 0 from (k-1, j). (k, c): -1 stay, -2 from blank_k,
    // j >= 0 from (k-1, j).
    let mut bp_b = vec![0i32; frames * (n + 1)];
    let mut bp_c: Vec<Vec<i32>> = ids.iter().map(|s| vec![0i32; frames * s.len()]).collect();
    let (mut nb, mut nc) = (b.clone(), c.clone());
    for t in 1..frames {
        let lb = lp(t, 0);
        nb[0] = b[0] + lb;
        bp_b[t * (n + 1)] = -1;
        for k in 1..=n {
            let j = argmax(&c[k - 1]);
            let (v, ptr) = if c[k - 1][j] > b[k] {
                (c[k - 1][j], j as i32)
            } else {
                (b[k], -1)
            };
            nb[k] = v + lb;
            bp_b[t * (n + 1) + k] = ptr;
        }
        for k in 0..n {
            // Best and second-best predecessor at position k-1.
            let top2 = (k > 0).then(|| {
                let prev = &c[k - 1];
                let j1 = argmax(prev);
                let j2 = (0..prev.len())
                    .filter(|&j| j != j1)
                    .fold(None, |best: Option<usize>, j| match best {
                        Some(bj) if prev[bj] >= prev[j] => Some(bj),
                        _ => Some(j),
                    })
                    .unwrap_or(j1);
                (j1, j2)
            });
            let len = ids[k].len();
            for (j, &cls) in ids[k].iter().enumerate() {
                let stay = c[k][j];
                let (mut val, mut ptr) = if b[k] > stay { (b[k], -2) } else { (stay, -1) };
                if let Some((j1, j2)) = top2 {
                    let prev = &c[k - 1];
                    let same = cls == ids[k - 1][j1];
                    let pj = if same { j2 } else { j1 };
                    let pv = if same && prev.len() == 1 {
                        NEG
                    } else {
                        prev[pj]
                    };
                    if pv > val {
                        val = pv;
                        ptr = pj as i32;
                    }
                }
                nc[k][j] = val + lp(t, cls);
                bp_c[k][t * len + j] = ptr;
            }
        }
        std::mem::swap(&mut b, &mut nb);
        std::mem::swap(&mut c, &mut nc);
    }
    let jend = argmax(&c[n - 1]);
    let end = b[n].max(c[n - 1][jend]);

    // Backtrack: per frame, Some((k, j)) while emitting, None in a blank.
    #[derive(Clone, Copy)]
    enum State {
        Blank(usize),
        Char(usize, usize),
    }
    let mut state = if b[n] >= c[n - 1][jend] {
        State::Blank(n)
    } else {
        State::Char(n - 1, jend)
    };
    let mut path = vec![None; frames];
    for t in (0..frames).rev() {
        if let State::Char(k, j) = state {
            path[t] = Some((k, j));
        }
        if t == 0 {
            break;
        }
        state = match state {
            State::Blank(k) => match bp_b[t * (n + 1) + k] {
                -1 => State::Blank(k),
                j => State::Char(k - 1, j as usize),
            },
            State::Char(k, j) => match bp_c[k][t * ids[k].len() + j] {
                -1 => State::Char(k, j),
                -2 => State::Blank(k),
                pj => State::Char(k - 1, pj as usize),
            },
        };
    }
    let mut out: Vec<(usize, Vec<usize>)> = vec![(usize::MAX, Vec::new()); n];
    for (t, s) in path.iter().enumerate() {
        if let Some((k, j)) = *s {
            if out[k].1.is_empty() {
                out[k].0 = j;
            }
            out[k].1.push(t);
        }
    }
    // Every position is visited by construction; guard anyway.
    out.iter().all(|(_, f)| !f.is_empty()).then_some((out, end))
}

/// The best reading over `templates`, with per-character confidences; `None` when no template
/// fits.
pub fn constrained(p: &Probs, charset: &Charset, templates: &[Template]) -> Option<Decoded> {
    let mut best: Option<Decoded> = None;
    for tpl in templates {
        let Some((path, score)) = viterbi(p, tpl) else {
            continue;
        };
        if best.as_ref().is_some_and(|b| score <= b.log_prob) {
            continue;
        }
        let mut text = String::new();
        let mut confidences = Vec::with_capacity(path.len());
        for (k, (j, frames)) in path.iter().enumerate() {
            let set = &tpl.positions[k];
            let cls = set[*j];
            text.push(charset.char(cls));
            let conf = frames
                .iter()
                .map(|&t| {
                    let row = p.row(t);
                    let denom: f32 = set.iter().map(|&i| row[i]).sum::<f32>() + row[0];
                    row[cls] / denom.max(1e-12)
                })
                .fold(0.0f32, f32::max);
            confidences.push(conf);
        }
        best = Some(Decoded {
            text,
            confidences,
            log_prob: score,
            template: tpl.name,
        });
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A charset holding every plate character (plus a look-alike 锁 and the dot).
    fn charset() -> Charset {
        let mut s: Vec<String> = format!("{PROVINCES}{LETTERS}IO{DIGITS}警学挂港澳使领锁·")
            .chars()
            .map(String::from)
            .collect();
        s.dedup();
        Charset::from_metadata(&s.join("\n")).unwrap()
    }

    /// Probabilities spelling `frames`: each entry is a character (or '_' for the blank) with
    /// probability `hi`, the rest spread evenly.
    fn probs(cs: &Charset, frames: &str, hi: f32) -> Probs {
        let classes = cs.len();
        let lo = (1.0 - hi) / (classes - 1) as f32;
        let mut data = Vec::new();
        for ch in frames.chars() {
            let cls = if ch == '_' { 0 } else { cs.class(ch).unwrap() };
            let mut row = vec![lo; classes];
            row[cls] = hi;
            data.extend(row);
        }
        Probs {
            frames: frames.chars().count(),
            classes,
            data,
        }
    }

    fn set(p: &mut Probs, cs: &Charset, t: usize, ch: char, v: f32) {
        let i = if ch == '_' { 0 } else { cs.class(ch).unwrap() };
        p.data[t * p.classes + i] = v;
    }

    #[test]
    fn reads_an_ordinary_plate_and_collapses_repeats() {
        let cs = charset();
        let t = Templates::new(&cs);
        let p = probs(&cs, "_京京_A_·_1_2233_44_5_", 0.9);
        let d = constrained(&p, &cs, &t.single).unwrap();
        assert_eq!(d.text, "京A12345");
        assert_eq!(d.template, "std");
        assert_eq!(d.confidences.len(), 7);
        assert!(
            d.confidences.iter().all(|c| *c > 0.9),
            "{:?}",
            d.confidences
        );
        // Greedy keeps what it sees, separators folded or not.
        assert_eq!(greedy_text(&p, &cs), "京A·12345");
    }

    #[test]
    fn equal_neighbours_need_a_blank() {
        let cs = charset();
        let t = Templates::new(&cs);
        // "京A11234" with a blank between the two 1s.
        let p = probs(&cs, "京_A_1_1_2_3_4_", 0.9);
        assert_eq!(constrained(&p, &cs, &t.single).unwrap().text, "京A11234");
        // Without it the two 1s are one character and the plate is "京A1234" + one more:
        // the decoder must not invent a second 1 from a single run.
        let p = probs(&cs, "京_A_11_2_3_4_5_", 0.9);
        assert_eq!(constrained(&p, &cs, &t.single).unwrap().text, "京A12345");
    }

    #[test]
    fn eight_character_new_energy_plates_keep_eight() {
        let cs = charset();
        let t = Templates::new(&cs);
        let p = probs(&cs, "_沪_A_D_1_2_3_4_5_", 0.9);
        let d = constrained(&p, &cs, &t.single).unwrap();
        assert_eq!((d.text.as_str(), d.template), ("沪AD12345", "ne_small"));
        // Back to back, no blanks between different characters.
        let p = probs(&cs, "沪A12345D", 0.9);
        let d = constrained(&p, &cs, &t.single).unwrap();
        assert_eq!((d.text.as_str(), d.template), ("沪A12345D", "ne_large"));
        assert_eq!(d.confidences.len(), 8);
    }

    #[test]
    fn look_alikes_are_forced_into_the_allowed_set() {
        let cs = charset();
        let t = Templates::new(&cs);
        // The model prefers 锁 for the last character, with 领 second: the template picks 领,
        // and its restricted confidence is high although p(领) is not.
        let mut p = probs(&cs, "_京_A_1_2_3_4_X_", 0.9);
        set(&mut p, &cs, 13, 'X', 0.0);
        set(&mut p, &cs, 13, '锁', 0.6);
        set(&mut p, &cs, 13, '领', 0.3);
        let d = constrained(&p, &cs, &t.single).unwrap();
        assert_eq!(d.text, "京A1234领");
        assert!(d.confidences[6] > 0.95, "{:?}", d.confidences);
        // I and O never stand on a plate: an O reads as the most likely allowed class.
        let mut p = probs(&cs, "_京_A_1_2_3_4_O_", 0.9);
        set(&mut p, &cs, 13, '0', 0.05);
        assert_eq!(constrained(&p, &cs, &t.single).unwrap().text, "京A12340");
    }

    #[test]
    fn embassy_forms_and_suffix_forms() {
        let cs = charset();
        let t = Templates::new(&cs);
        for text in ["使123456", "123456使", "粤Z1234港", "京A1234警"] {
            let frames: String = text.chars().flat_map(|c| ['_', c]).chain(['_']).collect();
            let d = constrained(&probs(&cs, &frames, 0.9), &cs, &t.single).unwrap();
            assert_eq!(d.text, text);
            assert!(base::plate::validate(&d.text).is_ok());
        }
        // 使 is not a suffix of an ordinary plate: the best valid reading has another ending.
        let d = constrained(&probs(&cs, "_京_A_1_2_3_4_使_", 0.9), &cs, &t.single).unwrap();
        assert!(base::plate::validate(&d.text).is_ok(), "{}", d.text);
    }

    #[test]
    fn double_row_rows_use_their_own_templates() {
        let cs = charset();
        let t = Templates::new(&cs);
        let top = constrained(&probs(&cs, "__冀冀__A___", 0.8), &cs, &t.upper).unwrap();
        assert_eq!(top.text, "冀A");
        let bottom = constrained(&probs(&cs, "_1_2_3_4_挂_", 0.8), &cs, &t.lower).unwrap();
        assert_eq!(
            (bottom.text.as_str(), bottom.template),
            ("1234挂", "bottom_suffix")
        );
        let bottom = constrained(&probs(&cs, "_1_2_3_4_5_", 0.8), &cs, &t.lower).unwrap();
        assert_eq!(bottom.text, "12345");
        assert!(base::plate::validate(&format!("{}{}", top.text, bottom.text)).is_ok());
    }

    #[test]
    fn too_few_frames_fit_no_template() {
        let cs = charset();
        let t = Templates::new(&cs);
        assert!(constrained(&probs(&cs, "京A1234", 0.9), &cs, &t.single).is_none());
        assert!(viterbi(&probs(&cs, "京", 0.9), &t.upper[0]).is_none());
    }

    #[test]
    fn confidences_fall_where_the_model_hesitates() {
        let cs = charset();
        let t = Templates::new(&cs);
        let mut p = probs(&cs, "_京_A_1_2_3_4_5_", 0.9);
        // Frame 9 ('3'): split between 3 and 8.
        set(&mut p, &cs, 9, '3', 0.45);
        set(&mut p, &cs, 9, '8', 0.45);
        let d = constrained(&p, &cs, &t.single).unwrap();
        let c = d.confidences[4];
        assert!((0.4..0.6).contains(&c), "{:?}", d.confidences);
        assert!(d.confidences[0] > 0.9);
    }
}
