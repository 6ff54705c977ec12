//! The edge's HTTP side: Prometheus `/metrics` (per-camera counters, detector time, outbox)
//! and `/api/v1/cameras` (this node's health report as JSON).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base::metrics::{Exposition, Kind};

use crate::node::Shared;

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/cameras", get(cameras))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(shared)
}

async fn cameras(State(s): State<Shared>) -> Response {
    let report = tokio::task::block_in_place(|| {
        s.cameras.lock().unwrap_or_else(|p| p.into_inner()).health()
    });
    Json(report).into_response()
}

async fn metrics(State(s): State<Shared>) -> Response {
    let (stats, health) = tokio::task::block_in_place(|| {
        let health = s.cameras.lock().unwrap_or_else(|p| p.into_inner()).health();
        (s.stats(), health)
    });
    let node = s.node.as_str();
    let mut m = Exposition::new();
    for c in &stats.cameras {
        let l = [("node", node), ("camera", c.id.as_str())];
        m.sample(
            "xueliang_camera_frames_decoded_total",
            Kind::Counter,
            "Frames decoded.",
            &l,
            c.frames_decoded as f64,
        );
        m.sample(
            "xueliang_camera_frames_analysed_total",
            Kind::Counter,
            "Frames run through the detector.",
            &l,
            c.frames_analysed as f64,
        );
        m.sample(
            "xueliang_camera_frames_skipped_total",
            Kind::Counter,
            "Frames decoded but not analysed.",
            &l,
            c.frames_skipped as f64,
        );
        m.sample(
            "xueliang_camera_sightings_total",
            Kind::Counter,
            "Sightings made.",
            &l,
            c.sightings as f64,
        );
        m.sample(
            "xueliang_camera_reconnects_total",
            Kind::Counter,
            "Reconnect attempts.",
            &l,
            c.reconnects as f64,
        );
    }
    for h in &health.cameras {
        let l = [("node", node), ("camera", h.camera.as_str())];
        m.sample(
            "xueliang_camera_up",
            Kind::Gauge,
            "1 when the camera delivers frames.",
            &l,
            f64::from(u8::from(h.state == base::CameraState::Online)),
        );
        m.sample(
            "xueliang_camera_fps",
            Kind::Gauge,
            "Frames per second, measured recently.",
            &l,
            h.fps,
        );
        m.sample(
            "xueliang_camera_bitrate_kbps",
            Kind::Gauge,
            "Compressed bitrate, measured recently.",
            &l,
            h.bitrate_kbps,
        );
        m.sample(
            "xueliang_camera_decode_errors_total",
            Kind::Counter,
            "Decoder errors and warnings.",
            &l,
            h.decode_errors as f64,
        );
        m.sample(
            "xueliang_camera_diagnoses",
            Kind::Gauge,
            "Active video-quality problems.",
            &l,
            h.diagnoses.len() as f64,
        );
    }
    let l = [("node", node)];
    m.sample(
        "xueliang_sightings_stored",
        Kind::Gauge,
        "Sightings recorded at this node.",
        &l,
        stats.recorded as f64,
    );
    m.sample(
        "xueliang_outbox_pending",
        Kind::Gauge,
        "Items waiting for the county.",
        &l,
        stats.outbox_pending as f64,
    );
    m.sample(
        "xueliang_outbox_shed_total",
        Kind::Counter,
        "Items shed from the outbox because it was full.",
        &l,
        stats.outbox_shed as f64,
    );
    m.sample(
        "xueliang_upstream_connected",
        Kind::Gauge,
        "1 when the uplink to the county is open.",
        &l,
        f64::from(u8::from(stats.upstream_connected)),
    );
    m.sample(
        "xueliang_detector_ms",
        Kind::Gauge,
        "Mean detector time per frame.",
        &l,
        stats.detector_ms,
    );
    ([("content-type", "text/plain; version=0.0.4")], m.finish()).into_response()
}
