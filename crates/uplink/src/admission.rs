//! What a receiver lets in. Malformed messages are protocol violations (the stream ends with
//! `InvalidArgument`, nothing of the batch is stored). Well-formed items that cannot be true —
//! a pass time far in the future or older than the retention, a plate text that no Chinese
//! plate can have, a box outside its frame — are *quarantined*: kept in the receiver's
//! `rejected` table with the reason, counted per source, never forwarded, and acked like the
//! rest, so one bad item can neither be lost nor block its source forever.

use base::{HealthReport, PlateState, Sighting};

/// Admission rules of a receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    /// Sources (node ids) allowed to push; empty = any.
    pub allowed_sources: Vec<String>,
    /// How far ahead of this node's clock a timestamp may be. Default 5 min.
    pub max_future_ms: i64,
    /// How old a sighting may be (the retention). Default 30 days.
    pub max_age_ms: i64,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            allowed_sources: Vec::new(),
            max_future_ms: 5 * 60_000,
            max_age_ms: 30 * 86_400_000,
        }
    }
}

fn text_ok(what: &str, s: &str) -> Result<(), String> {
    if s.chars().count() > 128 || s.chars().any(char::is_control) {
        return Err(format!(
            "{what} {s:?} is longer than 128 characters or has control characters"
        ));
    }
    Ok(())
}

fn unit(what: &str, v: f32) -> Result<(), String> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(format!("{what} {v} is outside [0, 1]"))
    }
}

impl Admission {
    /// May `source` push here?
    pub fn source(&self, source: &str) -> Result<(), String> {
        if self.allowed_sources.is_empty() || self.allowed_sources.iter().any(|s| s == source) {
            Ok(())
        } else {
            Err(format!(
                "source {source:?} is not in this platform's allowed_sources"
            ))
        }
    }

    fn time(&self, what: &str, t: i64, now: i64) -> Result<(), String> {
        if t > now + self.max_future_ms {
            return Err(format!(
                "{what} {t} is {} s in the future",
                (t - now) / 1000
            ));
        }
        if t < now - self.max_age_ms {
            return Err(format!(
                "{what} {t} is older than the retention ({} days)",
                self.max_age_ms / 86_400_000
            ));
        }
        Ok(())
    }

    /// Can this sighting be true? `now` is this node's clock, Unix ms.
    pub fn sighting(&self, s: &Sighting, now: i64) -> Result<(), String> {
        text_ok("camera", &s.camera)?;
        text_ok("device_id", &s.device_id)?;
        self.time("pass_time_ms", s.pass_time_ms, now)?;
        if !(s.first_seen_ms <= s.pass_time_ms && s.pass_time_ms <= s.last_seen_ms) {
            return Err(format!(
                "pass time {} is not within first/last seen [{}, {}]",
                s.pass_time_ms, s.first_seen_ms, s.last_seen_ms
            ));
        }
        if s.last_seen_ms - s.first_seen_ms > 86_400_000 {
            return Err("a sighting longer than a day".into());
        }
        unit("class_confidence", s.class_confidence)?;
        unit("color_confidence", s.color_confidence)?;
        unit("plate confidence", s.plate.confidence)?;
        for c in &s.plate.char_confidences {
            unit("plate char confidence", *c)?;
        }
        match (&s.plate.text, s.plate.state) {
            (Some(text), PlateState::Read) => {
                base::plate::validate(text)?;
                let n = text.chars().count();
                if !s.plate.char_confidences.is_empty() && s.plate.char_confidences.len() != n {
                    return Err(format!(
                        "plate {text:?} has {n} characters but {} confidences",
                        s.plate.char_confidences.len()
                    ));
                }
            }
            (None, PlateState::Read) => return Err("plate state read without plate text".into()),
            (Some(text), state) => {
                return Err(format!("plate text {text:?} with plate state {state}"))
            }
            (None, _) => {}
        }
        if s.frame_width > 0 && s.frame_height > 0 {
            let (w, h) = (s.frame_width as f32 + 1.0, s.frame_height as f32 + 1.0);
            let b = s.bbox;
            if b.x1 < -1.0 || b.y1 < -1.0 || b.x2 > w || b.y2 > h || b.x1 > b.x2 || b.y1 > b.y2 {
                return Err(format!(
                    "box ({}, {}, {}, {}) is outside its {}x{} frame",
                    b.x1, b.y1, b.x2, b.y2, s.frame_width, s.frame_height
                ));
            }
        }
        Ok(())
    }

    /// Can this health report be true?
    pub fn health(&self, r: &HealthReport, now: i64) -> Result<(), String> {
        text_ok("node", &r.node)?;
        self.time("report time", r.at_ms, now)?;
        for c in &r.cameras {
            text_ok("camera", &c.camera)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good(now: i64) -> Sighting {
        Sighting {
            camera: "gate".into(),
            device_id: "gate".into(),
            pass_time_ms: now - 1000,
            first_seen_ms: now - 2000,
            last_seen_ms: now,
            class_confidence: 0.9,
            bbox: base::BBox {
                x1: 1.0,
                y1: 1.0,
                x2: 100.0,
                y2: 50.0,
            },
            frame_width: 640,
            frame_height: 272,
            ..Default::default()
        }
    }

    #[test]
    fn each_impossible_sighting_names_its_problem() {
        let a = Admission::default();
        let now = 1_800_000_000_000;
        assert!(a.sighting(&good(now), now).is_ok());
        type Breaker = Box<dyn Fn(&mut Sighting)>;
        let cases: Vec<(Breaker, &str)> = vec![
            (Box::new(|s| s.pass_time_ms += 3_600_000), "future"),
            (
                Box::new(|s| {
                    s.pass_time_ms -= 40 * 86_400_000;
                    s.first_seen_ms = s.pass_time_ms;
                }),
                "retention",
            ),
            (
                Box::new(|s| s.first_seen_ms = s.pass_time_ms + 1),
                "first/last",
            ),
            (Box::new(|s| s.class_confidence = 7.0), "class_confidence"),
            (
                Box::new(|s| {
                    s.plate.state = PlateState::Read;
                    s.plate.text = Some("晋M12O45".into());
                }),
                "晋M12O45",
            ),
            (
                Box::new(|s| s.plate.state = PlateState::Read),
                "without plate text",
            ),
            (Box::new(|s| s.bbox.x2 = 900.0), "outside"),
            (Box::new(|s| s.camera = "a\u{7}".into()), "control"),
        ];
        for (break_it, why) in cases {
            let mut s = good(now);
            break_it(&mut s);
            let err = a.sighting(&s, now).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn sources_outside_the_allow_list_are_refused() {
        let a = Admission {
            allowed_sources: vec!["edge-1".into()],
            ..Default::default()
        };
        assert!(a.source("edge-1").is_ok());
        assert!(a.source("intruder").unwrap_err().contains("intruder"));
        assert!(Admission::default().source("anyone").is_ok());
    }
}
