//! From frames to finished vehicles, for one camera, without threads: what the edge's analysis
//! thread runs per camera and what `xueliang analyze` runs over recorded files.
//!
//! [`Models`] holds the networks: the vehicle detector, and the [`Attributes`] networks (type /
//! appearance classifier, plate reader). A [`VehicleTracks`] per camera feeds detections to its
//! tracker and keeps, for each open track, up to [`SHOTS`] best shots (the frame is shared, not
//! copied), at least [`SHOT_GAP_MS`] apart with the latest always last. A track that ends is an
//! [`Ended`] vehicle; [`Attributes::finish`] classifies its shots in one batch (type voted over them, see `vision::TypeVote`), reads the plate on them until two
//! reads agree ([`vote_plates`]); the last shot gives colour, appearance embedding and the JPEG
//! crop (see `crops`). Attributes thus cost a few crops per vehicle, never a full frame and
//! never per frame.

use std::collections::HashMap;
use std::path::PathBuf;

use base::{BBox, Detection, Frame, Sighting};
use track::{TrackId, Tracker, TrackerConfig};
use vision::detector::{Detector, DetectorConfig};
use vision::VehicleClassifier;

use crate::config::DetectorSection;

/// Best shots kept per track for its attributes.
pub const SHOTS: usize = 3;
/// Two kept shots are at least this far apart; a newer best inside the gap replaces the last.
pub const SHOT_GAP_MS: i64 = 300;

/// A finished vehicle: its sighting, the JPEG of its best shot and of its plate.
pub struct Finished {
    pub sighting: Sighting,
    pub crop: Option<Vec<u8>>,
    pub plate_crop: Option<Vec<u8>>,
}

/// A vehicle whose track ended, with its best shots, waiting for its attributes.
pub struct Ended {
    sighting: Sighting,
    shots: Vec<Shot>,
}

/// One best shot: the frame (shared) and the vehicle's box in it.
struct Shot {
    frame: Frame,
    bbox: BBox,
}

/// The networks of the vehicle path.
pub struct Models {
    pub detector: Detector,
    pub attributes: Attributes,
}

/// The networks that describe a finished vehicle (run once per vehicle, not per frame; the
/// edge runs them on their own thread, beside the detector's).
pub struct Attributes {
    pub classifier: VehicleClassifier,
    pub plates: vision::PlateReader,
}

/// Vehicles narrower than this (source pixels) are too small for a plate to be read.
const MIN_PLATE_VEHICLE_WIDTH: f32 = 64.0;

impl Models {
    /// Loads ONNX Runtime and the models named in `[edge.detector]` (defaults under
    /// `$XUELIANG_HOME`).
    pub fn open(cfg: &DetectorSection) -> Result<Models, vision::Error> {
        let runtime = cfg
            .runtime
            .clone()
            .unwrap_or_else(vision::runtime::default_lib_path);
        vision::runtime::init(&runtime)?;
        let path =
            |p: &Option<PathBuf>, default: fn() -> PathBuf| p.clone().unwrap_or_else(default);
        let detector = Detector::open(
            &path(&cfg.model, vision::detector::default_model_path),
            DetectorConfig {
                conf: cfg.confidence,
                threads: cfg.threads.max(1),
                ..DetectorConfig::default()
            },
        )?;
        let classifier = VehicleClassifier::open(
            &path(&cfg.classifier, vision::default_classifier_path),
            cfg.threads.max(1),
        )?;
        let plates = vision::PlateReader::open(
            &path(&cfg.plate_detector, vision::plate::default_detector_path),
            &path(
                &cfg.plate_recogniser,
                vision::plate::default_recogniser_path,
            ),
            cfg.threads.max(1),
        )?;
        Ok(Models {
            detector,
            attributes: Attributes { classifier, plates },
        })
    }
}

impl Attributes {
    /// Type (voted over the track's shots), colour, appearance and crop of a finished vehicle.
    /// A classifier failure leaves the detector's class and no embedding, never the sighting.
    pub fn finish(&mut self, ended: Ended) -> Finished {
        let Ended {
            sighting: mut s,
            shots,
        } = ended;
        let shots = &shots[..];
        let Some(last) = shots.last() else {
            return Finished {
                sighting: s,
                crop: None,
                plate_crop: None,
            };
        };
        let crops: Vec<(&Frame, BBox)> = shots.iter().map(|sh| (&sh.frame, sh.bbox)).collect();
        match self.classifier.classify_batch(&crops) {
            Ok(attrs) => {
                let mut vote = vision::TypeVote::new();
                for a in &attrs {
                    vote.add(&a.masses);
                }
                let d = vote.decide(s.class, s.class_confidence, vision::TYPE_CUT);
                s.class = d.class;
                s.class_confidence = d.confidence;
                s.embedding = attrs.last().map(|a| a.embedding.clone());
            }
            Err(e) => {
                tracing::warn!(camera = %s.camera, error = %e, "vehicle classifier failed; detector class kept");
            }
        }
        let (plate, plate_crop) = self.read_plate(&s, shots);
        s.plate = plate;
        let (color, confidence) =
            vision::body_colour(&last.frame, &last.bbox, vision::frame_gain(&last.frame));
        if confidence >= vision::colour::MIN_CONFIDENCE {
            (s.color, s.color_confidence) = (color, confidence);
        }
        let crop = crate::crops::encode(&last.frame, &last.bbox);
        Finished {
            sighting: s,
            crop,
            plate_crop,
        }
    }
}

impl Attributes {
    /// The plate of a finished vehicle, read on its best shots (newest first) until two reads
    /// agree, and the JPEG of the plate region behind the winning read. Bicycles carry none;
    /// vehicles too small to read stay `not_analysed`.
    fn read_plate(&mut self, s: &Sighting, shots: &[Shot]) -> (base::PlateRead, Option<Vec<u8>>) {
        if s.class == base::VehicleClass::Bicycle {
            return (base::PlateRead::default(), None);
        }
        let mut reads = Vec::new();
        let mut regions = Vec::new();
        for shot in shots.iter().rev() {
            if shot.bbox.width() < MIN_PLATE_VEHICLE_WIDTH {
                continue;
            }
            match self.plates.read(&shot.frame, &shot.bbox) {
                Ok(r) => {
                    regions.push(r.corners.map(|q| (&shot.frame, q)));
                    reads.push(r.plate);
                }
                Err(e) => {
                    tracing::warn!(camera = %s.camera, error = %e, "plate reader failed");
                    continue;
                }
            }
            let agreeing = reads
                .iter()
                .filter(|r| r.state == base::PlateState::Read && r.text == reads[0].text)
                .count();
            if agreeing >= 2 {
                break;
            }
        }
        let plate = vote_plates(&reads);
        let crop = reads
            .iter()
            .zip(&regions)
            .find(|(r, _)| r.state == plate.state && r.text == plate.text)
            .and_then(|(_, region)| *region)
            .and_then(|(frame, quad)| {
                let xs = quad.map(|p| p[0]);
                let ys = quad.map(|p| p[1]);
                let bbox = BBox {
                    x1: xs.iter().copied().fold(f32::MAX, f32::min),
                    y1: ys.iter().copied().fold(f32::MAX, f32::min),
                    x2: xs.iter().copied().fold(f32::MIN, f32::max),
                    y2: ys.iter().copied().fold(f32::MIN, f32::max),
                };
                crate::crops::encode(frame, &bbox)
            });
        (plate, crop)
    }
}

/// The open tracks of one camera and their best shots.
pub struct VehicleTracks {
    device_id: String,
    tracker: Tracker,
    shots: HashMap<TrackId, Vec<Shot>>,
}

impl VehicleTracks {
    pub fn new(camera: &str, device_id: String, cfg: TrackerConfig) -> Self {
        VehicleTracks {
            device_id,
            tracker: Tracker::new(camera, cfg),
            shots: HashMap::new(),
        }
    }

    /// Feeds one analysed frame's detections (in `frame.captured_ms` time).
    pub fn observe(&mut self, frame: &Frame, dets: &[Detection]) {
        let assigned = self
            .tracker
            .push(frame.captured_ms, (frame.width, frame.height), dets);
        for (a, d) in assigned.iter().zip(dets) {
            let (true, Some(track)) = (a.best, a.track) else {
                continue;
            };
            let shots = self.shots.entry(track).or_default();
            let shot = Shot {
                frame: frame.clone(),
                bbox: d.bbox,
            };
            match shots.last_mut() {
                Some(last) if frame.captured_ms - last.frame.captured_ms < SHOT_GAP_MS => {
                    *last = shot
                }
                _ => shots.push(shot),
            }
            if shots.len() > SHOTS {
                shots.remove(0);
            }
        }
    }

    /// Ends tracks unseen since before `t_ms` (a camera that stopped sending frames).
    pub fn expire(&mut self, t_ms: i64) {
        self.tracker.expire(t_ms);
    }

    /// Ends every open track (camera removed, node stopping, end of a file).
    pub fn flush(&mut self) {
        self.tracker.flush();
    }

    /// The vehicles whose tracks ended, with their best shots (flickers yield nothing).
    pub fn ended(&mut self) -> Vec<Ended> {
        let mut out = Vec::new();
        while let Some(end) = self.tracker.pull() {
            let shots = self.shots.remove(&end.track).unwrap_or_default();
            let Some(mut sighting) = end.sighting else {
                continue;
            };
            sighting.device_id = self.device_id.clone();
            out.push(Ended { sighting, shots });
        }
        out
    }

    /// The vehicles whose tracks ended, with their attributes (one thread does both).
    pub fn finished(&mut self, attributes: &mut Attributes) -> Vec<Finished> {
        self.ended()
            .into_iter()
            .map(|e| attributes.finish(e))
            .collect()
    }
}

/// One plate for a vehicle from the reads of its best shots (never per frame): among the `read`
/// ones, the text with the highest summed confidence wins, and its most confident read gives
/// colour and per-character confidences. With no read: `covered` if any shot saw a covered
/// plate, else `unreadable` if any, else `none`; `not_analysed` when nothing was read at all.
pub fn vote_plates(reads: &[base::PlateRead]) -> base::PlateRead {
    use base::PlateState;
    let mut tally: Vec<(&str, f32, &base::PlateRead)> = Vec::new();
    for r in reads.iter().filter(|r| r.state == PlateState::Read) {
        let Some(text) = r.text.as_deref() else {
            continue;
        };
        match tally.iter_mut().find(|(t, _, _)| *t == text) {
            Some((_, sum, best)) => {
                *sum += r.confidence;
                if r.confidence > best.confidence {
                    *best = r;
                }
            }
            None => tally.push((text, r.confidence, r)),
        }
    }
    if let Some((_, _, best)) = tally.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        return (*best).clone();
    }
    for state in [
        PlateState::Covered,
        PlateState::Unreadable,
        PlateState::None,
    ] {
        if let Some(r) = reads.iter().find(|r| r.state == state) {
            return base::PlateRead {
                state,
                color: r.color,
                confidence: r.confidence,
                ..Default::default()
            };
        }
    }
    base::PlateRead::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base::{PlateColor, PlateRead, PlateState};

    fn read(text: &str, confidence: f32) -> PlateRead {
        PlateRead {
            state: PlateState::Read,
            text: Some(text.into()),
            color: PlateColor::Blue,
            confidence,
            char_confidences: vec![confidence; text.chars().count()],
        }
    }

    fn state(state: PlateState) -> PlateRead {
        PlateRead {
            state,
            ..Default::default()
        }
    }

    #[test]
    fn the_plate_read_most_often_and_most_surely_wins() {
        let reads = [
            read("晋M12345", 0.6),
            read("晋M12346", 0.9),
            read("晋M12345", 0.7),
        ];
        let v = vote_plates(&reads);
        assert_eq!(v.text.as_deref(), Some("晋M12345"), "0.6 + 0.7 beats 0.9");
        assert_eq!(v.confidence, 0.7, "its surest read speaks for it");
        let reads = [state(PlateState::Covered), read("晋M12345", 0.5)];
        assert_eq!(
            vote_plates(&reads).state,
            PlateState::Read,
            "one good read suffices"
        );
    }

    #[test]
    fn without_a_read_covered_beats_unreadable_beats_none() {
        let v = vote_plates(&[state(PlateState::None), state(PlateState::Unreadable)]);
        assert_eq!(v.state, PlateState::Unreadable);
        let v = vote_plates(&[
            state(PlateState::Unreadable),
            state(PlateState::Covered),
            state(PlateState::None),
        ]);
        assert_eq!((v.state, v.text), (PlateState::Covered, None));
        assert_eq!(vote_plates(&[]).state, PlateState::NotAnalysed);
    }
}
