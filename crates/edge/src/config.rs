//! Edge configuration: the `[edge]` part of a node's TOML file, see `deploy/edge.toml` for a
//! documented example. Camera passwords never live in the file: `password_env` names an
//! environment variable that holds it.

use std::path::PathBuf;

/// How an edge node runs.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// This node's id; sightings made here are keyed `<node>#<seq>`. Required.
    pub node: String,
    /// The county platform, e.g. `http://127.0.0.1:7100`. Required.
    pub upstream: String,
    /// SQLite file for the outbox and the local copy of sightings. Default `<node>.sqlite`.
    #[serde(default)]
    pub database: Option<PathBuf>,
    /// Frames analysed per second per camera; 0 = as many as the machine can. Default 5.
    #[serde(default = "default_analysis_fps")]
    pub analysis_fps: f32,
    /// Bound on items waiting for the county; beyond it the oldest are shed and counted.
    /// Default 1000000.
    #[serde(default = "default_outbox_capacity")]
    pub outbox_capacity: u64,
    /// Seconds between two health reports to the county. Default 10.
    #[serde(default = "default_health_interval_s")]
    pub health_interval_s: u64,
    /// HTTP address for `/metrics` (Prometheus) and `/api/v1/cameras` (JSON).
    /// Default `127.0.0.1:7080`.
    #[serde(default = "default_http_listen")]
    pub http_listen: std::net::SocketAddr,
    #[serde(default)]
    pub detector: DetectorSection,
    /// Multi-object tracker (`[edge.tracker]`): score bands, matching thresholds, how long a
    /// vehicle may be unseen; see `track::TrackerConfig` for every field and its default.
    #[serde(default)]
    pub tracker: track::TrackerConfig,
    /// Video quality diagnosis thresholds and timings (`[edge.quality]`); see
    /// `ingest::QualityConfig` for every field and its default.
    #[serde(default)]
    pub quality: ingest::QualityConfig,
    /// gRPC address of this node's Media service, where the county fetches crops.
    /// Default `127.0.0.1:7090`.
    #[serde(default = "default_media_listen")]
    pub media_listen: std::net::SocketAddr,
    /// The Media URL announced to the county; default `http(s)://<media_listen>`. Set it when
    /// the node listens on 0.0.0.0 or behind NAT.
    #[serde(default)]
    pub media_url: Option<String>,
    /// Megabytes of best-shot crops kept; beyond it the oldest are evicted (counted and
    /// reported upward; sighting metadata is never evicted for crops). Default 1024.
    #[serde(default = "default_crop_capacity_mb")]
    pub crop_capacity_mb: u64,
    /// TLS to the county (`[edge.tls]`: `ca`, `cert`, `key`), required for an `https://`
    /// upstream; the certificate's Common Name must be this node's id.
    #[serde(default)]
    pub tls: Option<uplink::TlsConfig>,
    /// The cameras this node pulls. At least one.
    #[serde(default, rename = "camera")]
    pub cameras: Vec<CameraConfig>,
}

/// The vehicle detector.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSection {
    /// YOLO-format ONNX model. Default `$XUELIANG_HOME/models/yolov12n.onnx`.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// ONNX Runtime shared library. Default `$XUELIANG_HOME/onnxruntime/libonnxruntime.so.1.32.0`.
    #[serde(default)]
    pub runtime: Option<PathBuf>,
    /// Vehicle type classifier and appearance model (EfficientNet-Lite0, ImageNet classes).
    /// Default `$XUELIANG_HOME/models/efficientnet-lite0-vehicle.onnx`.
    #[serde(default)]
    pub classifier: Option<PathBuf>,
    /// Plate detector (corners) and recogniser (PP-OCRv4). Defaults
    /// `$XUELIANG_HOME/models/clp_det.onnx` and `$XUELIANG_HOME/models/ppocrv4_rec.onnx`.
    #[serde(default)]
    pub plate_detector: Option<PathBuf>,
    #[serde(default)]
    pub plate_recogniser: Option<PathBuf>,
    /// Minimum detection score. Default 0.35.
    #[serde(default = "default_confidence")]
    pub confidence: f32,
    /// ONNX Runtime intra-op threads. Default 1.
    #[serde(default = "default_threads")]
    pub threads: usize,
}

impl Default for DetectorSection {
    fn default() -> Self {
        DetectorSection {
            model: None,
            runtime: None,
            classifier: None,
            plate_detector: None,
            plate_recogniser: None,
            confidence: default_confidence(),
            threads: default_threads(),
        }
    }
}

/// One camera.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Camera id, unique on this node (e.g. `gate-east`). Required.
    pub id: String,
    /// `rtsp://user@host/path`, a file path, or `file:///path`. Required.
    pub url: String,
    /// Environment variable holding the RTSP password, inserted into `url` at run time.
    #[serde(default)]
    pub password_env: Option<String>,
    /// GA/T 1400 DeviceID (20 digits). Default: the camera id.
    #[serde(default)]
    pub device_id: Option<String>,
}

fn default_analysis_fps() -> f32 {
    5.0
}
fn default_outbox_capacity() -> u64 {
    1_000_000
}
fn default_health_interval_s() -> u64 {
    10
}
fn default_http_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 7080))
}
fn default_media_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 7090))
}
fn default_crop_capacity_mb() -> u64 {
    1024
}
fn default_confidence() -> f32 {
    0.35
}
fn default_threads() -> usize {
    1
}

impl EdgeConfig {
    pub fn new(node: impl Into<String>, upstream: impl Into<String>) -> Self {
        EdgeConfig {
            node: node.into(),
            upstream: upstream.into(),
            database: None,
            analysis_fps: default_analysis_fps(),
            outbox_capacity: default_outbox_capacity(),
            health_interval_s: default_health_interval_s(),
            http_listen: default_http_listen(),
            detector: DetectorSection::default(),
            quality: ingest::QualityConfig::default(),
            tracker: track::TrackerConfig::default(),
            media_listen: default_media_listen(),
            media_url: None,
            crop_capacity_mb: default_crop_capacity_mb(),
            tls: None,
            cameras: Vec::new(),
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.database
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.sqlite", self.node)))
    }

    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |message: String| crate::Error::Config {
            node: self.node.clone(),
            message,
        };
        uplink::check_node_id(&self.node).map_err(bad)?;
        uplink::check_upstream(&self.upstream).map_err(bad)?;
        uplink::check_upstream_tls(&self.upstream, self.tls.is_some(), "[edge.tls]")
            .map_err(bad)?;
        if !(self.analysis_fps >= 0.0 && self.analysis_fps.is_finite()) {
            return Err(bad(format!(
                "`analysis_fps` must be 0 or positive, got {}",
                self.analysis_fps
            )));
        }
        if !(0.0..1.0).contains(&self.detector.confidence) {
            return Err(bad(format!(
                "`detector.confidence` must be in [0, 1), got {}",
                self.detector.confidence
            )));
        }
        if self.health_interval_s == 0 {
            return Err(bad("`health_interval_s` must be at least 1".into()));
        }
        if self.cameras.is_empty() {
            return Err(bad("no `[[edge.camera]]` configured".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.cameras {
            if c.id.trim().is_empty() {
                return Err(bad("a camera has an empty `id`".into()));
            }
            if !seen.insert(c.id.as_str()) {
                return Err(bad(format!("camera id {:?} appears twice", c.id)));
            }
        }
        Ok(())
    }
}

impl CameraConfig {
    /// The URL with the password from `password_env` inserted. The result is a secret: log
    /// only `base::redact_url` of it.
    pub fn resolved_url(&self) -> Result<String, String> {
        let Some(var) = &self.password_env else {
            return Ok(self.url.clone());
        };
        let password = std::env::var(var).map_err(|_| {
            format!(
                "camera {}: environment variable {var} (password_env) is not set",
                self.id
            )
        })?;
        let Some(i) = self.url.find("://") else {
            return Err(format!(
                "camera {}: password_env needs a URL with a scheme",
                self.id
            ));
        };
        let (scheme, rest) = self.url.split_at(i + 3);
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let Some(at) = rest[..authority_end].rfind('@') else {
            return Err(format!(
                "camera {}: password_env needs a user in the URL (rtsp://user@host/...)",
                self.id
            ));
        };
        let user = rest[..at].split(':').next().unwrap_or("");
        Ok(format!("{scheme}{user}:{password}{}", &rest[at..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_comes_from_the_environment() {
        let c = CameraConfig {
            id: "gate".into(),
            url: "rtsp://admin@127.0.0.1:8554/gate".into(),
            password_env: Some("XUELIANG_TEST_CAM_PW".into()),
            device_id: None,
        };
        let err = c.resolved_url().unwrap_err();
        assert!(err.contains("XUELIANG_TEST_CAM_PW"), "{err}");
        // SAFETY-free: tests in this binary do not read this variable concurrently.
        std::env::set_var("XUELIANG_TEST_CAM_PW", "pa:ss");
        assert_eq!(
            c.resolved_url().unwrap(),
            "rtsp://admin:pa:ss@127.0.0.1:8554/gate"
        );
    }

    #[test]
    fn validation_names_the_field() {
        let mut cfg = EdgeConfig::new("e1", "127.0.0.1:7100");
        cfg.cameras.push(CameraConfig {
            id: "a".into(),
            url: "x.mp4".into(),
            password_env: None,
            device_id: None,
        });
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`upstream`"));
        cfg.upstream = "http://127.0.0.1:7100".into();
        cfg.validate().unwrap();
        cfg.cameras.push(cfg.cameras[0].clone());
        assert!(cfg.validate().unwrap_err().to_string().contains("twice"));
    }
}
