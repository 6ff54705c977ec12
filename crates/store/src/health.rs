//! Camera health at a node: the latest state of every camera, and health reports queued
//! upward.
//!
//! A report is the full set of one edge node's cameras at one moment, so applying it replaces
//! that node's rows (a camera that left the node's config disappears), and an older report
//! arriving late never overwrites a newer one. In the outbox a new report of a node replaces
//! its pending older one: health is superseded, never accumulated, so an outage of the upstream
//! costs one queued report per edge node, not one per interval.

use base::{CameraHealth, HealthReport};
use rusqlite::{params, OptionalExtension, Transaction};

use crate::sqlite::to_json;
use crate::{Error, Item, Store};

/// One camera's latest health, as stored at a node.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraRow {
    /// The edge node that pulls the camera.
    pub node: String,
    /// The county platform the edge reports to (empty at the edge itself).
    pub county: String,
    /// When the edge made the report, Unix ms.
    pub reported_ms: i64,
    pub health: CameraHealth,
}

impl Store {
    /// Edge: keeps `report` as the local view and queues it for upstream, replacing the
    /// pending older report of the same node.
    pub fn record_health(&self, report: &HealthReport) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql("begin health"))?;
        self.put_health(&tx, report)?;
        self.queue_health(&tx, report)?;
        self.shed_overflow(&tx)?;
        tx.commit().map_err(self.sql("commit health"))
    }

    /// Applies `report` to the camera table (unless a newer report of its node is there).
    pub(crate) fn put_health(
        &self,
        tx: &Transaction<'_>,
        report: &HealthReport,
    ) -> Result<(), Error> {
        for cam in &report.cameras {
            // The change history, for reports newer than what the node last said.
            let known: Option<i64> = tx
                .query_row(
                    "SELECT reported_ms FROM camera_health WHERE node = ?1 AND camera = ?2",
                    params![report.node, cam.camera],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.sql("read camera health"))?;
            if known.is_none_or(|k| k <= report.at_ms) {
                // A node silent for longer than the staleness bound vouched for nothing in
                // between: the history says so, and the report resumes it.
                let stale = self.health_stale_after();
                let silent_since = known.filter(|k| stale > 0 && report.at_ms - k > stale);
                if let Some(k) = silent_since {
                    crate::investigate::coverage::log_silence(
                        tx,
                        &report.node,
                        &cam.camera,
                        k + stale,
                    )
                    .map_err(self.sql("log camera health"))?;
                }
                crate::investigate::coverage::log_health(
                    tx,
                    &report.node,
                    report.at_ms,
                    cam,
                    silent_since.is_some(),
                )
                .map_err(self.sql("log camera health"))?;
            }
            tx.execute(
                "INSERT INTO camera_health (node, camera, county, reported_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(node, camera) DO UPDATE SET county = excluded.county,
                     reported_ms = excluded.reported_ms, body = excluded.body
                 WHERE excluded.reported_ms >= camera_health.reported_ms",
                params![
                    report.node,
                    cam.camera,
                    report.county,
                    report.at_ms,
                    to_json(cam)
                ],
            )
            .map_err(self.sql("store camera health"))?;
        }
        // Cameras the node no longer reports have left its config.
        tx.execute(
            "DELETE FROM camera_health WHERE node = ?1 AND reported_ms < ?2",
            params![report.node, report.at_ms],
        )
        .map_err(self.sql("store camera health"))?;
        Ok(())
    }

    /// After `ms` without a report from its node, a camera's health counts as unknown in
    /// coverage (both for silences that ended and for one still going on). 0 (the default)
    /// never judges silence.
    pub fn set_health_stale_after_ms(&self, ms: i64) {
        self.health_stale_after_ms
            .store(ms.max(0), std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn health_stale_after(&self) -> i64 {
        self.health_stale_after_ms
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues `report` upward, replacing the node's pending older report.
    pub(crate) fn queue_health(
        &self,
        tx: &Transaction<'_>,
        report: &HealthReport,
    ) -> Result<(), Error> {
        tx.execute(
            "DELETE FROM outbox WHERE kind = 'health' AND node = ?1",
            [&report.node],
        )
        .map_err(self.sql("supersede health"))?;
        tx.execute(
            "INSERT INTO outbox (kind, node, body) VALUES ('health', ?1, ?2)",
            params![report.node, to_json(&Item::Health(report.clone()))],
        )
        .map_err(self.sql("queue health"))?;
        Ok(())
    }

    /// Every camera's latest health, by county, node and camera.
    pub fn cameras(&self) -> Result<Vec<CameraRow>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT node, county, reported_ms, body FROM camera_health
                 ORDER BY county, node, camera",
            )
            .map_err(self.sql("read camera health"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(self.sql("read camera health"))?;
        let mut out = Vec::new();
        for row in rows {
            let (node, county, reported_ms, body) = row.map_err(self.sql("read camera health"))?;
            out.push(CameraRow {
                node,
                county,
                reported_ms,
                health: self.decode(&body, "read camera health")?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base::CameraState;

    fn report(node: &str, at_ms: i64, cams: &[(&str, CameraState)]) -> HealthReport {
        HealthReport {
            node: node.into(),
            county: String::new(),
            at_ms,
            cameras: cams
                .iter()
                .map(|(c, s)| CameraHealth {
                    camera: (*c).into(),
                    state: *s,
                    since_ms: at_ms - 1000,
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn health_supersedes_in_the_outbox_and_the_table() {
        let store = Store::open_in_memory().unwrap();
        store
            .record_health(&report(
                "e1",
                1000,
                &[("a", CameraState::Online), ("b", CameraState::Offline)],
            ))
            .unwrap();
        store
            .record(
                "e1",
                vec![base::Sighting {
                    camera: "a".into(),
                    ..Default::default()
                }],
            )
            .unwrap();
        store
            .record_health(&report("e1", 2000, &[("a", CameraState::Offline)]))
            .unwrap();
        // One sighting and only the newest report are pending.
        let pending = store.pending(0, 10).unwrap();
        assert_eq!(pending.len(), 2);
        assert!(matches!(&pending[1].item, Item::Health(r) if r.at_ms == 2000));
        // Camera b left the node's config; a stays with its newest state.
        let cams = store.cameras().unwrap();
        assert_eq!(cams.len(), 1);
        assert_eq!(
            (cams[0].health.camera.as_str(), cams[0].health.state),
            ("a", CameraState::Offline)
        );
    }

    #[test]
    fn a_late_older_report_does_not_win() {
        let store = Store::open_in_memory().unwrap();
        let new = report("e1", 2000, &[("a", CameraState::Online)]);
        let old = report("e1", 1000, &[("a", CameraState::Offline)]);
        store
            .append(
                &crate::Batch::new("e1", &[(1, Item::Health(new)), (2, Item::Health(old))], 2),
                false,
            )
            .unwrap();
        let cams = store.cameras().unwrap();
        assert_eq!(cams[0].health.state, CameraState::Online);
        assert_eq!(cams[0].reported_ms, 2000);
    }
}
