//! Plate background colour, classically (agentclpr has no colour model): the syntax decides
//! where it is unambiguous, otherwise the majority HSV class of the plate's interior pixels.
//!
//! Rules (`eval.colour_of` of the Python reference): a reading ending in 警 is white; ending in
//! 港 澳 使 领 or starting with 使 is black; ending in 学 or 挂 is yellow; 8 characters is green.
//! Otherwise each pixel of the rectified interior (160×50, quad shrunk by 6 %) is classed by
//! OpenCV-style 8-bit HSV (H 0..180): chromatic (S ≥ 70, V ≥ 50) with H 95–135 blue, 11–34
//! yellow, 35–94 green; achromatic V ≥ 140 white, V < 90 black; the largest class wins, and green
//! wins whenever it covers ≥ 20 % (the new-energy gradient is pale at the top). Double-row
//! plates are yellow but no rule says so from the text alone (the pixels do).
//! Performance contract: 8000 pixels, a few microseconds.

use base::PlateColor;

use super::image::Image;

/// Size of the rectified interior the pixel vote runs on, and its margin.
pub const COLOUR_SIZE: (usize, usize) = (160, 50);
pub const COLOUR_MARGIN: f32 = -0.06;

const CLASSES: [PlateColor; 5] = [
    PlateColor::Blue,
    PlateColor::Yellow,
    PlateColor::Green,
    PlateColor::White,
    PlateColor::Black,
];

/// OpenCV `COLOR_RGB2HSV` for 8-bit pixels: H in 0..180, S and V in 0..=255.
pub fn hsv(p: [u8; 3]) -> (u8, u8, u8) {
    let [r, g, b] = p.map(i32::from);
    let v = r.max(g).max(b);
    let diff = v - r.min(g).min(b);
    let s = if v == 0 {
        0
    } else {
        (f64::from(diff) * 255.0 / f64::from(v)).round() as i32
    };
    let h = if diff == 0 {
        0.0
    } else {
        let d = f64::from(diff);
        let h = if v == r {
            60.0 * f64::from(g - b) / d
        } else if v == g {
            120.0 + 60.0 * f64::from(b - r) / d
        } else {
            240.0 + 60.0 * f64::from(r - g) / d
        };
        if h < 0.0 {
            h + 360.0
        } else {
            h
        }
    };
    let h = (h / 2.0).round() as i32 % 180;
    (h as u8, s as u8, v as u8)
}

/// Fractions of the pixels of `plate` in each class, in the order blue, yellow, green, white,
/// black (pixels in none of them count in the denominator only).
pub fn class_fractions(plate: &Image) -> [f32; 5] {
    let mut counts = [0u32; 5];
    for p in plate.data.chunks_exact(3) {
        let (h, s, v) = hsv([p[0], p[1], p[2]]);
        let chroma = s >= 70 && v >= 50;
        let class = if chroma {
            match h {
                95..=135 => Some(0),
                11..=34 => Some(1),
                35..=94 => Some(2),
                _ => None,
            }
        } else if v >= 140 {
            Some(3)
        } else if v < 90 {
            Some(4)
        } else {
            None
        };
        if let Some(c) = class {
            counts[c] += 1;
        }
    }
    let n = (plate.width * plate.height) as f32;
    counts.map(|c| c as f32 / n)
}

/// The colour the pixels say.
pub fn pixel_colour(plate: &Image) -> PlateColor {
    let f = class_fractions(plate);
    if f[2] >= 0.2 {
        return PlateColor::Green;
    }
    let mut best = 0;
    for i in 1..5 {
        if f[i] > f[best] {
            best = i;
        }
    }
    CLASSES[best]
}

/// The colour a plate reading implies, if any.
pub fn text_colour(text: &str) -> Option<PlateColor> {
    let first = text.chars().next()?;
    let last = text.chars().last()?;
    if last == '警' {
        Some(PlateColor::White)
    } else if "港澳使领".contains(last) || first == '使' {
        Some(PlateColor::Black)
    } else if "学挂".contains(last) {
        Some(PlateColor::Yellow)
    } else if text.chars().count() == 8 {
        Some(PlateColor::Green)
    } else {
        None
    }
}

/// Plate colour from the rectified interior and, when the plate was read, its text.
pub fn plate_colour(interior: &Image, text: Option<&str>) -> PlateColor {
    text.and_then(text_colour)
        .unwrap_or_else(|| pixel_colour(interior))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(rgb: [u8; 3]) -> Image {
        let mut img = Image::new(16, 5);
        for p in img.data.chunks_exact_mut(3) {
            p.copy_from_slice(&rgb);
        }
        img
    }

    #[test]
    fn hsv_matches_opencv() {
        // cv2.cvtColor(np.uint8([[[R, G, B]]]), cv2.COLOR_RGB2HSV)
        assert_eq!(hsv([18, 70, 185]), (111, 230, 185));
        assert_eq!(hsv([242, 190, 15]), (23, 239, 242));
        assert_eq!(hsv([90, 195, 120]), (69, 137, 195));
        assert_eq!(hsv([10, 200, 30]), (63, 242, 200));
        assert_eq!(hsv([200, 30, 10]), (3, 242, 200));
        assert_eq!(hsv([255, 0, 0]), (0, 255, 255));
        assert_eq!(hsv([255, 0, 1]), (0, 255, 255));
        assert_eq!(hsv([0, 0, 0]), (0, 0, 0));
    }

    #[test]
    fn pixels_vote_for_the_render_colours() {
        // The background colours gen_eval.py paints.
        assert_eq!(pixel_colour(&filled([18, 70, 185])), PlateColor::Blue);
        assert_eq!(pixel_colour(&filled([242, 190, 15])), PlateColor::Yellow);
        assert_eq!(pixel_colour(&filled([90, 195, 120])), PlateColor::Green);
        assert_eq!(pixel_colour(&filled([238, 238, 238])), PlateColor::White);
        assert_eq!(pixel_colour(&filled([18, 18, 18])), PlateColor::Black);
        // 20 % green beats a white majority (the new-energy gradient).
        let mut img = filled([238, 238, 238]);
        for p in img.data.chunks_exact_mut(3).take(16) {
            p.copy_from_slice(&[90, 195, 120]);
        }
        assert_eq!(pixel_colour(&img), PlateColor::Green);
    }

    #[test]
    fn the_text_decides_where_it_can() {
        let blue = filled([18, 70, 185]);
        assert_eq!(plate_colour(&blue, Some("京A1234警")), PlateColor::White);
        assert_eq!(plate_colour(&blue, Some("粤Z1234港")), PlateColor::Black);
        assert_eq!(plate_colour(&blue, Some("使123456")), PlateColor::Black);
        assert_eq!(plate_colour(&blue, Some("京A1234学")), PlateColor::Yellow);
        assert_eq!(plate_colour(&blue, Some("沪AD12345")), PlateColor::Green);
        assert_eq!(plate_colour(&blue, Some("京A12345")), PlateColor::Blue);
        assert_eq!(plate_colour(&blue, None), PlateColor::Blue);
    }
}
