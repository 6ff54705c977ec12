//! Is there text on a plate region that could not be read, and could we have seen it? The
//! signals behind the `covered` / `unreadable` decision, all explainable and model-free except
//! the first, which reuses the recogniser's output:
//!
//! - **visible characters**: greedy CTC characters that belong to the plate alphabet
//!   (provinces, letters, digits, special suffixes) and whose peak probability is at least
//!   [`VISIBLE_CONF`]. A plate has 7 or 8; a cover hides the rest. Junk the recogniser reads on a
//!   cloth's folds is mostly outside that alphabet or unsure.
//! - **glyphs**: every character the greedy reading emits, of any class and confidence. A
//!   hidden plate gives the recogniser nothing to emit; a plate blurred past reading still
//!   makes it emit unsure characters, one per blob.
//! - **fragment**: for a detector box judged double-row, the recogniser's reading of it as one
//!   line: 3 or 4 characters, all sure, and nothing else are part of a single-row plate — the
//!   detector boxed the characters a cover left visible (the lower row of a double-row plate,
//!   which such a reading sees, has 5). It costs one more recogniser run (≈ 30 ms), only for
//!   such boxes that were not read.
//! - **text columns**: on the rectified plate (grey, 192×56), the gradient energy of each
//!   column in the character band (rows 20–80 %), box-smoothed over a character stroke. A
//!   column carries text when its energy is at least [`TEXT_COL_FRAC`] of the scene's
//!   sharpness; the fraction of such columns estimates how much of the plate shows characters.
//! - **smooth columns**: the fraction of columns whose energy is below [`SMOOTH_COL_REL`] of
//!   the plate's own 90th-percentile column — a stretch with no strokes next to ones with strokes,
//!   as a cover over part of the characters leaves. Relative to the plate itself, so it holds on
//!   dim or blurred pictures where the plate is evenly weak.
//! - **coherence**: how much the gradient over the character band keeps to one direction (the
//!   structure tensor's, as the fallback measures a cloth's folds). A cloth the detector took
//!   for a plate shows texture all along, but its folds are parallel (≥ 0.9 on the eval set's
//!   cloths; on ten seeds, unread regions of plates that were not covered, motion-blurred ones
//!   included, reached 0.82, and 0.67 among those with at most 2 glyphs).
//! - **scene sharpness**: the 90th percentile of the gradient magnitude over the vehicle crop
//!   (3×3-blurred grey, central differences). It normalises the above, so that a plate that is
//!   smooth because the whole picture is blurred or dark is `unreadable`, while one that is
//!   smooth in a sharp picture is `covered`.
//!
//! Performance contract: the scene measure is one pass over the crop with a 512-bin histogram
//! (≈ 2 ms for 958×681); the plate measures touch 192×56 pixels and the recogniser's output.
//! Nothing here runs for a plate that was read.

use super::image::Image;
use super::recognize::{Charset, Probs};

/// A greedy character counts as visible from this peak probability on.
pub const VISIBLE_CONF: f32 = 0.6;
/// A column of the rectified plate carries text when its gradient energy reaches this fraction
/// of the scene's sharpness.
pub const TEXT_COL_FRAC: f32 = 0.5;
/// A column is smooth below this fraction of the plate's 90th-percentile column energy.
pub const SMOOTH_COL_REL: f32 = 0.35;
/// Rows of the rectified plate that hold characters (fractions of its height).
pub const TEXT_BAND: (f32, f32) = (0.2, 0.8);

/// The evidence for one plate region.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evidence {
    /// Plate-alphabet characters read with at least [`VISIBLE_CONF`].
    pub visible: usize,
    /// Characters the greedy reading emits at any confidence, in or out of the plate alphabet
    /// (`visible` counts a subset of them).
    pub glyphs: usize,
    /// Fraction of the plate's columns that carry text (see the module docs).
    pub text_cols: f32,
    /// Fraction of the plate's columns much smoother than its textured ones.
    pub smooth_cols: f32,
    /// Mean gradient energy in the plate's character band (grey levels per pixel).
    pub plate_texture: f32,
    /// The vehicle crop's sharpness (90th percentile gradient magnitude, grey levels).
    pub scene_sharpness: f32,
    /// How much the region stands out in colour from a ring around it (CIE76 ΔE of the mean
    /// colours), for a region the covered-plate fallback found; 0 otherwise.
    pub contrast: f32,
    /// The fallback found the region for a smooth stretch beside characters
    /// ([`super::fallback::Region::partial`]), not for being smooth.
    pub in_part: bool,
    /// Coherence of the gradient's direction over the character band (0 to 1, the structure
    /// tensor's, as [`super::fallback`] measures folds): a cloth's folds keep to one direction,
    /// characters, blur and grain point every way.
    pub coherence: f32,
    /// Read as one line, the region shows a fragment of a plate: [`FRAGMENT_GLYPHS`]
    /// characters, every one a sure plate character (see [`is_fragment`]). Looked at only for
    /// a detector region judged double-row by its aspect; false otherwise.
    pub fragment: bool,
}

/// How many characters a fragment of a plate shows: fewer than the 5 of a double-row plate's
/// lower row (which a one-line reading of a double-row plate sees), and at least 3, so that a
/// stray mark or two is not one.
pub const FRAGMENT_GLYPHS: std::ops::RangeInclusive<usize> = 3..=4;

/// Whether the one-line reading `p` of a region is a fragment of a plate: it emits
/// [`FRAGMENT_GLYPHS`] characters and every one is a plate character read with at least
/// [`VISIBLE_CONF`]. A plate has 7 or 8; a box that sharply shows 3 or 4 and nothing else was
/// drawn around the characters left visible, the rest being hidden.
pub fn is_fragment(p: &Probs, charset: &Charset) -> bool {
    let (glyphs, visible) = glyphs_and_visible(p, charset, VISIBLE_CONF);
    FRAGMENT_GLYPHS.contains(&glyphs) && visible == glyphs
}

/// Whether `c` can stand on a Chinese plate.
pub fn plate_char(c: char) -> bool {
    base::plate::PROVINCES.contains(c)
        || c.is_ascii_uppercase() && c != 'I' && c != 'O'
        || c.is_ascii_digit()
        || "警学挂港澳使领".contains(c)
}

/// Of the greedy reading of `p` (one pass): the characters it emits (glyphs), and those of them
/// in the plate alphabet whose peak probability is at least `min_conf` (visible).
pub fn glyphs_and_visible(p: &Probs, charset: &Charset, min_conf: f32) -> (usize, usize) {
    let (classes, confs) = super::decode::greedy(p);
    let visible = classes
        .iter()
        .zip(&confs)
        .filter(|(c, conf)| **conf >= min_conf && plate_char(charset.char(**c)))
        .count();
    (classes.len(), visible)
}

/// 3×3-blurred-grey gradient magnitude (|dx| + |dy| by central differences, halved) over the
/// interior of `grey` (`w × h`), as a histogram of 512 bins.
fn gradient_histogram(grey: &[u8], w: usize, h: usize) -> [u32; 512] {
    let mut hist = [0u32; 512];
    if w < 3 || h < 3 {
        return hist;
    }
    // Blur 3×3 [1 2 1]² with integer arithmetic, interior only.
    let mut b = vec![0u16; w * h];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let at = |dx: usize, dy: usize| u16::from(grey[(y + dy - 1) * w + x + dx - 1]);
            let s = at(0, 0)
                + 2 * at(1, 0)
                + at(2, 0)
                + 2 * (at(0, 1) + 2 * at(1, 1) + at(2, 1))
                + at(0, 2)
                + 2 * at(1, 2)
                + at(2, 2);
            b[y * w + x] = s; // 16 × the blurred value
        }
    }
    for y in 2..h.saturating_sub(2) {
        for x in 2..w.saturating_sub(2) {
            let i = y * w + x;
            let dx = (i32::from(b[i + 1]) - i32::from(b[i - 1])).abs();
            let dy = (i32::from(b[i + w]) - i32::from(b[i - w])).abs();
            // (|dx| + |dy|) / 2 in grey levels = (dx + dy) / 32.
            let m = ((dx + dy) / 32).min(511) as usize;
            hist[m] += 1;
        }
    }
    hist
}

/// The `q`-quantile (0..1) of a histogram, in bin units.
fn hist_quantile(hist: &[u32], q: f32) -> f32 {
    let total: u64 = hist.iter().map(|&v| u64::from(v)).sum();
    if total == 0 {
        return 0.0;
    }
    let target = (q as f64 * total as f64).ceil().max(1.0) as u64;
    let mut acc = 0u64;
    for (i, &v) in hist.iter().enumerate() {
        acc += u64::from(v);
        if acc >= target {
            return i as f32;
        }
    }
    (hist.len() - 1) as f32
}

/// Scene sharpness of a vehicle crop: 90th percentile gradient magnitude (grey levels).
pub fn scene_sharpness(crop: &Image) -> f32 {
    let g = crop.grey();
    hist_quantile(&gradient_histogram(&g, crop.width, crop.height), 0.9)
}

/// Per-column gradient energy of the character band of a rectified plate (grey levels),
/// box-smoothed over 5 columns.
pub fn column_texture(plate: &Image) -> Vec<f32> {
    let (w, h) = (plate.width, plate.height);
    if w < 3 || h < 3 {
        return vec![0.0; w];
    }
    let g = plate.grey();
    let y0 = ((TEXT_BAND.0 * h as f32) as usize).max(1);
    let y1 = ((TEXT_BAND.1 * h as f32) as usize).min(h - 1).max(y0 + 1);
    let mut col = vec![0f32; w];
    for (x, c) in col.iter_mut().enumerate().take(w - 1).skip(1) {
        let mut s = 0i32;
        for y in y0..y1 {
            let i = y * w + x;
            let dx = (i32::from(g[i + 1]) - i32::from(g[i - 1])).abs();
            let dy = (i32::from(g[i + w]) - i32::from(g[i - w])).abs();
            s += dx + dy;
        }
        *c = s as f32 / (2 * (y1 - y0)) as f32;
    }
    (0..w)
        .map(|x| {
            let (a, b) = (x.saturating_sub(2), (x + 3).min(w));
            col[a..b].iter().sum::<f32>() / (b - a) as f32
        })
        .collect()
}

/// The fraction of `cols` at least `threshold`.
pub fn fraction_at_least(cols: &[f32], threshold: f32) -> f32 {
    if cols.is_empty() {
        return 0.0;
    }
    cols.iter().filter(|&&v| v >= threshold).count() as f32 / cols.len() as f32
}

/// The fraction of `cols` below `rel` × their 90th percentile (0 for a flat profile).
pub fn smooth_fraction(cols: &[f32], rel: f32) -> f32 {
    let mut sorted = cols.to_vec();
    sorted.sort_by(f32::total_cmp);
    let Some(&p90) = sorted.get((0.9 * (sorted.len().max(1) - 1) as f32).round() as usize) else {
        return 0.0;
    };
    if p90 <= 0.0 {
        return 0.0;
    }
    cols.iter().filter(|&&v| v < rel * p90).count() as f32 / cols.len() as f32
}

/// The evidence for a rectified plate `line` whose recogniser outputs are `probs` (one or two
/// rows), in a crop of sharpness `scene_sharpness`.
pub fn evidence(line: &Image, probs: &[&Probs], charset: &Charset, scene: f32) -> Evidence {
    let cols = column_texture(line);
    let (w, h) = (line.width, line.height);
    let band = ((TEXT_BAND.0 * h as f32) as usize..(TEXT_BAND.1 * h as f32) as usize)
        .map(|y| (y, 0, w.saturating_sub(1)))
        .collect::<Vec<_>>();
    let coherence = if w >= 3 && h >= 3 {
        let g = super::fallback::blur3(&line.grey(), w, h);
        super::fallback::texture(&band, &g, w, h).1
    } else {
        0.0
    };
    let plate_texture = cols.iter().sum::<f32>() / cols.len().max(1) as f32;
    let (glyphs, visible) = probs
        .iter()
        .map(|p| glyphs_and_visible(p, charset, VISIBLE_CONF))
        .fold((0, 0), |(g, v), (pg, pv)| (g + pg, v + pv));
    Evidence {
        visible,
        glyphs,
        text_cols: fraction_at_least(&cols, TEXT_COL_FRAC * scene.max(1.0)),
        smooth_cols: smooth_fraction(&cols, SMOOTH_COL_REL),
        plate_texture,
        scene_sharpness: scene,
        contrast: 0.0,
        coherence: coherence as f32,
        in_part: false,
        fragment: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripes(w: usize, h: usize, period: usize, from: usize, to: usize) -> Image {
        let mut img = Image::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let v = if (from..to).contains(&x) && (x / period).is_multiple_of(2) {
                    220
                } else {
                    40
                };
                img.data[3 * (y * w + x)..3 * (y * w + x) + 3].copy_from_slice(&[v, v, v]);
            }
        }
        img
    }

    /// Recogniser output over the classes blank, 京, A, 国 (not on plates), ·: one frame per
    /// `(class, peak probability)`, the rest shared evenly.
    fn probs(frames: &[(usize, f32)]) -> (Probs, Charset) {
        let cs = Charset::from_metadata("京\nA\n国\n·").unwrap();
        let classes = cs.len();
        let mut data = vec![0.0; frames.len() * classes];
        for (t, (c, p)) in frames.iter().enumerate() {
            data[t * classes..(t + 1) * classes].fill((1.0 - p) / (classes - 1) as f32);
            data[t * classes + c] = *p;
        }
        let p = Probs {
            frames: frames.len(),
            classes,
            data,
        };
        (p, cs)
    }

    #[test]
    fn glyphs_count_everything_emitted_visible_only_sure_plate_characters() {
        // A sure 京, blank, an unsure A, a sure 国, a sure A held over two frames (one
        // character).
        let (p, cs) = probs(&[(1, 0.9), (0, 0.9), (2, 0.4), (3, 0.9), (2, 0.9), (2, 0.9)]);
        assert_eq!(glyphs_and_visible(&p, &cs, VISIBLE_CONF), (4, 2));
    }

    #[test]
    fn a_fragment_is_three_or_four_sure_plate_characters_and_nothing_else() {
        let sure = |n: usize| -> Vec<(usize, f32)> {
            (0..n).flat_map(|i| [(1 + i % 2, 0.9), (0, 0.9)]).collect()
        };
        for (frames, want, why) in [
            (sure(3), true, "three sure characters"),
            (sure(4), true, "four"),
            (sure(2), false, "two: a stray mark"),
            (
                sure(5),
                false,
                "five: as many as a double-row plate's lower row",
            ),
            (
                [sure(3), vec![(2, 0.4)]].concat(),
                false,
                "and an unsure one",
            ),
            (
                [sure(3), vec![(3, 0.9)]].concat(),
                false,
                "and one not on plates",
            ),
        ] {
            let (p, cs) = probs(&frames);
            assert_eq!(is_fragment(&p, &cs), want, "{why}");
        }
    }

    #[test]
    fn plate_alphabet() {
        for c in "京粤A9Z0警使领港".chars() {
            assert!(plate_char(c), "{c}");
        }
        for c in "IOa国·".chars() {
            assert!(!plate_char(c), "{c}");
        }
    }

    #[test]
    fn text_columns_follow_the_strokes() {
        // Strokes on the left half only: about half the columns carry text.
        let img = stripes(192, 56, 4, 0, 96);
        let cols = column_texture(&img);
        let f = fraction_at_least(&cols, 20.0);
        assert!((0.45..0.56).contains(&f), "{f}");
        // The right half is smooth next to the strokes: a cover over half the characters.
        let s = smooth_fraction(&cols, SMOOTH_COL_REL);
        assert!((0.44..0.55).contains(&s), "{s}");
        // A flat plate has none.
        let flat = stripes(192, 56, 4, 0, 0);
        assert_eq!(fraction_at_least(&column_texture(&flat), 1.0), 0.0);
        assert_eq!(smooth_fraction(&column_texture(&flat), SMOOTH_COL_REL), 0.0);
        // Strokes everywhere: nothing smooth.
        let full = column_texture(&stripes(192, 56, 4, 0, 192));
        assert!(smooth_fraction(&full, SMOOTH_COL_REL) < 0.05);
    }

    #[test]
    fn folds_are_coherent_characters_are_not() {
        let (none, cs) = probs(&[]);
        let coherence = |img: &Image| evidence(img, &[&none], &cs, 10.0).coherence;
        // Parallel folds: the gradient keeps to one direction.
        let folds = coherence(&stripes(192, 56, 6, 0, 192));
        assert!(folds > 0.99, "{folds}");
        // Blobs the size of characters' strokes, in a grid: every direction alike.
        let mut blobs = Image::new(192, 56);
        for (i, px) in blobs.data.chunks_exact_mut(3).enumerate() {
            let (x, y) = (i % 192, i / 192);
            px.fill(if (x / 6 + y / 6) % 2 == 0 { 220 } else { 40 });
        }
        let text = coherence(&blobs);
        assert!(text < 0.1, "{text}");
    }

    #[test]
    fn sharpness_drops_on_a_flat_scene() {
        let sharp = scene_sharpness(&stripes(200, 100, 3, 0, 200));
        let flat = scene_sharpness(&stripes(200, 100, 3, 0, 0));
        assert!(sharp > 50.0, "{sharp}");
        assert_eq!(flat, 0.0);
        assert_eq!(hist_quantile(&[0, 10, 0, 10], 0.9), 3.0);
        assert_eq!(hist_quantile(&[0; 4], 0.9), 0.0);
    }
}
