//! A sighting: one vehicle passing one camera, the unit investigators search.
//!
//! Fields follow GA/T 1400 MotorVehicle (DeviceID, PassTime, VehicleClass, VehicleColor, PlateNo,
//! PlateColor, HasPlate/IsCovered, PlateReliability, PlateCharReliability, StorageUrl), so a
//! record maps onto that standard one to one. A sighting is identified everywhere by its
//! [`SightingKey`]: the edge node that made it and that node's sequence number, which is what
//! makes federation replays harmless.

use crate::{BBox, PlateColor, PlateState, VehicleClass, VehicleColor};

/// Globally unique identity of a sighting: the edge node that made it and its number there.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct SightingKey {
    pub origin: String,
    pub seq: u64,
}

impl std::fmt::Display for SightingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.origin, self.seq)
    }
}

/// What the edge read from a vehicle's plate.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct PlateRead {
    pub state: PlateState,
    /// Plate number (e.g. `晋M12345`) when `state` is `Read`.
    pub text: Option<String>,
    pub color: PlateColor,
    /// Whole-plate confidence in [0, 1].
    pub confidence: f32,
    /// One confidence per character of `text`.
    pub char_confidences: Vec<f32>,
}

/// One vehicle passing one camera.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Sighting {
    /// Zero `seq` until the edge's outbox numbers it.
    pub key: SightingKey,
    /// Camera id as configured on the edge.
    pub camera: String,
    /// GA/T 1400 DeviceID of the camera (20 digits in production; the camera id when unset).
    pub device_id: String,
    /// When the best shot was taken (GA/T 1400 PassTime), Unix ms.
    pub pass_time_ms: i64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub class: VehicleClass,
    pub class_confidence: f32,
    pub color: VehicleColor,
    pub color_confidence: f32,
    pub plate: PlateRead,
    /// Best-shot box in source pixels, and the source frame size.
    pub bbox: BBox,
    pub frame_width: u32,
    pub frame_height: u32,
    /// Number of analysed frames in which the tracker saw this vehicle.
    pub frames: u32,
    /// Where the best-shot crop can be fetched (GA/T 1400 StorageUrl); empty when none was kept.
    pub crop_ref: String,
    /// Where the crop of the plate that was read (or found covered) can be fetched; empty when
    /// no plate region was found.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plate_crop_ref: String,
    /// Direction of travel in the image, in degrees clockwise from "up the image": 0 up,
    /// 90 right, 180 down, 270 left. `None` when the vehicle hardly moved (parked, queueing).
    #[serde(default)]
    pub direction_deg: Option<f32>,
    /// Appearance of the best shot (256 bytes), for "similar vehicle" search and for linking
    /// vehicles whose plate could not be read; `None` when no classifier ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<crate::Embedding>,
}

impl Sighting {
    /// [`Sighting::direction_deg`] as one of eight coarse names (`up`, `up-right`, `right`,
    /// `down-right`, `down`, `down-left`, `left`, `up-left`).
    pub fn direction_name(&self) -> Option<&'static str> {
        const NAMES: [&str; 8] = [
            "up",
            "up-right",
            "right",
            "down-right",
            "down",
            "down-left",
            "left",
            "up-left",
        ];
        let deg = self.direction_deg?.rem_euclid(360.0);
        Some(NAMES[((deg + 22.5) / 45.0) as usize % 8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_names_cover_the_compass() {
        let name = |d: Option<f32>| {
            Sighting {
                direction_deg: d,
                ..Default::default()
            }
            .direction_name()
        };
        assert_eq!(name(None), None);
        assert_eq!(name(Some(0.0)), Some("up"));
        assert_eq!(name(Some(350.0)), Some("up"));
        assert_eq!(name(Some(-10.0)), Some("up"));
        assert_eq!(name(Some(90.0)), Some("right"));
        assert_eq!(name(Some(135.0)), Some("down-right"));
        assert_eq!(name(Some(200.0)), Some("down"));
        assert_eq!(name(Some(270.0)), Some("left"));
        assert_eq!(name(Some(300.0)), Some("up-left"));
    }
}
