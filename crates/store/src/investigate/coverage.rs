//! Coverage: which cameras in a question's scope were offline or degraded during its window.
//!
//! The history comes from `camera_health_log`, one row per *change* of a camera's state or of
//! its set of active video-quality diagnoses (written by `put_health` as reports arrive, so an
//! edge reporting every 10 s costs a row only when something changes). A camera's condition over
//! the window is a step function: the last change at or before the window's start, then every
//! change inside it. A camera in scope that never reported is listed as `unknown`.
//!
//! Silence: with a staleness bound set ([`Store::set_health_stale_after_ms`]), a node that
//! stopped reporting vouches for nothing after its last report plus the bound. A silence that
//! ended is logged when the next report arrives (an `unknown` change at its start, the reported
//! state when it resumes); one still going on is added when coverage is computed, from the
//! cameras' last report times. History starts when this log was added.

use std::collections::BTreeMap;

use base::CameraState;
use rusqlite::{params, Connection};

use super::filter::Scope;
use crate::{Error, Store};

/// What a question covered.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Coverage {
    /// The cameras in scope, sorted; `None` means every camera.
    pub cameras: Option<Vec<String>>,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Periods inside the window when a camera in scope was not online and healthy.
    pub gaps: Vec<Gap>,
}

/// One camera not online and healthy for part of a window.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gap {
    pub camera: String,
    /// Clipped to the window.
    pub from_ms: i64,
    pub to_ms: i64,
    pub state: CameraState,
    /// Active video-quality problems (`black`, `frozen`, …); empty when only the state is bad.
    pub degraded: Vec<String>,
    pub reason: String,
}

impl Coverage {
    /// Merges the coverage of several windows (co-occurrence): union of cameras and gaps.
    pub(crate) fn merge(parts: Vec<Coverage>) -> Coverage {
        let mut out = Coverage {
            from_ms: parts.iter().map(|c| c.from_ms).min().unwrap_or(0),
            to_ms: parts.iter().map(|c| c.to_ms).max().unwrap_or(0),
            ..Default::default()
        };
        let mut cams: Option<Vec<String>> = Some(Vec::new());
        for p in parts {
            match (&mut cams, p.cameras) {
                (Some(all), Some(c)) => all.extend(c),
                _ => cams = None,
            }
            for g in p.gaps {
                if !out.gaps.contains(&g) {
                    out.gaps.push(g);
                }
            }
        }
        if let Some(c) = &mut cams {
            c.sort();
            c.dedup();
        }
        out.cameras = cams;
        out
    }
}

/// Coverage of `scope` over `[from_ms, to_ms)`.
pub(crate) fn coverage(
    store: &Store,
    conn: &Connection,
    scope: &Scope,
    from_ms: i64,
    to_ms: i64,
) -> Result<Coverage, Error> {
    let gaps =
        gaps(store, conn, scope, from_ms, to_ms).map_err(store.sql("read camera health log"))?;
    Ok(Coverage {
        cameras: scope.as_ref().map(|s| s.iter().cloned().collect()),
        from_ms,
        to_ms,
        gaps,
    })
}

type Change = (i64, CameraState, String, String);

/// The reason of a gap while a camera's node was silent.
const SILENCE: &str = "no health report (edge silent)";

fn gaps(
    store: &Store,
    conn: &Connection,
    scope: &Scope,
    from_ms: i64,
    to_ms: i64,
) -> rusqlite::Result<Vec<Gap>> {
    // Per camera: the last change at or before the start, and every change in the window.
    let sql = "SELECT camera, at_ms, state, degraded, reason FROM camera_health_log l
               WHERE camera = ?3 AND at_ms < ?2 AND at_ms >= coalesce(
                   (SELECT max(at_ms) FROM camera_health_log m
                    WHERE m.camera = l.camera AND m.at_ms <= ?1), ?1)
               ORDER BY at_ms";
    let mut history: BTreeMap<String, Vec<Change>> = BTreeMap::new();
    let cameras: Vec<String> = match scope {
        Some(s) => s.iter().cloned().collect(),
        None => {
            // Every camera that ever reported or has a position.
            let mut st = conn.prepare_cached(
                "SELECT DISTINCT camera FROM camera_health_log
                 UNION SELECT camera FROM cameras_geo",
            )?;
            let v = st
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            v
        }
    };
    // Silence still going on: the last report of each camera (any node).
    let stale = store.health_stale_after();
    let mut last_report: std::collections::HashMap<String, i64> = Default::default();
    if stale > 0 {
        let mut st = conn
            .prepare_cached("SELECT camera, max(reported_ms) FROM camera_health GROUP BY camera")?;
        for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (camera, at) = row?;
            last_report.insert(camera, at);
        }
    }
    let mut st = conn.prepare_cached(sql)?;
    for cam in &cameras {
        let changes = st
            .query_map(params![from_ms, to_ms, cam], |r| {
                Ok((
                    r.get::<_, i64>(1)?,
                    CameraState::from_code(r.get(2)?),
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut changes = changes;
        if let Some(last) = last_report.get(cam) {
            let silent_from = last + stale;
            // Only a silence that has begun: a report 10 s ago vouches until then.
            if silent_from < to_ms
                && silent_from < base::now_ms()
                && changes.last().is_none_or(|c| c.0 < silent_from)
            {
                changes.push((
                    silent_from,
                    CameraState::Unknown,
                    String::new(),
                    SILENCE.into(),
                ));
            }
        }
        history.insert(cam.clone(), changes);
    }
    let mut out = Vec::new();
    for (camera, changes) in history {
        if changes.is_empty() || changes[0].0 > from_ms {
            // Nothing known for (the start of) the window.
            let end = changes.first().map_or(to_ms, |c| c.0);
            out.push(Gap {
                camera: camera.clone(),
                from_ms,
                to_ms: end,
                state: CameraState::Unknown,
                degraded: Vec::new(),
                reason: "no health reported".into(),
            });
        }
        for (i, (at, state, degraded, reason)) in changes.iter().enumerate() {
            let end = changes.get(i + 1).map_or(to_ms, |c| c.0);
            let healthy = *state == CameraState::Online && degraded.is_empty();
            if healthy || end <= from_ms {
                continue;
            }
            let degraded = if degraded.is_empty() {
                Vec::new()
            } else {
                degraded.split(',').map(str::to_owned).collect()
            };
            out.push(Gap {
                camera: camera.clone(),
                from_ms: (*at).max(from_ms),
                to_ms: end.min(to_ms),
                state: *state,
                degraded,
                reason: reason.clone(),
            });
        }
    }
    Ok(out)
}

/// Logs that `node` stopped vouching for `camera` at `at_ms` (a silence that just ended).
pub(crate) fn log_silence(
    conn: &Connection,
    node: &str,
    camera: &str,
    at_ms: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO camera_health_log (camera, at_ms, node, state, degraded, reason)
         VALUES (?1, ?2, ?3, ?4, '', ?5)",
    )?
    .execute(params![
        camera,
        at_ms,
        node,
        CameraState::Unknown.code(),
        SILENCE
    ])?;
    Ok(())
}

/// Appends a change to the camera's history when its state or diagnoses differ from the last
/// logged ones. `reported_ms` is when the report was made; called only for reports that are
/// newer than what the node last reported. `after_silence`: the last logged change is a
/// silence that this report ends (never at the same instant).
pub(crate) fn log_health(
    conn: &Connection,
    node: &str,
    reported_ms: i64,
    cam: &base::CameraHealth,
    after_silence: bool,
) -> rusqlite::Result<()> {
    let mut kinds: Vec<&str> = cam.diagnoses.iter().map(|d| d.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let degraded = kinds.join(",");
    let last: Option<(i64, i32, String)> = {
        let mut st = conn.prepare_cached(
            "SELECT at_ms, state, degraded FROM camera_health_log WHERE camera = ?1
             ORDER BY at_ms DESC LIMIT 1",
        )?;
        let mut rows = st.query(params![cam.camera])?;
        match rows.next()? {
            Some(r) => Some((r.get(0)?, r.get(1)?, r.get(2)?)),
            None => None,
        }
    };
    let state_changed = last.as_ref().is_none_or(|l| l.1 != cam.state.code());
    let diag_changed = last.as_ref().is_none_or(|l| l.2 != degraded);
    if !state_changed && !diag_changed {
        return Ok(());
    }
    // When the change happened: the state's `since`, else the newest diagnosis' `since`, else
    // the report time; never before the previous change.
    let mut at = if state_changed && cam.since_ms > 0 {
        cam.since_ms
    } else {
        cam.diagnoses
            .iter()
            .map(|d| d.since_ms)
            .filter(|s| *s > 0)
            .max()
            .unwrap_or(reported_ms)
    };
    if let Some(l) = &last {
        // After a silence, a state that claims to predate it is vouched for from this report.
        at = if after_silence && at <= l.0 {
            reported_ms.max(l.0 + 1)
        } else {
            at.max(l.0)
        };
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO camera_health_log (camera, at_ms, node, state, degraded, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        cam.camera,
        at,
        node,
        cam.state.code(),
        degraded,
        cam.reason
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::Filter;
    use base::{CameraHealth, Diagnosis, HealthReport};

    fn report(at_ms: i64, cams: Vec<CameraHealth>) -> HealthReport {
        HealthReport {
            node: "e1".into(),
            county: String::new(),
            at_ms,
            cameras: cams,
        }
    }

    fn cam(name: &str, state: CameraState, since_ms: i64) -> CameraHealth {
        CameraHealth {
            camera: name.into(),
            state,
            since_ms,
            reason: if state == CameraState::Online {
                String::new()
            } else {
                "connection refused".into()
            },
            ..Default::default()
        }
    }

    #[test]
    fn coverage_lists_cameras_down_or_degraded_during_the_window() {
        let store = Store::open_in_memory().unwrap();
        use CameraState::*;
        // a: online throughout. b: offline from 1500 to 2500. c: frozen from 3500.
        store
            .record_health(&report(
                1000,
                vec![
                    cam("a", Online, 0),
                    cam("b", Online, 0),
                    cam("c", Online, 0),
                ],
            ))
            .unwrap();
        store
            .record_health(&report(
                1600,
                vec![
                    cam("a", Online, 0),
                    cam("b", Offline, 1500),
                    cam("c", Online, 0),
                ],
            ))
            .unwrap();
        // Repeated identical reports add nothing.
        store
            .record_health(&report(
                2000,
                vec![
                    cam("a", Online, 0),
                    cam("b", Offline, 1500),
                    cam("c", Online, 0),
                ],
            ))
            .unwrap();
        let mut frozen = cam("c", Online, 0);
        frozen.diagnoses.push(Diagnosis {
            kind: "frozen".into(),
            score: 1.0,
            threshold: 0.5,
            since_ms: 3500,
        });
        store
            .record_health(&report(
                3600,
                vec![cam("a", Online, 0), cam("b", Online, 2500), frozen],
            ))
            .unwrap();
        let rows: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM camera_health_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 6);
        let window = |from, to, cameras: &[&str]| {
            store
                .find(
                    &Filter {
                        cameras: cameras.iter().map(|c| c.to_string()).collect(),
                        ..Filter::between(from, to)
                    },
                    1,
                    None,
                )
                .unwrap()
                .coverage
                .gaps
        };
        let g = window(1000, 3000, &["a", "b", "c"]);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(
            (g[0].camera.as_str(), g[0].from_ms, g[0].to_ms, g[0].state),
            ("b", 1500, 2500, Offline)
        );
        assert_eq!(g[0].reason, "connection refused");
        let g = window(3000, 4000, &["a", "b", "c"]);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!((g[0].camera.as_str(), g[0].from_ms), ("c", 3500));
        assert_eq!(g[0].degraded, ["frozen"]);
        // Before any report, and a camera never heard of: unknown.
        let g = window(0, 500, &["a", "z"]);
        assert_eq!(g.len(), 2);
        assert!(g.iter().all(|g| g.state == Unknown));
        // Whole-city scope sees b's outage too.
        let all = window(1000, 3000, &[]);
        assert_eq!(all.len(), 1);
    }

    /// An edge that goes silent vouches for nothing after its last report plus the bound: a
    /// silence that ended is in the history, one still going on is added to the answer.
    #[test]
    fn silent_edges_leave_their_cameras_unknown() {
        let store = Store::open_in_memory().unwrap();
        store.set_health_stale_after_ms(60_000);
        use CameraState::*;
        let t = 1_000_000;
        // Reports every 10 s until t + 20 s, then nothing until t + 600 s, then every 10 s
        // until t + 700 s, then silence again.
        for at in (t..=t + 20_000)
            .step_by(10_000)
            .chain((t + 600_000..=t + 700_000).step_by(10_000))
        {
            store
                .record_health(&report(at, vec![cam("a", Online, t - 5_000)]))
                .unwrap();
        }
        let gaps = |from, to| {
            store
                .find(
                    &Filter {
                        cameras: vec!["a".into()],
                        ..Filter::between(from, to)
                    },
                    1,
                    None,
                )
                .unwrap()
                .coverage
                .gaps
        };
        let g = gaps(t, t + 650_000);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(
            (g[0].from_ms, g[0].to_ms, g[0].state, g[0].reason.as_str()),
            (t + 80_000, t + 600_000, Unknown, SILENCE)
        );
        // Still silent: from the last report plus the bound to the end of the window.
        let g = gaps(t + 650_000, t + 900_000);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!((g[0].from_ms, g[0].to_ms), (t + 760_000, t + 900_000));
        // Within the bound nothing is missing.
        assert!(gaps(t + 650_000, t + 750_000).is_empty());
        // Without a bound silence is not judged (the previous behaviour).
        store.set_health_stale_after_ms(0);
        assert!(gaps(t + 650_000, t + 900_000).is_empty());
        store.set_health_stale_after_ms(60_000);
        // The edge reports again 10 s ago: the silence ended then, and a silence that has not
        // begun is not one (the report vouches for the next 50 s; a window reaching into the
        // future shows no gap).
        let now = base::now_ms();
        store
            .record_health(&report(now - 10_000, vec![cam("a", Online, t - 5_000)]))
            .unwrap();
        let g = gaps(now - 30_000, now + 3_600_000);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!((g[0].from_ms, g[0].to_ms), (now - 30_000, now - 10_000));
        assert!(gaps(now - 5_000, now + 3_600_000).is_empty());
    }
}
