//! The investigators' operations over HTTP JSON, the same answers as the gRPC `Search` service
//! through the same [`Investigator::ask`] (so each call is audited the same way, a refused one
//! too): `POST /api/v1/find`, `/api/v1/trajectory`, `/api/v1/co-occurrence`,
//! `/api/v1/companions`, `/api/v1/first-entry`, `/api/v1/cloned-plates` and `/api/v1/similar`
//! with JSON bodies (filters as [`FilterSpec`]: names, not codes; optional parameters default
//! as over gRPC, see [`defaults`]), and `GET /api/v1/audit` for admins. Bad questions, a body
//! that is not one included, are 400 with the reason naming the field; every answer carries
//! its `coverage` (`{"result": …, "coverage": …}`, or `find`'s page with `coverage`).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use store::Store;
use tonic::Status;

use crate::auth::{Denied, Role};
use crate::http::{authorize, refused, unavailable, HttpState};
use crate::investigate::{defaults, parse_key, subject_json, FilterSpec, Investigator};

pub(crate) fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/find", post(find))
        .route("/api/v1/trajectory", post(trajectory))
        .route("/api/v1/co-occurrence", post(co_occurrence))
        .route("/api/v1/companions", post(companions))
        .route("/api/v1/first-entry", post(first_entry))
        .route("/api/v1/cloned-plates", post(cloned_plates))
        .route("/api/v1/similar", post(similar))
        .route("/api/v1/audit", get(audit))
}

pub(crate) fn status(s: Status) -> Response {
    match s.code() {
        tonic::Code::InvalidArgument => {
            (StatusCode::BAD_REQUEST, format!("{}\n", s.message())).into_response()
        }
        _ => unavailable(s.message()),
    }
}

/// The answer as JSON, or the refusal.
fn reply<T: serde::Serialize>(answer: Result<T, Status>) -> Response {
    match answer {
        Ok(a) => Json(a).into_response(),
        Err(e) => status(e),
    }
}

/// The investigator and the caller's name, or the refusal.
pub(crate) fn admit(s: &HttpState, headers: &HeaderMap) -> Result<(Investigator, String), Denied> {
    let caller = authorize(s, headers, Role::Investigator)?;
    Ok((s.investigator.clone(), caller.name))
}

/// The body as `B`; a body that is not one is refused (400) and audited under `kind` with the
/// body as sent (its JSON, or its text when it is not JSON).
pub(crate) async fn read<B: DeserializeOwned>(
    inv: &Investigator,
    caller: &str,
    kind: &'static str,
    body: &[u8],
) -> Result<B, Response> {
    match serde_json::from_slice(body) {
        Ok(b) => Ok(b),
        Err(e) => {
            let sent = serde_json::from_slice(body)
                .unwrap_or_else(|_| serde_json::Value::from(String::from_utf8_lossy(body)));
            let refusal = Status::invalid_argument(format!("body: {e}"));
            Err(status(inv.refuse(caller, kind, sent, refusal).await))
        }
    }
}

/// Reads the body or returns the (audited) refusal from the handler.
macro_rules! body {
    ($inv:expr, $caller:expr, $kind:expr, $body:expr) => {
        match read(&$inv, &$caller, $kind, &$body).await {
            Ok(b) => b,
            Err(r) => return r,
        }
    };
}

/// Admits an investigator or returns the refusal from the handler.
macro_rules! admit {
    ($s:expr, $headers:expr) => {
        match admit(&$s, &$headers) {
            Ok(x) => x,
            Err(d) => return refused(d),
        }
    };
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FindBody {
    filter: FilterSpec,
    #[serde(default)]
    limit: usize,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(serde::Serialize)]
struct FindAnswer {
    sightings: Vec<base::Sighting>,
    next_cursor: Option<String>,
    total: u64,
    coverage: store::Coverage,
}

async fn find(State(s): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let (inv, caller) = admit!(s, headers);
    let b: FindBody = body!(inv, caller, "find", body);
    let json = serde_json::json!({ "filter": b.filter, "limit": b.limit, "cursor": b.cursor });
    let answer = inv
        .ask(
            &caller,
            "find",
            json,
            || {
                let f = inv.regions.resolve(&b.filter)?;
                let cursor = b
                    .cursor
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .map(store::Cursor::decode)
                    .transpose()
                    .map_err(|e| Status::invalid_argument(e.to_string()))?;
                let limit = b.limit;
                Ok(move |st: &Store| st.find(&f, limit, cursor.as_ref()))
            },
            |a| a.result.total,
        )
        .await;
    reply(answer.map(|a| FindAnswer {
        next_cursor: a.result.next.map(|c| c.encode()),
        total: a.result.total,
        sightings: a.result.sightings,
        coverage: a.coverage,
    }))
}

/// The subject of `plate` or `sighting` (`origin#seq`): exactly one of the two.
fn subject(plate: &Option<String>, sighting: &Option<String>) -> Result<store::Subject, Status> {
    let plate = plate.as_deref().map(str::trim).filter(|p| !p.is_empty());
    match (plate, sighting) {
        (Some(p), None) => Ok(store::Subject::Plate(p.to_owned())),
        (None, Some(k)) => Ok(store::Subject::Sighting(parse_key(k)?)),
        _ => Err(Status::invalid_argument(
            "give exactly one of plate and sighting",
        )),
    }
}

/// The subject as audit JSON: as the gRPC service writes it when it reads as one, else both
/// fields as sent.
fn subject_sent(plate: &Option<String>, sighting: &Option<String>) -> serde_json::Value {
    match subject(plate, sighting) {
        Ok(s) => subject_json(&s),
        Err(_) => serde_json::json!({ "plate": plate, "sighting": sighting }),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TrajectoryBody {
    #[serde(default)]
    plate: Option<String>,
    /// `origin#seq`.
    #[serde(default)]
    sighting: Option<String>,
    from: i64,
    to: i64,
    #[serde(default)]
    min_cosine: Option<f32>,
}

async fn trajectory(State(s): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let (inv, caller) = admit!(s, headers);
    let b: TrajectoryBody = body!(inv, caller, "trajectory", body);
    let min_cosine = b.min_cosine.unwrap_or(store::DEFAULT_MIN_COSINE);
    let json = serde_json::json!({
        "subject": subject_sent(&b.plate, &b.sighting), "from": b.from, "to": b.to, "min_cosine": min_cosine,
    });
    let answer = inv
        .ask(
            &caller,
            "trajectory",
            json,
            || {
                let subject = subject(&b.plate, &b.sighting)?;
                Ok(move |st: &Store| st.trajectory(&subject, b.from, b.to, min_cosine))
            },
            |a| a.result.len() as u64,
        )
        .await;
    reply(answer)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CoOccurrenceBody {
    windows: Vec<FilterSpec>,
    #[serde(default)]
    min_windows: Option<usize>,
    #[serde(default)]
    min_cosine: Option<f32>,
    #[serde(default)]
    limit: Option<usize>,
}

async fn co_occurrence(State(s): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let (inv, caller) = admit!(s, headers);
    let b: CoOccurrenceBody = body!(inv, caller, "co-occurrence", body);
    let min_windows = b.min_windows.unwrap_or(b.windows.len());
    let min_cosine = b.min_cosine.unwrap_or(store::DEFAULT_MIN_COSINE);
    let limit = b.limit.unwrap_or(defaults::LIMIT);
    let json = serde_json::json!({
        "windows": b.windows, "min_windows": min_windows, "min_cosine": min_cosine,
        "limit": limit,
    });
    let answer = inv
        .ask(
            &caller,
            "co-occurrence",
            json,
            || {
                let windows = b
                    .windows
                    .iter()
                    .map(|w| inv.regions.resolve(w))
                    .collect::<Result<Vec<_>, _>>()?;
                let q = store::CoOccurrence {
                    windows,
                    min_windows,
                    min_cosine,
                    limit,
                };
                Ok(move |st: &Store| st.co_occurrence(&q))
            },
            |a| a.result.len() as u64,
        )
        .await;
    reply(answer)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CompanionsBody {
    #[serde(default)]
    plate: Option<String>,
    /// `origin#seq`.
    #[serde(default)]
    sighting: Option<String>,
    from: i64,
    to: i64,
    /// Seen at the same camera within this many ms of the subject.
    #[serde(default)]
    max_gap_ms: Option<i64>,
    /// Together at least this many times.
    #[serde(default)]
    min_times: Option<usize>,
    #[serde(default)]
    min_cosine: Option<f32>,
    #[serde(default)]
    limit: Option<usize>,
}

async fn companions(State(s): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let (inv, caller) = admit!(s, headers);
    let b: CompanionsBody = body!(inv, caller, "companions", body);
    let max_gap_ms = b.max_gap_ms.unwrap_or(defaults::COMPANION_GAP_MS);
    let min_times = b.min_times.unwrap_or(defaults::COMPANION_MIN_TIMES);
    let min_cosine = b.min_cosine.unwrap_or(store::DEFAULT_MIN_COSINE);
    let limit = b.limit.unwrap_or(defaults::LIMIT);
    let json = serde_json::json!({
        "subject": subject_sent(&b.plate, &b.sighting), "from": b.from, "to": b.to,
        "max_gap_ms": max_gap_ms, "min_times": min_times, "limit": limit,
    });
    let answer = inv
        .ask(
            &caller,
            "companions",
            json,
            || {
                let q = store::Companions {
                    subject: subject(&b.plate, &b.sighting)?,
                    from_ms: b.from,
                    to_ms: b.to,
                    max_gap_ms,
                    min_times,
                    min_cosine,
                    limit,
                };
                Ok(move |st: &Store| st.companions(&q))
            },
            |a| a.result.len() as u64,
        )
        .await;
    reply(answer)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FirstEntryBody {
    /// The region's scope and window.
    region: FilterSpec,
    /// How long before the window a plate must have been absent; positive.
    lookback_ms: i64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn first_entry(State(s): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let (inv, caller) = admit!(s, headers);
    let b: FirstEntryBody = body!(inv, caller, "first-entry", body);
    let limit = b.limit.unwrap_or(defaults::LIMIT);
    let json = serde_json::json!({
        "region": b.region, "lookback_ms": b.lookback_ms, "limit": limit,
    });
    let answer = inv
        .ask(
            &caller,
            "first-entry",
            json,
            || {
                let f = inv.regions.resolve(&b.region)?;
                Ok(move |st: &Store| st.first_entry(&f, b.lookback_ms, limit))
            },
            |a| a.result.len() as u64,
        )
        .await;
    reply(answer)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClonedPlatesBody {
    filter: FilterSpec,
    /// Faster than this between two cameras is impossible.
    #[serde(default)]
    max_speed_kmh: Option<f64>,
    /// Added to every time difference (clock skew).
    #[serde(default)]
    tolerance_ms: Option<i64>,
    /// Sightings needed of each conflicting appearance.
    #[serde(default)]
    min_support: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

async fn cloned_plates(State(s): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let (inv, caller) = admit!(s, headers);
    let b: ClonedPlatesBody = body!(inv, caller, "cloned-plates", body);
    let max_speed_kmh = b.max_speed_kmh.unwrap_or(defaults::CLONE_MAX_SPEED_KMH);
    let tolerance_ms = b.tolerance_ms.unwrap_or(defaults::CLONE_TOLERANCE_MS);
    let min_support = b.min_support.unwrap_or(defaults::CLONE_MIN_SUPPORT);
    let limit = b.limit.unwrap_or(defaults::LIMIT);
    let json = serde_json::json!({
        "filter": b.filter, "max_speed_kmh": max_speed_kmh, "tolerance_ms": tolerance_ms,
        "min_support": min_support, "limit": limit,
    });
    let answer = inv
        .ask(
            &caller,
            "cloned-plates",
            json,
            || {
                let q = store::ClonedPlates {
                    filter: inv.regions.resolve(&b.filter)?,
                    max_speed_kmh,
                    tolerance_ms,
                    min_support,
                    limit,
                };
                Ok(move |st: &Store| st.cloned_plates(&q))
            },
            |a| a.result.len() as u64,
        )
        .await;
    reply(answer)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SimilarBody {
    /// `origin#seq` of the probe sighting.
    sighting: String,
    filter: FilterSpec,
    #[serde(default)]
    limit: Option<usize>,
}

async fn similar(State(s): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let (inv, caller) = admit!(s, headers);
    let b: SimilarBody = body!(inv, caller, "similar", body);
    let limit = b.limit.unwrap_or(defaults::SIMILAR_LIMIT);
    let json = serde_json::json!({
        "probe": { "sighting": b.sighting }, "filter": b.filter, "limit": limit,
    });
    let answer = inv
        .ask(
            &caller,
            "similar",
            json,
            || {
                let probe = store::Probe::Sighting(parse_key(&b.sighting)?);
                let f = inv.regions.resolve(&b.filter)?;
                Ok(move |st: &Store| st.similar(&probe, &f, limit))
            },
            |a| a.result.len() as u64,
        )
        .await;
    reply(answer)
}

#[derive(serde::Deserialize)]
struct AuditParams {
    #[serde(default)]
    from: Option<i64>,
    #[serde(default)]
    to: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
}

/// The audit log of searches, newest first: admins only.
async fn audit(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Query(p): Query<AuditParams>,
) -> Response {
    if let Err(d) = authorize(&s, &headers, Role::Admin) {
        return refused(d);
    }
    let store = s.store.clone();
    let (from, to) = (p.from.unwrap_or(0), p.to.unwrap_or(i64::MAX));
    let limit = p.limit.unwrap_or(100).min(10_000);
    match tokio::task::spawn_blocking(move || store.audit(from, to, limit)).await {
        Ok(Ok(rows)) => Json(rows).into_response(),
        Ok(Err(e)) => unavailable(e),
        Err(e) => unavailable(e),
    }
}
