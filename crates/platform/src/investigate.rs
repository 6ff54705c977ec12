//! What the gRPC and HTTP search APIs share: turning a question as sent (a [`FilterSpec`] with
//! region *names* and vocabulary names, or its wire form) into the store's [`store::Filter`],
//! and [`Investigator::ask`], which checks a question, answers it on a blocking thread and
//! writes one audit row per call. A question that cannot be answered as asked (unknown region,
//! class code, bad plate pattern, empty or unbounded range) is `InvalidArgument` with a message
//! naming the field, and is audited too: 0 results, the question as far as it could be read,
//! and the reason.
//!
//! Invariant: no answer and no refusal leaves this module without its audit row; when the row
//! cannot be written the call fails (`Unavailable`) rather than answer unaudited.

use std::collections::BTreeMap;
use std::sync::Arc;

use base::{PlateState, SightingKey, VehicleClass, VehicleColor};
use proto::v1;
use store::{AuditEntry, Store};
use tonic::Status;

/// A filter as people write it (HTTP JSON, audit rows): names, not codes.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Unix ms, inclusive.
    pub from: i64,
    /// Unix ms, exclusive.
    pub to: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cameras: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counties: Vec<String>,
    /// Names of `[[platform.region]]`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub colors: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plate_states: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fuzzy: bool,
}

fn invalid(m: impl std::fmt::Display) -> Status {
    Status::invalid_argument(m.to_string())
}

fn names<T: std::str::FromStr>(field: &str, v: &[String]) -> Result<Vec<T>, Status>
where
    T::Err: std::fmt::Display,
{
    v.iter()
        .map(|n| n.parse::<T>().map_err(|e| invalid(format!("{field}: {e}"))))
        .collect()
}

/// Refuses a code that is not one of `T`'s, naming the field.
fn known<T: Copy>(
    field: &str,
    codes: &[i32],
    from_code: fn(i32) -> T,
    code: fn(T) -> i32,
) -> Result<(), Status> {
    match codes.iter().find(|&&c| code(from_code(c)) != c) {
        Some(c) => Err(invalid(format!("{field}: unknown code {c}"))),
        None => Ok(()),
    }
}

/// Vocabulary names of `codes`; an unknown code is kept as its number.
fn named<T: Copy>(
    codes: &[i32],
    from_code: fn(i32) -> T,
    code: fn(T) -> i32,
    name: fn(T) -> &'static str,
) -> Vec<String> {
    codes
        .iter()
        .map(|&c| {
            let t = from_code(c);
            if code(t) == c {
                name(t).to_owned()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl FilterSpec {
    /// The wire filter as names (for HTTP-equivalent audit rows); bad codes are refused.
    pub fn from_wire(f: v1::Filter) -> Result<FilterSpec, Status> {
        known(
            "classes",
            &f.classes,
            VehicleClass::from_code,
            VehicleClass::code,
        )?;
        known(
            "colors",
            &f.colors,
            VehicleColor::from_code,
            VehicleColor::code,
        )?;
        known(
            "plate_states",
            &f.plate_states,
            PlateState::from_code,
            PlateState::code,
        )?;
        Ok(FilterSpec::as_sent(&f))
    }

    /// The wire filter as names, as far as they go: an unknown code stays a number (for the
    /// audit row of a refused question; [`FilterSpec::from_wire`] refuses it).
    pub fn as_sent(f: &v1::Filter) -> FilterSpec {
        FilterSpec {
            from: f.from_ms,
            to: f.to_ms,
            cameras: f.cameras.clone(),
            counties: f.counties.clone(),
            regions: f.regions.clone(),
            classes: named(
                &f.classes,
                VehicleClass::from_code,
                VehicleClass::code,
                VehicleClass::name,
            ),
            colors: named(
                &f.colors,
                VehicleColor::from_code,
                VehicleColor::code,
                VehicleColor::name,
            ),
            plate_states: named(
                &f.plate_states,
                PlateState::from_code,
                PlateState::code,
                PlateState::name,
            ),
            plate: Some(f.plate.clone()).filter(|p| !p.is_empty()),
            fuzzy: f.fuzzy,
        }
    }
}

/// Configured regions by name.
#[derive(Debug, Clone, Default)]
pub struct Regions(BTreeMap<String, store::Region>);

impl Regions {
    pub fn new(regions: impl IntoIterator<Item = store::Region>) -> Self {
        Regions(regions.into_iter().map(|r| (r.name.clone(), r)).collect())
    }

    /// The store's filter for `spec`, validated.
    pub fn resolve(&self, spec: &FilterSpec) -> Result<store::Filter, Status> {
        let mut regions = Vec::with_capacity(spec.regions.len());
        for name in &spec.regions {
            let r = self.0.get(name).ok_or_else(|| {
                let known: Vec<&str> = self.0.keys().map(String::as_str).collect();
                invalid(format!(
                    "unknown region {name:?}; configured regions: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            })?;
            regions.push(r.clone());
        }
        let plate = match spec.plate.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(store::PlatePattern::parse(p, spec.fuzzy).map_err(invalid)?),
            None => None,
        };
        let f = store::Filter {
            from_ms: spec.from,
            to_ms: spec.to,
            cameras: spec.cameras.clone(),
            counties: spec.counties.clone(),
            regions,
            classes: names("classes", &spec.classes)?,
            colors: names("colors", &spec.colors)?,
            plate_states: names("plate_states", &spec.plate_states)?,
            plate,
        };
        f.validate().map_err(invalid)?;
        Ok(f)
    }
}

/// `origin#seq` (as printed everywhere) or the wire key.
pub fn parse_key(text: &str) -> Result<SightingKey, Status> {
    let bad = || invalid(format!("sighting {text:?}: expected origin#seq"));
    let (origin, seq) = text.rsplit_once('#').ok_or_else(bad)?;
    if origin.is_empty() {
        return Err(bad());
    }
    Ok(SightingKey {
        origin: origin.to_owned(),
        seq: seq.parse().map_err(|_| bad())?,
    })
}

pub fn key_from_wire(k: Option<v1::SightingKey>, field: &str) -> Result<SightingKey, Status> {
    match k {
        Some(k) if !k.origin.is_empty() => Ok(SightingKey {
            origin: k.origin,
            seq: k.seq,
        }),
        _ => Err(invalid(format!("{field}: a sighting key is required"))),
    }
}

pub fn subject_from_wire(s: Option<v1::Subject>) -> Result<store::Subject, Status> {
    use v1::subject::Subject as S;
    match s.and_then(|s| s.subject) {
        Some(S::Plate(p)) if !p.trim().is_empty() => Ok(store::Subject::Plate(p.trim().into())),
        Some(S::Sighting(k)) => Ok(store::Subject::Sighting(key_from_wire(Some(k), "subject")?)),
        _ => Err(invalid("subject: a plate or a sighting is required")),
    }
}

/// The wire subject as audit JSON, as sent (`null` when missing).
pub fn subject_sent(s: Option<&v1::Subject>) -> serde_json::Value {
    use v1::subject::Subject as S;
    match s.and_then(|s| s.subject.as_ref()) {
        Some(S::Plate(p)) => serde_json::json!({ "plate": p.trim() }),
        Some(S::Sighting(k)) => {
            serde_json::json!({ "sighting": format!("{}#{}", k.origin, k.seq) })
        }
        None => serde_json::Value::Null,
    }
}

/// Vehicle class names of wire codes, an unknown code kept as its number.
pub fn class_names(codes: &[i32]) -> Vec<String> {
    named(
        codes,
        VehicleClass::from_code,
        VehicleClass::code,
        VehicleClass::name,
    )
}

/// The subject as audit JSON.
pub fn subject_json(s: &store::Subject) -> serde_json::Value {
    match s {
        store::Subject::Plate(p) => serde_json::json!({ "plate": p }),
        store::Subject::Sighting(k) => serde_json::json!({ "sighting": k.to_string() }),
    }
}

pub fn store_status(e: store::Error) -> Status {
    match e {
        store::Error::Query(m) => Status::invalid_argument(m),
        other => Status::unavailable(other.to_string()),
    }
}

/// Defaults of the operations' optional parameters, the same over gRPC (where 0 means the
/// default) and HTTP (where an absent field does).
pub mod defaults {
    /// Most results of a list answer.
    pub const LIMIT: usize = 100;
    /// Most sightings a similar-vehicle search returns.
    pub const SIMILAR_LIMIT: usize = 20;
    /// Companions: seen at the same camera within this many ms of the subject.
    pub const COMPANION_GAP_MS: i64 = 60_000;
    /// Companions: together at least this many times.
    pub const COMPANION_MIN_TIMES: usize = 2;
    /// Cloned plates: faster than this between two cameras is impossible.
    pub const CLONE_MAX_SPEED_KMH: f64 = 150.0;
    /// Cloned plates: clock skew added to every time difference.
    pub const CLONE_TOLERANCE_MS: i64 = 30_000;
    /// Cloned plates: sightings needed of each conflicting appearance.
    pub const CLONE_MIN_SUPPORT: usize = 1;
}

/// Answers investigators' questions over one store, auditing each.
#[derive(Clone)]
pub struct Investigator {
    pub store: Arc<Store>,
    pub regions: Arc<Regions>,
}

impl Investigator {
    /// Checks a question and answers it: `prepare` turns the question as sent into the store
    /// operation `op` (or refuses it: InvalidArgument naming the field), `op` runs on a
    /// blocking thread, and either way one audit row records `(caller, kind, query, results)`
    /// with the refusal's reason when there was no answer. `query` is the question as sent
    /// (names, defaults filled in), built before anything is checked so that a refused question
    /// is logged as fully as it could be read.
    pub async fn ask<R, Prepare, Op, Count>(
        &self,
        caller: &str,
        kind: &'static str,
        query: serde_json::Value,
        prepare: Prepare,
        count: Count,
    ) -> Result<R, Status>
    where
        R: Send + 'static,
        Prepare: FnOnce() -> Result<Op, Status>,
        Op: FnOnce(&Store) -> Result<R, store::Error> + Send + 'static,
        Count: FnOnce(&R) -> u64 + Send + 'static,
    {
        let op = match prepare() {
            Ok(op) => op,
            Err(refusal) => return Err(self.refuse(caller, kind, query, refusal).await),
        };
        let store = self.store.clone();
        let caller = caller.to_owned();
        tokio::task::spawn_blocking(move || {
            let answer = op(&store).map_err(store_status);
            let results = answer.as_ref().map(count).unwrap_or(0);
            let refused = answer.as_ref().err().map(|s| s.message().to_owned());
            audit(&store, caller, kind, &query, results, refused)?;
            answer
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
    }

    /// [`Investigator::ask`] for a question already checked.
    pub async fn run<R, Op, Count>(
        &self,
        caller: &str,
        kind: &'static str,
        query: serde_json::Value,
        op: Op,
        count: Count,
    ) -> Result<R, Status>
    where
        R: Send + 'static,
        Op: FnOnce(&Store) -> Result<R, store::Error> + Send + 'static,
        Count: FnOnce(&R) -> u64 + Send + 'static,
    {
        self.ask(caller, kind, query, || Ok(op), count).await
    }

    /// Records a question refused before it could be asked (e.g. an HTTP body that is not one)
    /// and returns the refusal, or `Unavailable` when the row cannot be written.
    pub async fn refuse(
        &self,
        caller: &str,
        kind: &'static str,
        query: serde_json::Value,
        refusal: Status,
    ) -> Status {
        let store = self.store.clone();
        let caller = caller.to_owned();
        let reason = refusal.message().to_owned();
        let logged = tokio::task::spawn_blocking(move || {
            audit(&store, caller, kind, &query, 0, Some(reason))
        })
        .await;
        match logged {
            Ok(Ok(())) => refusal,
            Ok(Err(unavailable)) => unavailable,
            Err(e) => Status::internal(e.to_string()),
        }
    }
}

/// Writes one audit row (blocking): the only place rows are made.
fn audit(
    store: &Store,
    caller: String,
    kind: &str,
    query: &serde_json::Value,
    results: u64,
    refused: Option<String>,
) -> Result<(), Status> {
    let entry = AuditEntry {
        at_ms: base::now_ms(),
        caller,
        kind: kind.to_owned(),
        query_json: query.to_string(),
        results,
        refused,
    };
    tracing::info!(
        target: "audit", caller = %entry.caller, kind, query = %entry.query_json, results,
        refused = entry.refused.as_deref().unwrap_or(""), "search"
    );
    store.audit_log(&entry).map_err(|e| {
        tracing::error!(error = %e, "cannot write the audit log; refusing the answer");
        Status::unavailable(format!("audit log: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_regions_and_patterns_resolve_or_are_refused_clearly() {
        let regions = Regions::new([store::Region::new(
            "old-town",
            vec![(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)],
        )]);
        let spec = FilterSpec {
            from: 0,
            to: 10,
            regions: vec!["old-town".into()],
            classes: vec!["suv".into()],
            colors: vec!["white".into()],
            plate_states: vec!["covered".into()],
            plate: Some("晋M*23*".into()),
            fuzzy: true,
            ..Default::default()
        };
        let f = regions.resolve(&spec).unwrap();
        assert_eq!(f.regions.len(), 1);
        assert_eq!(f.classes, [VehicleClass::Suv]);
        assert!(f.plate.unwrap().is_fuzzy());
        let unknown = FilterSpec {
            regions: vec!["harbour".into()],
            ..spec.clone()
        };
        let e = regions.resolve(&unknown).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("harbour") && e.message().contains("old-town"));
        let reversed = FilterSpec {
            from: 10,
            to: 0,
            ..spec.clone()
        };
        assert!(regions.resolve(&reversed).is_err());
        let bad_class = FilterSpec {
            classes: vec!["tank".into()],
            ..spec
        };
        assert!(regions.resolve(&bad_class).is_err());
        assert_eq!(parse_key("edge-1#42").unwrap().seq, 42);
        assert!(parse_key("42").is_err());
    }
}
