//! Fixtures for the investigation tests: a small town of cameras with positions, and
//! sightings built in one line.

use base::{Embedding, PlateRead, PlateState, Sighting, VehicleClass, VehicleColor};

use super::CameraGeo;
use crate::Store;

/// 2024-05-01 00:00 UTC plus `minutes`.
pub(crate) fn at(minutes: i64) -> i64 {
    1_714_521_600_000 + minutes * 60_000
}

/// Cameras: `c-north` and `c-north-2` (盐湖区, 35.1 N), `c-south` (临猗县, 34.9 N, ~22 km
/// south), `c-far` (河津市, 35.6 N, ~55 km north), `c-east` (盐湖区, 35.1 N, 111.05 E).
pub(crate) fn town() -> Store {
    let store = Store::open_in_memory().unwrap();
    let cam = |c: &str, county: &str, lat, lon| CameraGeo {
        camera: c.into(),
        county: county.into(),
        lat,
        lon,
    };
    store
        .put_cameras_geo(&[
            cam("c-north", "盐湖区", 35.1, 111.0),
            cam("c-north-2", "盐湖区", 35.1005, 111.0),
            cam("c-east", "盐湖区", 35.1, 111.05),
            cam("c-south", "临猗县", 34.9, 111.0),
            cam("c-far", "河津市", 35.6, 111.0),
        ])
        .unwrap();
    store
}

/// A car with a read plate.
pub(crate) fn plated(plate: &str, camera: &str, t: i64) -> Sighting {
    Sighting {
        camera: camera.into(),
        device_id: camera.into(),
        pass_time_ms: t,
        first_seen_ms: t - 500,
        last_seen_ms: t + 500,
        class: VehicleClass::Car,
        class_confidence: 0.9,
        color: VehicleColor::Black,
        color_confidence: 0.9,
        plate: PlateRead {
            state: PlateState::Read,
            text: Some(plate.into()),
            confidence: 0.95,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A vehicle without a readable plate.
pub(crate) fn plateless(
    camera: &str,
    t: i64,
    class: VehicleClass,
    color: VehicleColor,
    state: PlateState,
    embedding: Embedding,
) -> Sighting {
    Sighting {
        camera: camera.into(),
        device_id: camera.into(),
        pass_time_ms: t,
        class,
        color,
        plate: PlateRead {
            state,
            ..Default::default()
        },
        embedding: Some(embedding),
        ..Default::default()
    }
}

/// A deterministic pseudo-random appearance for vehicle `id`, with `noise` (0..=127) added
/// from `salt`: the same id with small noise stays above cosine 0.9, different ids are ~0.
pub(crate) fn look(id: u64, salt: u64, noise: i32) -> Embedding {
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut y = (salt + 1).wrapping_mul(0xD1B5_4A32_D192_ED03) | 1;
    let step = |s: &mut u64| {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    };
    Embedding::from_components(std::array::from_fn(|_| {
        let base = (step(&mut x) % 201) as i32 - 100;
        let n = if noise > 0 {
            (step(&mut y) % (2 * noise as u64 + 1)) as i32 - noise
        } else {
            0
        };
        (base + n).clamp(-127, 127) as i8
    }))
}
