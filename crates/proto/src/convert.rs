//! `From`/`TryFrom` between `base` domain types and the `v1` wire messages.
//!
//! Domain → wire never fails. Wire → domain checks what a well-behaved peer always sends (the
//! sighting key, finite box coordinates, a camera id) and names the offending field otherwise.

use crate::v1;

/// A message from a peer that does not describe a valid domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {message}: {problem}")]
pub struct WireError {
    pub message: &'static str,
    pub problem: String,
}

fn bad(message: &'static str, problem: impl Into<String>) -> WireError {
    WireError {
        message,
        problem: problem.into(),
    }
}

impl From<&base::Sighting> for v1::Sighting {
    fn from(s: &base::Sighting) -> Self {
        v1::Sighting {
            key: Some(v1::SightingKey {
                origin: s.key.origin.clone(),
                seq: s.key.seq,
            }),
            camera: s.camera.clone(),
            device_id: s.device_id.clone(),
            pass_time_ms: s.pass_time_ms,
            first_seen_ms: s.first_seen_ms,
            last_seen_ms: s.last_seen_ms,
            vehicle_class: s.class.code(),
            class_confidence: s.class_confidence,
            vehicle_color: s.color.code(),
            color_confidence: s.color_confidence,
            plate: Some(v1::PlateRead {
                state: s.plate.state.code(),
                text: s.plate.text.clone().unwrap_or_default(),
                color: s.plate.color.code(),
                confidence: s.plate.confidence,
                char_confidences: s.plate.char_confidences.clone(),
            }),
            bbox: Some(v1::BBox {
                x1: s.bbox.x1,
                y1: s.bbox.y1,
                x2: s.bbox.x2,
                y2: s.bbox.y2,
            }),
            frame_width: s.frame_width,
            frame_height: s.frame_height,
            frames: s.frames,
            crop_ref: s.crop_ref.clone(),
        }
    }
}

impl TryFrom<v1::Sighting> for base::Sighting {
    type Error = WireError;

    fn try_from(s: v1::Sighting) -> Result<Self, WireError> {
        let key = s.key.ok_or_else(|| bad("sighting", "missing key"))?;
        if key.origin.is_empty() {
            return Err(bad("sighting", "empty key.origin"));
        }
        if s.camera.is_empty() {
            return Err(bad(
                "sighting",
                format!("{}#{}: empty camera", key.origin, key.seq),
            ));
        }
        let b = s.bbox.unwrap_or_default();
        if ![b.x1, b.y1, b.x2, b.y2].iter().all(|v| v.is_finite()) {
            return Err(bad(
                "sighting",
                format!("{}#{}: non-finite bbox", key.origin, key.seq),
            ));
        }
        let plate = s.plate.unwrap_or_default();
        Ok(base::Sighting {
            key: base::SightingKey {
                origin: key.origin,
                seq: key.seq,
            },
            camera: s.camera,
            device_id: s.device_id,
            pass_time_ms: s.pass_time_ms,
            first_seen_ms: s.first_seen_ms,
            last_seen_ms: s.last_seen_ms,
            class: base::VehicleClass::from_code(s.vehicle_class),
            class_confidence: s.class_confidence,
            color: base::VehicleColor::from_code(s.vehicle_color),
            color_confidence: s.color_confidence,
            plate: base::PlateRead {
                state: base::PlateState::from_code(plate.state),
                text: (!plate.text.is_empty()).then_some(plate.text),
                color: base::PlateColor::from_code(plate.color),
                confidence: plate.confidence,
                char_confidences: plate.char_confidences,
            },
            bbox: base::BBox {
                x1: b.x1,
                y1: b.y1,
                x2: b.x2,
                y2: b.y2,
            },
            frame_width: s.frame_width,
            frame_height: s.frame_height,
            frames: s.frames,
            crop_ref: s.crop_ref,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> base::Sighting {
        base::Sighting {
            key: base::SightingKey {
                origin: "edge-1".into(),
                seq: 7,
            },
            camera: "gate-east".into(),
            device_id: "14080000001320000001".into(),
            pass_time_ms: 1_700_000_000_000,
            first_seen_ms: 1_699_999_999_000,
            last_seen_ms: 1_700_000_001_000,
            class: base::VehicleClass::Suv,
            class_confidence: 0.8,
            color: base::VehicleColor::White,
            color_confidence: 0.7,
            plate: base::PlateRead {
                state: base::PlateState::Read,
                text: Some("晋M12345".into()),
                color: base::PlateColor::Blue,
                confidence: 0.9,
                char_confidences: vec![0.9; 7],
            },
            bbox: base::BBox {
                x1: 1.0,
                y1: 2.0,
                x2: 30.0,
                y2: 40.0,
            },
            frame_width: 640,
            frame_height: 272,
            frames: 12,
            crop_ref: String::new(),
        }
    }

    #[test]
    fn sighting_round_trips() {
        let s = sample();
        let wire = v1::Sighting::from(&s);
        assert_eq!(base::Sighting::try_from(wire).unwrap(), s);
    }

    #[test]
    fn rejects_missing_key_and_nan_box() {
        let mut wire = v1::Sighting::from(&sample());
        wire.key = None;
        assert!(base::Sighting::try_from(wire)
            .unwrap_err()
            .to_string()
            .contains("missing key"));
        let mut wire = v1::Sighting::from(&sample());
        wire.bbox.as_mut().unwrap().x1 = f32::NAN;
        assert!(base::Sighting::try_from(wire)
            .unwrap_err()
            .to_string()
            .contains("edge-1#7"));
    }
}
