//! Synthetic sightings for load and chaos tests: the `i`-th sighting of a feed is a pure
//! function of `i`, so a feed that is killed and restarted continues with exactly the sighting
//! that was not yet recorded, and a test can check which ones arrived. Each carries a distinct,
//! syntactically valid Shanxi plate (`晋M` + 5 characters, a bijection of `i`).

use base::{BBox, PlateColor, PlateRead, PlateState, Sighting, VehicleClass, VehicleColor};

/// The 34 letters and digits a plate uses after the prefix (no I or O).
const PLATE_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// The plate of the `i`-th synthetic vehicle: `晋M` + `i` in base 34, five places.
pub fn plate(i: u64) -> String {
    let mut chars = [0u8; 5];
    let mut n = i;
    for c in chars.iter_mut().rev() {
        *c = PLATE_CHARS[(n % 34) as usize];
        n /= 34;
    }
    // A plate's first character after the prefix is a letter for ordinary plates; a digit is
    // valid too, and keeps the mapping a bijection over 34^5 = 45 million vehicles.
    format!("晋M{}", std::str::from_utf8(&chars).unwrap_or("00000"))
}

/// The `i`-th sighting (1-based), seen at `at_ms` by one of `cameras` cameras.
pub fn sighting(i: u64, at_ms: i64, cameras: u64) -> Sighting {
    let classes = [
        VehicleClass::Car,
        VehicleClass::Car,
        VehicleClass::Suv,
        VehicleClass::Van,
        VehicleClass::Truck,
        VehicleClass::Bus,
    ];
    let colors = [
        VehicleColor::White,
        VehicleColor::Black,
        VehicleColor::Grey,
        VehicleColor::Red,
        VehicleColor::Blue,
    ];
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let camera = format!("cam-{}", 1 + h % cameras.max(1));
    let x = (h >> 8) % 1600;
    Sighting {
        camera: camera.clone(),
        device_id: camera,
        pass_time_ms: at_ms,
        first_seen_ms: at_ms - 1500,
        last_seen_ms: at_ms + 500,
        class: classes[(h >> 20) as usize % classes.len()],
        class_confidence: 0.9,
        color: colors[(h >> 28) as usize % colors.len()],
        color_confidence: 0.8,
        plate: PlateRead {
            state: PlateState::Read,
            text: Some(plate(i)),
            color: PlateColor::Blue,
            confidence: 0.95,
            char_confidences: vec![0.95; 7],
        },
        bbox: BBox {
            x1: x as f32,
            y1: 400.0,
            x2: x as f32 + 300.0,
            y2: 640.0,
        },
        frame_width: 1920,
        frame_height: 1080,
        frames: 8,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_are_distinct_and_valid() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            let p = plate(i);
            assert!(base::plate::validate(&p).is_ok(), "{p}");
            assert!(seen.insert(p));
        }
        assert_eq!(sighting(7, 1000, 4), sighting(7, 1000, 4));
    }
}
