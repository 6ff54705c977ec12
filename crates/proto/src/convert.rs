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
            plate_crop_ref: s.plate_crop_ref.clone(),
            direction_deg: s.direction_deg,
            embedding: s
                .embedding
                .as_ref()
                .map(|e| e.to_bytes().to_vec())
                .unwrap_or_default(),
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
        let embedding = match s.embedding.len() {
            0 => None,
            _ => Some(base::Embedding::from_bytes(&s.embedding).ok_or_else(|| {
                bad(
                    "sighting",
                    format!(
                        "{}#{}: embedding of {} bytes, expected {}",
                        key.origin,
                        key.seq,
                        s.embedding.len(),
                        base::Embedding::DIM
                    ),
                )
            })?),
        };
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
            plate_crop_ref: s.plate_crop_ref,
            direction_deg: s.direction_deg.filter(|d| d.is_finite()),
            embedding,
        })
    }
}

impl From<&base::CameraHealth> for v1::CameraHealth {
    fn from(h: &base::CameraHealth) -> Self {
        v1::CameraHealth {
            camera: h.camera.clone(),
            state: h.state.code(),
            since_ms: h.since_ms,
            reason: h.reason.clone(),
            frames_decoded: h.frames_decoded,
            reconnects: h.reconnects,
            fps: h.fps,
            last_frame_ms: h.last_frame_ms,
            expected_fps: h.expected_fps,
            bitrate_kbps: h.bitrate_kbps,
            decode_errors: h.decode_errors,
            codec: h.codec.clone(),
            width: h.width,
            height: h.height,
            clock_skew_ms: h.clock_skew_ms,
            diagnoses: h
                .diagnoses
                .iter()
                .map(|d| v1::Diagnosis {
                    kind: d.kind.clone(),
                    score: d.score,
                    threshold: d.threshold,
                    since_ms: d.since_ms,
                })
                .collect(),
        }
    }
}

impl TryFrom<v1::CameraHealth> for base::CameraHealth {
    type Error = WireError;

    fn try_from(h: v1::CameraHealth) -> Result<Self, WireError> {
        if h.camera.is_empty() {
            return Err(bad("camera health", "empty camera"));
        }
        if !(h.fps.is_finite() && h.expected_fps.is_finite() && h.bitrate_kbps.is_finite()) {
            return Err(bad(
                "camera health",
                format!("{}: non-finite rate", h.camera),
            ));
        }
        Ok(base::CameraHealth {
            camera: h.camera,
            state: base::CameraState::from_code(h.state),
            since_ms: h.since_ms,
            reason: h.reason,
            frames_decoded: h.frames_decoded,
            reconnects: h.reconnects,
            decode_errors: h.decode_errors,
            fps: h.fps,
            expected_fps: h.expected_fps,
            bitrate_kbps: h.bitrate_kbps,
            last_frame_ms: h.last_frame_ms,
            codec: h.codec,
            width: h.width,
            height: h.height,
            clock_skew_ms: h.clock_skew_ms,
            diagnoses: h
                .diagnoses
                .into_iter()
                .map(|d| base::Diagnosis {
                    kind: d.kind,
                    score: d.score,
                    threshold: d.threshold,
                    since_ms: d.since_ms,
                })
                .collect(),
        })
    }
}

impl From<&base::HealthReport> for v1::HealthReport {
    fn from(r: &base::HealthReport) -> Self {
        v1::HealthReport {
            node: r.node.clone(),
            at_ms: r.at_ms,
            cameras: r.cameras.iter().map(Into::into).collect(),
            county: r.county.clone(),
        }
    }
}

impl TryFrom<v1::HealthReport> for base::HealthReport {
    type Error = WireError;

    fn try_from(r: v1::HealthReport) -> Result<Self, WireError> {
        if r.node.is_empty() {
            return Err(bad("health report", "empty node"));
        }
        Ok(base::HealthReport {
            node: r.node,
            county: r.county,
            at_ms: r.at_ms,
            cameras: r
                .cameras
                .into_iter()
                .map(base::CameraHealth::try_from)
                .collect::<Result<_, _>>()?,
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
            plate_crop_ref: "xl://edge-1/crop/8".into(),
            direction_deg: Some(135.0),
            embedding: Some(base::Embedding::from_components(std::array::from_fn(|i| {
                (i as i32 - 128).clamp(-127, 127) as i8
            }))),
        }
    }

    #[test]
    fn sighting_round_trips() {
        let s = sample();
        let wire = v1::Sighting::from(&s);
        assert_eq!(base::Sighting::try_from(wire).unwrap(), s);
    }

    #[test]
    fn health_round_trips() {
        let r = base::HealthReport {
            node: "edge-1".into(),
            county: "county-1".into(),
            at_ms: 5,
            cameras: vec![base::CameraHealth {
                camera: "gate".into(),
                state: base::CameraState::Offline,
                since_ms: 3,
                reason: "camera gate: cannot connect".into(),
                clock_skew_ms: Some(-40),
                diagnoses: vec![base::Diagnosis {
                    kind: "black".into(),
                    score: 0.9,
                    threshold: 0.5,
                    since_ms: 2,
                }],
                ..Default::default()
            }],
        };
        let wire = v1::HealthReport::from(&r);
        assert_eq!(base::HealthReport::try_from(wire).unwrap(), r);
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
        wire.embedding.truncate(10);
        assert!(base::Sighting::try_from(wire)
            .unwrap_err()
            .to_string()
            .contains("embedding of 10 bytes"));
        let mut wire = v1::Sighting::from(&sample());
        wire.bbox.as_mut().unwrap().x1 = f32::NAN;
        assert!(base::Sighting::try_from(wire)
            .unwrap_err()
            .to_string()
            .contains("edge-1#7"));
    }
}
