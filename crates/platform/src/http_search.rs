//! The investigators' operations over HTTP JSON, the same answers as the gRPC `Search` service
//! through the same [`Investigator`] (so each call is audited the same way): `POST
//! /api/v1/find`, `/api/v1/trajectory`, `/api/v1/co-occurrence`, `/api/v1/similar` with JSON
//! bodies (filters as [`FilterSpec`]: names, not codes), and `GET /api/v1/audit` for admins.
//! Bad questions are 400 with the reason; every answer carries its `coverage`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tonic::Status;

use crate::auth::{Denied, Role};
use crate::http::{authorize, refused, unavailable, HttpState};
use crate::investigate::{parse_key, subject_json, FilterSpec, Investigator};

pub(crate) fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/find", post(find))
        .route("/api/v1/trajectory", post(trajectory))
        .route("/api/v1/co-occurrence", post(co_occurrence))
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

/// The investigator and the caller's name, or the refusal.
pub(crate) fn admit(s: &HttpState, headers: &HeaderMap) -> Result<(Investigator, String), Denied> {
    let caller = authorize(s, headers, Role::Investigator)?;
    Ok((s.investigator.clone(), caller.name))
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

async fn find(State(s): State<HttpState>, headers: HeaderMap, Json(b): Json<FindBody>) -> Response {
    let (inv, caller) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(d) => return refused(d),
    };
    let run = async {
        let f = inv.regions.resolve(&b.filter)?;
        let cursor = b
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(store::Cursor::decode)
            .transpose()
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let json = serde_json::json!({ "filter": b.filter, "limit": b.limit, "cursor": b.cursor });
        let limit = b.limit;
        inv.run(
            &caller,
            "find",
            json,
            move |st| st.find(&f, limit, cursor.as_ref()),
            |a| a.result.total,
        )
        .await
    };
    match run.await {
        Ok(a) => Json(FindAnswer {
            next_cursor: a.result.next.map(|c| c.encode()),
            total: a.result.total,
            sightings: a.result.sightings,
            coverage: a.coverage,
        })
        .into_response(),
        Err(e) => status(e),
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

async fn trajectory(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Json(b): Json<TrajectoryBody>,
) -> Response {
    let (inv, caller) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(d) => return refused(d),
    };
    let run = async {
        let subject = match (b.plate.filter(|p| !p.trim().is_empty()), b.sighting) {
            (Some(p), None) => store::Subject::Plate(p.trim().to_owned()),
            (None, Some(k)) => store::Subject::Sighting(parse_key(&k)?),
            _ => {
                return Err(Status::invalid_argument(
                    "give exactly one of plate and sighting",
                ))
            }
        };
        let min_cosine = b.min_cosine.unwrap_or(store::DEFAULT_MIN_COSINE);
        let json = serde_json::json!({
            "subject": subject_json(&subject), "from": b.from, "to": b.to, "min_cosine": min_cosine,
        });
        inv.run(
            &caller,
            "trajectory",
            json,
            move |st| st.trajectory(&subject, b.from, b.to, min_cosine),
            |a| a.result.len() as u64,
        )
        .await
    };
    match run.await {
        Ok(a) => Json(a).into_response(),
        Err(e) => status(e),
    }
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

async fn co_occurrence(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Json(b): Json<CoOccurrenceBody>,
) -> Response {
    let (inv, caller) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(d) => return refused(d),
    };
    let run = async {
        let windows = b
            .windows
            .iter()
            .map(|w| inv.regions.resolve(w))
            .collect::<Result<Vec<_>, _>>()?;
        let q = store::CoOccurrence {
            min_windows: b.min_windows.unwrap_or(windows.len()),
            min_cosine: b.min_cosine.unwrap_or(store::DEFAULT_MIN_COSINE),
            limit: b.limit.unwrap_or(100),
            windows,
        };
        let json = serde_json::json!({
            "windows": b.windows, "min_windows": q.min_windows, "min_cosine": q.min_cosine,
            "limit": q.limit,
        });
        inv.run(
            &caller,
            "co-occurrence",
            json,
            move |st| st.co_occurrence(&q),
            |a| a.result.len() as u64,
        )
        .await
    };
    match run.await {
        Ok(a) => Json(a).into_response(),
        Err(e) => status(e),
    }
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

async fn similar(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Json(b): Json<SimilarBody>,
) -> Response {
    let (inv, caller) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(d) => return refused(d),
    };
    let run = async {
        let key = parse_key(&b.sighting)?;
        let f = inv.regions.resolve(&b.filter)?;
        let limit = b.limit.unwrap_or(20);
        let json = serde_json::json!({
            "probe": { "sighting": b.sighting }, "filter": b.filter, "limit": limit,
        });
        let probe = store::Probe::Sighting(key);
        inv.run(
            &caller,
            "similar",
            json,
            move |st| st.similar(&probe, &f, limit),
            |a| a.result.len() as u64,
        )
        .await
    };
    match run.await {
        Ok(a) => Json(a).into_response(),
        Err(e) => status(e),
    }
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
