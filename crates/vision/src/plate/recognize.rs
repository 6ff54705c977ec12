//! The plate recogniser: PP-OCRv4 rec (`ch_PP-OCRv4_rec_infer.onnx` from rapidocr-onnxruntime
//! 1.4.4), a CTC text-line model, with its preprocessing and the charset read from the model.
//!
//! Contract (REPORT.md §3): input `x` f32 `[1, 3, 48, W]`, **BGR**, `(v / 255 − 0.5) / 0.5`, the
//! line resized to height 48 keeping its aspect (`w' = ceil(48 · w / h)`, bilinear), right-padded
//! with 0 to at least 320; output `[1, W/8, C]` softmax probabilities. Classes: 0 = CTC blank,
//! `1..=6623` = the lines of the model's ONNX metadata key `character`, the last = space.
//!
//! Invariants: [`Probs`] rows sum to ~1 and have the separator classes ([`SEPARATORS`]: the
//! plate's dot read as `·`, `：`, `.` …, and space) folded into the blank, so decoding never
//! sees them. Performance contract: ~30 ms per 320-wide line on one thread (the model);
//! preprocessing is a 165×48 resize.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::TensorRef;

use super::image::{round_u8, Image};
use crate::Error;

/// Height of the model input.
pub const LINE_HEIGHT: usize = 48;
/// Minimum input width (narrower lines are padded).
pub const MIN_WIDTH: usize = 320;
/// Characters printed on plates between groups (the dot) or read for it; their probability
/// goes to the blank.
pub const SEPARATORS: &str = "·•.,-:;'\"。，、 ・：．－；|";

/// CTC probabilities of one line: `frames × classes`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Probs {
    pub frames: usize,
    pub classes: usize,
    pub data: Vec<f32>,
}

impl Probs {
    /// Row `t`.
    #[inline]
    pub fn row(&self, t: usize) -> &[f32] {
        &self.data[t * self.classes..(t + 1) * self.classes]
    }
}

/// The model's character table: class → character (class 0, the blank, is `'\0'`) and
/// character → class.
#[derive(Debug, Clone)]
pub struct Charset {
    chars: Vec<char>,
    index: HashMap<char, usize>,
    fold: Vec<usize>,
}

impl Charset {
    /// From the `character` metadata (newline-separated, one character per line): blank first,
    /// then the lines, then space. Later duplicates win in the reverse map, as in the Python
    /// reference. `Err` names a line that is not one character.
    pub fn from_metadata(character: &str) -> Result<Charset, String> {
        let mut chars = vec!['\0'];
        for (i, line) in character.split('\n').enumerate() {
            let mut it = line.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => chars.push(c),
                _ => return Err(format!("line {} of `character` is {line:?}", i + 1)),
            }
        }
        chars.push(' ');
        let index: HashMap<char, usize> = chars
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, c)| (*c, i))
            .collect();
        let fold = SEPARATORS
            .chars()
            .filter_map(|c| index.get(&c).copied())
            .collect();
        Ok(Charset { chars, index, fold })
    }

    /// Number of classes including the blank.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Never true for a loaded model (there is always the blank and the space).
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The character of class `i` (`'\0'` for the blank).
    pub fn char(&self, i: usize) -> char {
        self.chars[i]
    }

    /// The class of `c`, if the model has it.
    pub fn class(&self, c: char) -> Option<usize> {
        self.index.get(&c).copied()
    }

    /// Adds the separator classes' probability to the blank and zeroes them, per frame.
    pub fn fold_separators(&self, p: &mut Probs) {
        for t in 0..p.frames {
            let row = &mut p.data[t * p.classes..(t + 1) * p.classes];
            let extra: f32 = self.fold.iter().map(|&i| row[i]).sum();
            row[0] += extra;
            for &i in &self.fold {
                row[i] = 0.0;
            }
        }
    }
}

/// Resizes `img` to `w × h` bilinearly with pixel centres aligned (OpenCV `INTER_LINEAR`, no
/// antialiasing), rounding to bytes.
pub fn resize_linear(img: &Image, w: usize, h: usize) -> Image {
    let tap = |o: usize, src: usize, dst: usize| -> (usize, usize, f32) {
        let s = (o as f32 + 0.5) * src as f32 / dst as f32 - 0.5;
        let s = s.max(0.0);
        let i0 = (s as usize).min(src - 1);
        let i1 = (i0 + 1).min(src - 1);
        (i0, i1, if i1 == i0 { 0.0 } else { s - i0 as f32 })
    };
    let xs: Vec<_> = (0..w).map(|x| tap(x, img.width, w)).collect();
    let mut out = Image::new(w, h);
    for y in 0..h {
        let (y0, y1, fy) = tap(y, img.height, h);
        for (x, &(x0, x1, fx)) in xs.iter().enumerate() {
            let (a, b) = (img.pixel(x0, y0), img.pixel(x1, y0));
            let (c, d) = (img.pixel(x0, y1), img.pixel(x1, y1));
            for i in 0..3 {
                let top = f32::from(a[i]) * (1.0 - fx) + f32::from(b[i]) * fx;
                let bot = f32::from(c[i]) * (1.0 - fx) + f32::from(d[i]) * fx;
                out.data[3 * (y * w + x) + i] = round_u8(top * (1.0 - fy) + bot * fy);
            }
        }
    }
    out
}

/// Fills `out` with the model input for a text line: `[3, 48, W]`, returns `W`.
pub fn fill_input(line: &Image, out: &mut Vec<f32>) -> usize {
    let rw = ((LINE_HEIGHT * line.width) as f64 / line.height as f64)
        .ceil()
        .max(1.0) as usize;
    let resized = resize_linear(line, rw, LINE_HEIGHT);
    let w = rw.max(MIN_WIDTH);
    let plane = LINE_HEIGHT * w;
    out.clear();
    out.resize(3 * plane, 0.0);
    for y in 0..LINE_HEIGHT {
        for x in 0..rw {
            let p = resized.pixel(x, y);
            // BGR planes.
            for (c, v) in [p[2], p[1], p[0]].into_iter().enumerate() {
                out[c * plane + y * w + x] = (f32::from(v) / 255.0 - 0.5) / 0.5;
            }
        }
    }
    w
}

/// The recogniser model with its charset and reused input buffer.
#[derive(Debug)]
pub struct Recogniser {
    session: Session,
    model: PathBuf,
    charset: Charset,
    input: Vec<f32>,
}

impl Recogniser {
    /// Loads the model at `path` and reads its charset from the `character` metadata.
    pub fn open(path: &Path, threads: usize) -> Result<Recogniser, Error> {
        let session = crate::runtime::session(path, threads)?;
        let contract = |reason: String| Error::ModelContract {
            path: path.to_owned(),
            reason,
        };
        let meta = session
            .metadata()
            .map_err(|e| Error::ort(format!("reading metadata of {}", path.display()), e))?;
        let character = meta.custom("character").ok_or_else(|| {
            contract(
                "no `character` metadata; expected PP-OCRv4 rec (ch_PP-OCRv4_rec_infer.onnx)"
                    .into(),
            )
        })?;
        let charset = Charset::from_metadata(&character).map_err(contract)?;
        drop(meta);
        Ok(Recogniser {
            session,
            model: path.to_owned(),
            charset,
            input: Vec::new(),
        })
    }

    /// The model's characters.
    pub fn charset(&self) -> &Charset {
        &self.charset
    }

    /// CTC probabilities of one text line, separators folded into the blank.
    pub fn probs(&mut self, line: &Image) -> Result<Probs, Error> {
        let w = fill_input(line, &mut self.input);
        let context = || {
            format!(
                "running plate recogniser {} on a {w}-wide line",
                self.model.display()
            )
        };
        let tensor = TensorRef::from_array_view(([1usize, 3, LINE_HEIGHT, w], &self.input[..]))
            .map_err(|e| Error::ort(context(), e))?;
        let outputs = self
            .session
            .run(ort::inputs![tensor])
            .map_err(|e| Error::ort(context(), e))?;
        let (shape, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| Error::ort(context(), e))?;
        let classes = self.charset.len();
        let frames = match **shape {
            [1, t, c] if t > 0 && c as usize == classes => t as usize,
            _ => {
                return Err(Error::ModelContract {
                    path: self.model.clone(),
                    reason: format!(
                    "output shape {shape}, expected [1, T, {classes}] (charset + blank + space)"
                ),
                })
            }
        };
        let mut p = Probs {
            frames,
            classes,
            data: data.to_vec(),
        };
        self.charset.fold_separators(&mut p);
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_has_blank_first_space_last_and_folds_separators() {
        let cs = Charset::from_metadata("京\nA\n·\n1\n：").unwrap();
        assert_eq!(cs.len(), 7);
        assert_eq!((cs.char(1), cs.char(5), cs.char(6)), ('京', '：', ' '));
        assert_eq!(cs.class('A'), Some(2));
        assert_eq!(cs.class('Z'), None);
        let mut p = Probs {
            frames: 1,
            classes: 7,
            data: vec![0.1, 0.2, 0.1, 0.3, 0.1, 0.15, 0.05],
        };
        cs.fold_separators(&mut p);
        // '·' (3), '：' (5) and ' ' (6) went to the blank.
        let want = [0.6, 0.2, 0.1, 0.0, 0.1, 0.0, 0.0];
        for (a, b) in p.data.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{:?}", p.data);
        }
        assert!(Charset::from_metadata("京\nAB")
            .unwrap_err()
            .contains("line 2"));
    }

    #[test]
    fn line_input_is_bgr_normalised_and_padded_to_320() {
        // A 192×56 plate line becomes 165×48, padded to 320.
        let mut line = Image::new(192, 56);
        for p in line.data.chunks_exact_mut(3) {
            p.copy_from_slice(&[255, 0, 51]);
        }
        let mut buf = Vec::new();
        assert_eq!(fill_input(&line, &mut buf), 320);
        let plane = 48 * 320;
        assert_eq!(buf.len(), 3 * plane);
        // B = 51 → -0.6, G = 0 → -1, R = 255 → 1.
        assert!((buf[0] + 0.6).abs() < 1e-6 && buf[plane] == -1.0 && buf[2 * plane] == 1.0);
        assert_eq!(buf[164], buf[0]);
        assert_eq!(buf[165], 0.0);
        // A long line keeps its width.
        assert_eq!(fill_input(&Image::new(400, 48), &mut buf), 400);
    }

    #[test]
    fn resize_matches_pixel_centre_alignment() {
        // 4 → 2 columns: outputs sample at source 0.5 and 2.5.
        let img = Image::from_rgb(
            4,
            1,
            vec![0, 0, 0, 100, 100, 100, 200, 200, 200, 250, 250, 250],
        )
        .unwrap();
        let r = resize_linear(&img, 2, 1);
        assert_eq!(r.data, vec![50, 50, 50, 225, 225, 225]);
        // Upscaling clamps at the borders.
        let r = resize_linear(&img, 8, 1);
        assert_eq!(r.pixel(0, 0), [0, 0, 0]);
        assert_eq!(r.pixel(7, 0), [250, 250, 250]);
    }
}
