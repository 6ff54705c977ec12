//! Watchlists and their alerts over HTTP JSON, through the same audited [`Investigator`] calls
//! as gRPC: `GET /api/v1/watchlists`, `POST /api/v1/watchlists` (`{"name", "filter"}`, the
//! filter's time range may be left out), `DELETE /api/v1/watchlists/{name}`, and
//! `GET /api/v1/alerts?after=ID&watchlists=a,b&limit=N` — stored alerts after an id, oldest
//! first, with `next_after` to poll from. Investigators only; bad input is 400 with the reason.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use tonic::Status;

use crate::http::{refused, HttpState};
use crate::http_search::{admit, read, status};
use crate::investigate::FilterSpec;

pub(crate) fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/watchlists", get(list).post(add))
        .route("/api/v1/watchlists/{name}", delete(remove))
        .route("/api/v1/alerts", get(alerts))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    name: String,
    /// A [`FilterSpec`]; `from`/`to` are optional here (a watchlist has no time range).
    #[serde(default)]
    filter: serde_json::Map<String, serde_json::Value>,
}

async fn add(State(s): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let (inv, caller) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(d) => return refused(d),
    };
    // A body that is not one is refused and audited, as on every search route.
    let b: AddBody = match read(&inv, &caller, "watchlist-add", &body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut filter = b.filter;
    filter.entry("from").or_insert(0.into());
    filter.entry("to").or_insert(1.into());
    let sent = serde_json::json!({ "name": b.name, "filter": filter.clone() });
    let spec: FilterSpec = match serde_json::from_value(filter.into()) {
        Ok(f) => f,
        Err(e) => {
            let refusal = Status::invalid_argument(format!("filter: {e}"));
            return status(inv.refuse(&caller, "watchlist-add", sent, refusal).await);
        }
    };
    match inv.add_watchlist(&caller, b.name, spec).await {
        Ok(w) => (StatusCode::CREATED, Json(w)).into_response(),
        Err(e) => status(e),
    }
}

async fn list(State(s): State<HttpState>, headers: HeaderMap) -> Response {
    let (inv, caller) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(d) => return refused(d),
    };
    match inv.list_watchlists(&caller).await {
        Ok(w) => Json(w).into_response(),
        Err(e) => status(e),
    }
}

async fn remove(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let (inv, caller) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(d) => return refused(d),
    };
    match inv.remove_watchlist(&caller, name.clone()).await {
        Ok(true) => Json(serde_json::json!({ "removed": name })).into_response(),
        Ok(false) => (
            StatusCode::NOT_FOUND,
            format!("no watchlist named {name:?}\n"),
        )
            .into_response(),
        Err(e) => status(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertParams {
    #[serde(default)]
    after: u64,
    /// Comma-separated names; none = every watchlist.
    #[serde(default)]
    watchlists: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(serde::Serialize)]
struct AlertPage {
    alerts: Vec<store::Alert>,
    /// Poll again with `after` set to this.
    next_after: u64,
}

async fn alerts(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Query(p): Query<AlertParams>,
) -> Response {
    let (inv, caller) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(d) => return refused(d),
    };
    let lists: Vec<String> = p
        .watchlists
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    let limit = p.limit.unwrap_or(100).clamp(1, store::MAX_ALERTS_PAGE);
    let json = serde_json::json!({ "watchlists": lists, "after_id": p.after, "limit": limit });
    let run = inv.alerts(&caller, json, lists, p.after, limit);
    match run.await {
        Ok(alerts) => Json(AlertPage {
            next_after: alerts.last().map_or(p.after, |a| a.id),
            alerts,
        })
        .into_response(),
        Err(e) => status(e),
    }
}
