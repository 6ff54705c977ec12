//! What an investigator asks for, and a page of answers.
//!
//! A [`Query`] always has a time range: an unbounded scan over years of sightings is never what
//! anyone wants and would be slow on every backend. Pages are ordered newest first and continue
//! from an opaque [`Cursor`], so results stay stable while new sightings arrive.

use base::{Sighting, VehicleClass};

/// Default and largest page size.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;

/// A search over sightings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Inclusive start, Unix ms.
    pub from_ms: i64,
    /// Exclusive end, Unix ms.
    pub to_ms: i64,
    /// Camera ids; empty means every camera.
    pub cameras: Vec<String>,
    /// Vehicle classes; empty means every class.
    pub classes: Vec<VehicleClass>,
    /// Page size; 0 means [`DEFAULT_LIMIT`].
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl Query {
    /// Checks the query and returns the effective page size.
    pub fn validate(&self) -> Result<usize, crate::Error> {
        if self.to_ms <= self.from_ms {
            return Err(crate::Error::Query(format!(
                "time range is empty: from {} must be before to {}",
                self.from_ms, self.to_ms
            )));
        }
        match self.limit {
            0 => Ok(DEFAULT_LIMIT),
            n if n > MAX_LIMIT => Err(crate::Error::Query(format!(
                "limit {n} is above the maximum of {MAX_LIMIT}"
            ))),
            n => Ok(n),
        }
    }
}

/// Position after the last sighting of a page: (pass time, origin, seq), newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub pass_time_ms: i64,
    pub origin: String,
    pub seq: u64,
}

impl Cursor {
    pub fn after(s: &Sighting) -> Self {
        Cursor {
            pass_time_ms: s.pass_time_ms,
            origin: s.key.origin.clone(),
            seq: s.key.seq,
        }
    }

    /// Opaque text form: `time.seq.origin` (origin last: it may contain dots).
    pub fn encode(&self) -> String {
        format!("{}.{}.{}", self.pass_time_ms, self.seq, self.origin)
    }

    pub fn decode(text: &str) -> Result<Self, crate::Error> {
        let bad = || crate::Error::Query(format!("malformed cursor {text:?}"));
        let mut parts = text.splitn(3, '.');
        let pass_time_ms = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let seq = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let origin = parts.next().filter(|o| !o.is_empty()).ok_or_else(bad)?;
        Ok(Cursor {
            pass_time_ms,
            seq,
            origin: origin.to_owned(),
        })
    }
}

/// One page of a search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub sightings: Vec<Sighting>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
    /// Matches in the whole time range (all pages).
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_with_dotted_origin() {
        let c = Cursor {
            pass_time_ms: 1_700_000_000_123,
            origin: "edge.county-3".into(),
            seq: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("12.x.y").is_err());
        assert!(Cursor::decode("12.3.").is_err());
    }

    #[test]
    fn empty_range_and_huge_limit_are_rejected() {
        let q = Query {
            from_ms: 10,
            to_ms: 10,
            ..Default::default()
        };
        assert!(q.validate().is_err());
        let q = Query {
            from_ms: 0,
            to_ms: 10,
            limit: MAX_LIMIT + 1,
            ..Default::default()
        };
        assert!(q.validate().is_err());
    }
}
