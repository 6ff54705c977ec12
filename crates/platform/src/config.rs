//! Platform configuration: the `[platform]` table of a node's TOML file.
//! See `deploy/county.toml` and `deploy/city.toml` for documented examples.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How a county or city platform runs.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformConfig {
    /// This node's id; the upstream knows it as a source by this name. Required.
    pub node: String,
    /// gRPC listen address for Uplink and Search. Default `127.0.0.1:7100`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// SQLite database file. Default `<node>.sqlite` in the working directory.
    #[serde(default)]
    pub database: Option<PathBuf>,
    /// Upstream platform (e.g. `http://10.1.0.1:7100`); none for the top tier.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Bound on items waiting for the upstream; beyond it the oldest are shed and counted.
    /// Default 1000000.
    #[serde(default = "default_outbox_capacity")]
    pub outbox_capacity: u64,
    /// HTTP address for `/metrics` (Prometheus), `/api/v1/cameras` and `/api/v1/sightings`
    /// (JSON). Default `127.0.0.1:7180`; `"off"` is not accepted: every node exposes metrics.
    #[serde(default = "default_http_listen")]
    pub http_listen: SocketAddr,
    /// A camera whose edge has not reported for this long counts as offline (stale).
    /// Default 60.
    #[serde(default = "default_stale_after_s")]
    pub health_stale_after_s: u64,
    /// Node ids allowed to push here (edges for a county, counties for a city); others are
    /// refused with PermissionDenied. Default: empty, any source.
    #[serde(default)]
    pub allowed_sources: Vec<String>,
    /// Items dated more than this many seconds ahead of this node's clock are quarantined.
    /// Default 300.
    #[serde(default = "default_max_future_s")]
    pub max_future_s: u64,
    /// Items older than this many days (the retention) are quarantined. Default 30.
    #[serde(default = "default_max_age_days")]
    pub max_age_days: u64,
    /// TLS for the gRPC listener and the upstream link (`[platform.tls]`); without it the node
    /// speaks plain text and accepts sources by name only.
    #[serde(default)]
    pub tls: Option<uplink::TlsConfig>,
    /// API tokens (`[[platform.token]]`); with none, search and health calls are refused.
    #[serde(default)]
    pub token: Vec<crate::auth::TokenConfig>,
    /// Named regions for investigators' searches (`[[platform.region]]`): a polygon of
    /// `[lat, lon]` vertices (at least 3). Default: none.
    #[serde(default)]
    pub region: Vec<RegionConfig>,
    /// Camera positions (`[[platform.camera]]`), written to the store at start; they resolve
    /// counties and regions and drive speed checks. Default: none.
    #[serde(default)]
    pub camera: Vec<CameraConfig>,
}

/// `[[platform.region]]`: a named polygon.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    /// Unique name, as investigators write it (`--region`).
    pub name: String,
    /// Vertices `[lat, lon]` in degrees, in order; at least 3.
    pub polygon: Vec<[f64; 2]>,
}

impl RegionConfig {
    pub fn region(&self) -> store::Region {
        store::Region::new(
            &self.name,
            self.polygon.iter().map(|[lat, lon]| (*lat, *lon)).collect(),
        )
    }
}

/// `[[platform.camera]]`: where a camera stands.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    pub id: String,
    pub county: String,
    pub lat: f64,
    pub lon: f64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7100))
}

fn default_outbox_capacity() -> u64 {
    1_000_000
}

fn default_http_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7180))
}

fn default_stale_after_s() -> u64 {
    60
}

fn default_max_future_s() -> u64 {
    300
}

fn default_max_age_days() -> u64 {
    30
}

impl PlatformConfig {
    /// A config with defaults for everything but the node id.
    pub fn new(node: impl Into<String>) -> Self {
        PlatformConfig {
            node: node.into(),
            listen: default_listen(),
            database: None,
            upstream: None,
            outbox_capacity: default_outbox_capacity(),
            http_listen: default_http_listen(),
            health_stale_after_s: default_stale_after_s(),
            allowed_sources: Vec::new(),
            max_future_s: default_max_future_s(),
            max_age_days: default_max_age_days(),
            tls: None,
            token: Vec::new(),
            region: Vec::new(),
            camera: Vec::new(),
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.database
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.sqlite", self.node)))
    }

    /// The receiver's admission rules from this config.
    pub fn admission(&self) -> uplink::Admission {
        uplink::Admission {
            allowed_sources: self.allowed_sources.clone(),
            max_future_ms: self.max_future_s.saturating_mul(1000) as i64,
            max_age_ms: self.max_age_days.saturating_mul(86_400_000) as i64,
        }
    }

    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |message: String| crate::Error::Config {
            node: self.node.clone(),
            message,
        };
        uplink::check_node_id(&self.node).map_err(bad)?;
        if let Some(up) = &self.upstream {
            uplink::check_upstream(up).map_err(bad)?;
            uplink::check_upstream_tls(up, self.tls.is_some(), "[platform.tls]").map_err(bad)?;
        }
        crate::auth::Auth::new(&self.token).map_err(bad)?;
        let mut names = std::collections::BTreeSet::new();
        for r in &self.region {
            if r.name.trim().is_empty() {
                return Err(bad("[[platform.region]] needs a name".into()));
            }
            if !names.insert(r.name.as_str()) {
                return Err(bad(format!(
                    "[[platform.region]] {:?} is defined twice",
                    r.name
                )));
            }
            if r.polygon.len() < 3 {
                return Err(bad(format!(
                    "[[platform.region]] {:?}: polygon needs at least 3 [lat, lon] vertices",
                    r.name
                )));
            }
            if r.polygon.iter().flatten().any(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "[[platform.region]] {:?}: polygon has a coordinate that is not a number",
                    r.name
                )));
            }
        }
        for c in &self.camera {
            if c.id.is_empty() || !(c.lat.is_finite() && c.lon.is_finite()) {
                return Err(bad(format!(
                    "[[platform.camera]] {:?}: needs an id and numeric lat, lon",
                    c.id
                )));
            }
        }
        Ok(())
    }
}
