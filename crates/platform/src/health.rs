//! The operators' view of camera health at a platform: online rate overall and per county,
//! and the faulty cameras with reason and duration, from the latest report of every camera.
//!
//! A camera counts as online only if its last report says so *and* that report is fresh: an
//! edge that stopped reporting (crashed, cut off) leaves its cameras `stale`, counted offline,
//! because nobody can vouch for them. Faulty = not online, stale, or with an active
//! video-quality diagnosis; faulty cameras come first, the longest fault first.

use std::collections::BTreeMap;

use base::{CameraHealth, CameraState};
use store::CameraRow;

/// One camera as a platform sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CameraStatus {
    pub county: String,
    pub node: String,
    pub reported_ms: i64,
    pub stale: bool,
    pub faulty: bool,
    /// How long the camera has been in its current state (or faulty), ms.
    pub for_ms: i64,
    pub health: CameraHealth,
}

/// Online cameras of one county.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CountyOnline {
    pub county: String,
    pub cameras: u32,
    pub online: u32,
    pub online_rate: f64,
}

/// Everything an operator's screen shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CameraOverview {
    pub cameras: u32,
    pub online: u32,
    pub online_rate: f64,
    pub counties: Vec<CountyOnline>,
    pub statuses: Vec<CameraStatus>,
}

fn rate(online: u32, total: u32) -> f64 {
    if total == 0 {
        0.0
    } else {
        online as f64 / total as f64
    }
}

/// Builds the overview from stored rows. `stale_after_ms`: a report older than this (against
/// `now_ms`) no longer counts. `faulty_only` and `county` filter the list, not the rates.
pub fn overview(
    rows: Vec<CameraRow>,
    now_ms: i64,
    stale_after_ms: i64,
    faulty_only: bool,
    county: Option<&str>,
) -> CameraOverview {
    let mut counties: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut statuses = Vec::with_capacity(rows.len());
    for row in rows {
        let stale = now_ms - row.reported_ms > stale_after_ms;
        let online = !stale && row.health.state == CameraState::Online;
        let faulty = stale || !row.health.is_healthy();
        let entry = counties.entry(row.county.clone()).or_default();
        entry.0 += 1;
        entry.1 += u32::from(online);
        // A fault's start: a diagnosis's start while online, else the state's start; a stale
        // camera has been unknown since its last report.
        let since = if stale {
            row.reported_ms
        } else if online {
            row.health
                .diagnoses
                .iter()
                .map(|d| d.since_ms)
                .min()
                .unwrap_or(row.health.since_ms)
        } else {
            row.health.since_ms
        };
        statuses.push(CameraStatus {
            county: row.county,
            node: row.node,
            reported_ms: row.reported_ms,
            stale,
            faulty,
            for_ms: (now_ms - since).max(0),
            health: row.health,
        });
    }
    let (cameras, online) = counties
        .values()
        .fold((0, 0), |(c, o), (cc, oo)| (c + cc, o + oo));
    statuses.retain(|s| (!faulty_only || s.faulty) && county.is_none_or(|c| s.county == c));
    statuses.sort_by(|a, b| {
        b.faulty
            .cmp(&a.faulty)
            .then(b.for_ms.cmp(&a.for_ms))
            .then_with(|| {
                (&a.county, &a.node, &a.health.camera).cmp(&(&b.county, &b.node, &b.health.camera))
            })
    });
    CameraOverview {
        cameras,
        online,
        online_rate: rate(online, cameras),
        counties: counties
            .into_iter()
            .map(|(county, (cameras, online))| CountyOnline {
                county,
                cameras,
                online,
                online_rate: rate(online, cameras),
            })
            .collect(),
        statuses,
    }
}

/// `Health` gRPC service over a store.
#[derive(Clone)]
pub struct HealthService {
    store: std::sync::Arc<store::Store>,
    stale_after_ms: i64,
}

impl HealthService {
    pub fn new(store: std::sync::Arc<store::Store>, stale_after_ms: i64) -> Self {
        HealthService {
            store,
            stale_after_ms,
        }
    }

    pub fn into_server(self) -> proto::v1::health_server::HealthServer<Self> {
        proto::v1::health_server::HealthServer::new(self)
    }

    /// The overview now; runs the SQLite read on the blocking pool.
    pub async fn overview(
        &self,
        faulty_only: bool,
        county: Option<String>,
    ) -> Result<CameraOverview, store::Error> {
        let (store, stale) = (self.store.clone(), self.stale_after_ms);
        tokio::task::spawn_blocking(move || {
            let rows = store.cameras()?;
            Ok(overview(
                rows,
                base::now_ms(),
                stale,
                faulty_only,
                county.as_deref(),
            ))
        })
        .await
        .unwrap_or_else(|e| Err(store::Error::Query(format!("health task failed: {e}"))))
    }
}

#[tonic::async_trait]
impl proto::v1::health_server::Health for HealthService {
    async fn cameras(
        &self,
        request: tonic::Request<proto::v1::CamerasRequest>,
    ) -> Result<tonic::Response<proto::v1::CamerasResponse>, tonic::Status> {
        let r = request.into_inner();
        let county = (!r.county.is_empty()).then_some(r.county);
        let o = self
            .overview(r.faulty_only, county)
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        Ok(tonic::Response::new((&o).into()))
    }
}

impl From<&CameraOverview> for proto::v1::CamerasResponse {
    fn from(o: &CameraOverview) -> Self {
        proto::v1::CamerasResponse {
            cameras: o.cameras,
            online: o.online,
            online_rate: o.online_rate,
            counties: o
                .counties
                .iter()
                .map(|c| proto::v1::CountyOnline {
                    county: c.county.clone(),
                    cameras: c.cameras,
                    online: c.online,
                    online_rate: c.online_rate,
                })
                .collect(),
            statuses: o
                .statuses
                .iter()
                .map(|s| proto::v1::CameraStatus {
                    county: s.county.clone(),
                    node: s.node.clone(),
                    health: Some((&s.health).into()),
                    reported_ms: s.reported_ms,
                    stale: s.stale,
                    faulty: s.faulty,
                    for_ms: s.for_ms,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base::Diagnosis;

    fn row(county: &str, camera: &str, state: CameraState, since: i64, reported: i64) -> CameraRow {
        CameraRow {
            node: format!("edge-{county}"),
            county: county.into(),
            reported_ms: reported,
            health: CameraHealth {
                camera: camera.into(),
                state,
                since_ms: since,
                ..Default::default()
            },
        }
    }

    #[test]
    fn rates_per_county_and_faults_longest_first() {
        let now = 100_000;
        let mut blurred = row("c1", "blurred", CameraState::Online, 1_000, now - 5_000);
        blurred.health.diagnoses.push(Diagnosis {
            kind: "blur".into(),
            score: 0.9,
            threshold: 0.5,
            since_ms: 90_000,
        });
        let rows = vec![
            row("c1", "ok", CameraState::Online, 1_000, now - 5_000),
            row("c1", "down", CameraState::Offline, 40_000, now - 5_000),
            blurred,
            row("c2", "ok2", CameraState::Online, 1_000, now - 5_000),
            // Its edge stopped reporting 50 s ago: nobody vouches for it.
            row("c2", "silent", CameraState::Online, 1_000, now - 50_000),
        ];
        let o = overview(rows, now, 30_000, false, None);
        assert_eq!((o.cameras, o.online), (5, 3));
        assert_eq!(o.counties[0].county, "c1");
        assert_eq!((o.counties[0].cameras, o.counties[0].online), (3, 2));
        assert_eq!((o.counties[1].cameras, o.counties[1].online), (2, 1));
        let names: Vec<_> = o
            .statuses
            .iter()
            .map(|s| s.health.camera.as_str())
            .collect();
        assert_eq!(names, ["down", "silent", "blurred", "ok", "ok2"]);
        assert_eq!(o.statuses[0].for_ms, 60_000);
        assert!(o.statuses[1].stale && o.statuses[1].faulty);
        assert_eq!(o.statuses[2].for_ms, 10_000);

        let faulty = overview(
            o.statuses
                .iter()
                .map(|s| CameraRow {
                    node: s.node.clone(),
                    county: s.county.clone(),
                    reported_ms: s.reported_ms,
                    health: s.health.clone(),
                })
                .collect(),
            now,
            30_000,
            true,
            Some("c2"),
        );
        assert_eq!(faulty.statuses.len(), 1);
        assert_eq!(faulty.cameras, 5, "filters do not change the rates");
    }
}
