//! The platform's HTTP side: Prometheus `/metrics`, and JSON for people and scripts
//! (`/api/v1/cameras`, `/api/v1/sightings`; the investigators' operations and the audit log in
//! [`crate::http_search`]). The same data as the gRPC services, read through
//! the same code, so the two never disagree.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base::metrics::{Exposition, Kind};
use store::Store;

use crate::auth::{Denied, Role};
use crate::health::HealthService;

#[derive(Clone)]
pub(crate) struct HttpState {
    pub node: String,
    pub store: Arc<Store>,
    pub health: HealthService,
    pub auth: crate::auth::Auth,
    pub media: Arc<uplink::MediaStats>,
    pub upstream_connected: Option<Arc<uplink::ForwarderStats>>,
    pub investigator: crate::investigate::Investigator,
}

pub(crate) fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/cameras", get(cameras))
        .route("/api/v1/sightings", get(sightings))
        .route("/api/v1/rejected", get(rejected))
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(crate::http_search::routes())
        .merge(crate::http_watch::routes())
        .with_state(state)
}

/// The caller behind the request's bearer token.
pub(crate) fn authorize(
    s: &HttpState,
    headers: &HeaderMap,
    needed: Role,
) -> Result<crate::auth::Caller, Denied> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    s.auth.check_header(header, needed)
}

/// 401 (with `WWW-Authenticate: Bearer`) or 403, and why.
pub(crate) fn refused(d: Denied) -> Response {
    let status = match d {
        Denied::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Denied::Forbidden(_) => StatusCode::FORBIDDEN,
    };
    (
        status,
        [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
        format!("{d}\n"),
    )
        .into_response()
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
}

async fn metrics(State(s): State<HttpState>) -> Response {
    let store = s.store.clone();
    let stats = match tokio::task::spawn_blocking(move || store.stats()).await {
        Ok(Ok(st)) => st,
        Ok(Err(e)) => return unavailable(e),
        Err(e) => return unavailable(e),
    };
    let cams = match s.health.overview(false, None).await {
        Ok(o) => o,
        Err(e) => return unavailable(e),
    };
    let node = s.node.as_str();
    let mut m = Exposition::new();
    m.sample(
        "xueliang_sightings_stored",
        Kind::Gauge,
        "Sightings stored at this node.",
        &[("node", node)],
        stats.sightings as f64,
    );
    m.sample(
        "xueliang_outbox_pending",
        Kind::Gauge,
        "Items waiting for the upstream.",
        &[("node", node)],
        stats.outbox_pending as f64,
    );
    m.sample(
        "xueliang_outbox_shed_total",
        Kind::Counter,
        "Items shed from the outbox because it was full.",
        &[("node", node)],
        stats.outbox_shed_total as f64,
    );
    for src in &stats.sources {
        m.sample(
            "xueliang_source_high_water",
            Kind::Gauge,
            "Highest sequence committed per source.",
            &[("node", node), ("source", &src.source)],
            src.high_water as f64,
        );
        m.sample(
            "xueliang_source_crops_shed_total",
            Kind::Counter,
            "Crops a source reports it evicted for its storage budget.",
            &[("node", node), ("source", &src.source)],
            src.crops_shed_total as f64,
        );
        m.sample(
            "xueliang_source_shed_total",
            Kind::Counter,
            "Items a source reports it shed.",
            &[("node", node), ("source", &src.source)],
            src.shed_total as f64,
        );
    }
    for (name, help, v) in [
        (
            "xueliang_media_served_total",
            "Crops served by this node.",
            &s.media.served,
        ),
        (
            "xueliang_media_cache_hits_total",
            "Crops served from this node's cache.",
            &s.media.cache_hits,
        ),
        (
            "xueliang_media_fetched_total",
            "Crops fetched from the tier below.",
            &s.media.fetched,
        ),
    ] {
        m.sample(
            name,
            Kind::Counter,
            help,
            &[("node", node)],
            v.load(std::sync::atomic::Ordering::Relaxed) as f64,
        );
    }
    if let Some(f) = &s.upstream_connected {
        let up = f.connected.load(std::sync::atomic::Ordering::Relaxed);
        m.sample(
            "xueliang_upstream_connected",
            Kind::Gauge,
            "1 when the uplink to the upstream is open.",
            &[("node", node)],
            f64::from(u8::from(up)),
        );
    }
    m.sample(
        "xueliang_cameras",
        Kind::Gauge,
        "Cameras known from health reports.",
        &[("node", node)],
        cams.cameras as f64,
    );
    m.sample(
        "xueliang_cameras_online",
        Kind::Gauge,
        "Cameras online with a fresh report.",
        &[("node", node)],
        cams.online as f64,
    );
    for c in &cams.counties {
        m.sample(
            "xueliang_county_online_ratio",
            Kind::Gauge,
            "Online cameras / cameras, per county.",
            &[("node", node), ("county", &c.county)],
            c.online_rate,
        );
    }
    for st in &cams.statuses {
        let labels = [
            ("county", st.county.as_str()),
            ("edge", st.node.as_str()),
            ("camera", st.health.camera.as_str()),
        ];
        m.sample(
            "xueliang_camera_up",
            Kind::Gauge,
            "1 when the camera is online with a fresh report.",
            &labels,
            f64::from(u8::from(
                !st.stale && st.health.state == base::CameraState::Online,
            )),
        );
        m.sample(
            "xueliang_camera_diagnoses",
            Kind::Gauge,
            "Active video-quality problems.",
            &labels,
            st.health.diagnoses.len() as f64,
        );
    }
    ([("content-type", "text/plain; version=0.0.4")], m.finish()).into_response()
}

#[derive(serde::Deserialize)]
struct CamerasParams {
    #[serde(default)]
    faulty: bool,
    county: Option<String>,
}

async fn cameras(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Query(p): Query<CamerasParams>,
) -> Response {
    if let Err(d) = authorize(&s, &headers, Role::Operator) {
        return refused(d);
    }
    match s.health.overview(p.faulty, p.county).await {
        Ok(o) => Json(o).into_response(),
        Err(e) => unavailable(e),
    }
}

#[derive(serde::Deserialize)]
struct RejectedParams {
    #[serde(default)]
    source: String,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(serde::Serialize)]
struct RejectedRow {
    source: String,
    seq: u64,
    reason: String,
    at_ms: i64,
}

/// The quarantine (items refused by admission checks, with their reasons): admins only.
async fn rejected(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Query(p): Query<RejectedParams>,
) -> Response {
    if let Err(d) = authorize(&s, &headers, Role::Admin) {
        return refused(d);
    }
    let store = s.store.clone();
    let limit = p.limit.unwrap_or(100).min(10_000);
    match tokio::task::spawn_blocking(move || store.rejected(&p.source, limit)).await {
        Ok(Ok(rows)) => Json(
            rows.into_iter()
                .map(|(source, seq, reason, at_ms)| RejectedRow {
                    source,
                    seq,
                    reason,
                    at_ms,
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Ok(Err(e)) => unavailable(e),
        Err(e) => unavailable(e),
    }
}

#[derive(serde::Deserialize)]
struct SightingsParams {
    from: i64,
    to: i64,
    camera: Option<String>,
    class: Option<String>,
    #[serde(default)]
    limit: usize,
    cursor: Option<String>,
}

#[derive(serde::Serialize)]
struct SightingsPage {
    sightings: Vec<base::Sighting>,
    next_cursor: Option<String>,
    total: u64,
}

async fn sightings(
    State(s): State<HttpState>,
    headers: HeaderMap,
    Query(p): Query<SightingsParams>,
) -> Response {
    let caller = match authorize(&s, &headers, Role::Investigator) {
        Ok(c) => c,
        Err(d) => return refused(d),
    };
    let bad = |m: String| (StatusCode::BAD_REQUEST, m).into_response();
    let split = |v: Option<String>| -> Vec<String> {
        v.map(|v| {
            v.split(',')
                .map(str::to_owned)
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
    };
    let mut classes = Vec::new();
    for c in split(p.class) {
        match c.parse::<base::VehicleClass>() {
            Ok(c) => classes.push(c),
            Err(e) => return bad(e.to_string()),
        }
    }
    let cursor = match p.cursor.as_deref().map(store::Cursor::decode).transpose() {
        Ok(c) => c,
        Err(e) => return bad(e.to_string()),
    };
    let q = store::Query {
        from_ms: p.from,
        to_ms: p.to,
        cameras: split(p.camera),
        classes,
        limit: p.limit,
        cursor,
    };
    let json = serde_json::json!({
        "from": q.from_ms, "to": q.to_ms, "cameras": q.cameras,
        "classes": q.classes.iter().map(|c| c.name()).collect::<Vec<_>>(),
    });
    let answer = s
        .investigator
        .run(
            &caller.name,
            "search",
            json,
            move |st| st.search(&q),
            |p| p.total,
        )
        .await;
    match answer {
        Ok(page) => Json(SightingsPage {
            next_cursor: page.next.map(|c| c.encode()),
            total: page.total,
            sightings: page.sightings,
        })
        .into_response(),
        Err(e) if e.code() == tonic::Code::InvalidArgument => bad(e.message().to_owned()),
        Err(e) => unavailable(e.message()),
    }
}
