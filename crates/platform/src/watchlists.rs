//! Watchlists (布控 the platform keeps) as the APIs see them: a named [`FilterSpec`] without its
//! time range, stored by the store (which checks every committed sighting against it and keeps
//! each match as an alert, see `store::investigate::watch`), armed here with the platform's
//! configured regions — at start for those already stored ([`arm_stored`]) and at once for a
//! new one. Every call goes through [`Investigator::run`], so each is audited like a search.
//!
//! A stored question keeps region *names*: after a config change a watchlist follows the
//! region's new polygon, and one whose region is gone stays stored but unarmed, and says why.

use base::PlateState;
use proto::v1;
use store::Store;
use tonic::Status;

use crate::investigate::{FilterSpec, Investigator, Regions};

/// A watchlist as listed: the stored row, its question, and why it is unarmed (if it is).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub row: store::Watchlist,
    /// The question (shown without its meaningless time range).
    #[serde(serialize_with = "without_time")]
    pub filter: FilterSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The spec's JSON without its time range.
fn timeless_value(spec: &FilterSpec) -> serde_json::Value {
    let mut v = serde_json::to_value(spec).expect("plain data serialises");
    if let Some(o) = v.as_object_mut() {
        o.remove("from");
        o.remove("to");
    }
    v
}

fn without_time<S: serde::Serializer>(spec: &FilterSpec, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&timeless_value(spec), s)
}

/// The question as stored.
fn stored_json(spec: &FilterSpec) -> String {
    timeless_value(spec).to_string()
}

/// A stored question back as a spec whose time range (ignored by watches) is valid.
fn from_stored(json: &str) -> Result<FilterSpec, String> {
    let mut v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("stored question unreadable: {e}"))?;
    let o = v
        .as_object_mut()
        .ok_or("stored question is not an object")?;
    o.insert("from".into(), 0.into());
    o.insert("to".into(), 1.into());
    serde_json::from_value(v).map_err(|e| format!("stored question unreadable: {e}"))
}

/// A spec for a watch: any time range the caller sent is replaced by a valid, ignored one.
pub fn timeless(mut spec: FilterSpec) -> FilterSpec {
    (spec.from, spec.to) = (0, 1);
    spec
}

/// Arms every stored watchlist whose question resolves with `regions`; the others are logged
/// and listed with their problem. Returns how many were armed.
pub fn arm_stored(store: &Store, regions: &Regions) -> Result<usize, store::Error> {
    let mut armed = 0;
    for w in store.watchlists()? {
        match from_stored(&w.spec).and_then(|s| regions.resolve(&s).map_err(|e| e.message().into()))
        {
            Ok(filter) => {
                store.arm_watchlist(w.id, filter)?;
                armed += 1;
            }
            Err(problem) => {
                tracing::warn!(watchlist = %w.name, %problem, "watchlist not armed: its sightings are not checked")
            }
        }
    }
    Ok(armed)
}

impl Investigator {
    /// Stores and arms a watchlist (audited as `watchlist-add`, refusals too).
    pub async fn add_watchlist(
        &self,
        caller: &str,
        name: String,
        spec: FilterSpec,
    ) -> Result<Listed, Status> {
        let spec = timeless(spec);
        let json = serde_json::json!({ "name": name, "filter": timeless_value(&spec) });
        let owner = caller.to_owned();
        let (regions, asked) = (self.regions.clone(), spec.clone());
        let row = self
            .ask(
                caller,
                "watchlist-add",
                json,
                move || {
                    let filter = regions.resolve(&asked)?;
                    let stored = stored_json(&asked);
                    Ok(move |s: &Store| {
                        let id = s.add_watchlist(&name, &owner, &stored, filter)?;
                        s.watchlists()?
                            .into_iter()
                            .find(|w| w.id == id)
                            .ok_or_else(|| {
                                store::Error::Query(format!("watchlist {name:?} vanished"))
                            })
                    })
                },
                |_| 1,
            )
            .await?;
        Ok(Listed {
            row,
            filter: spec,
            problem: None,
        })
    }

    /// Removes a watchlist (audited as `watchlist-remove`); whether there was one.
    pub async fn remove_watchlist(&self, caller: &str, name: String) -> Result<bool, Status> {
        let json = serde_json::json!({ "name": name });
        self.run(
            caller,
            "watchlist-remove",
            json,
            move |s| s.remove_watchlist(&name),
            |r| u64::from(*r),
        )
        .await
    }

    /// The stored watchlists with their questions (audited as `watchlists`).
    pub async fn list_watchlists(&self, caller: &str) -> Result<Vec<Listed>, Status> {
        let rows = self
            .run(
                caller,
                "watchlists",
                serde_json::json!({}),
                |s| s.watchlists(),
                |r| r.len() as u64,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let (filter, problem) = match from_stored(&row.spec) {
                    Ok(f) => {
                        let problem = (!row.armed).then(|| match self.regions.resolve(&f) {
                            Err(e) => e.message().to_owned(),
                            Ok(_) => "not armed".to_owned(),
                        });
                        (f, problem)
                    }
                    Err(e) => (FilterSpec::default(), Some(e)),
                };
                Listed {
                    row,
                    filter,
                    problem,
                }
            })
            .collect())
    }

    /// Stored alerts after `after` of the watchlists named in `lists` (all when empty), at
    /// most `limit` (audited as `alerts` with `query`). An unknown name is refused (and
    /// audited), so a typo is an error, not silence.
    pub async fn alerts(
        &self,
        caller: &str,
        query: serde_json::Value,
        lists: Vec<String>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<store::Alert>, Status> {
        let store = self.store.clone();
        let known = tokio::task::spawn_blocking(move || store.watchlist_names())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(crate::investigate::store_status)?;
        self.ask(
            caller,
            "alerts",
            query,
            || {
                if let Some(unknown) = lists.iter().find(|n| !known.contains(n)) {
                    let names: Vec<&str> = known.iter().map(String::as_str).collect();
                    return Err(Status::invalid_argument(format!(
                        "watchlists: no watchlist named {unknown:?}; there are: {}",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    )));
                }
                Ok(move |s: &Store| s.alerts(after, &lists, limit))
            },
            |a| a.len() as u64,
        )
        .await
    }
}

/// Wire form of a listed watchlist.
pub fn to_wire(w: &Listed) -> v1::Watchlist {
    let codes = |names: &[String], code: fn(&str) -> Option<i32>| -> Vec<i32> {
        names.iter().filter_map(|n| code(n)).collect()
    };
    let f = &w.filter;
    v1::Watchlist {
        id: w.row.id,
        name: w.row.name.clone(),
        owner: w.row.owner.clone(),
        created_ms: w.row.created_ms,
        filter: Some(v1::Filter {
            from_ms: 0,
            to_ms: 0,
            cameras: f.cameras.clone(),
            counties: f.counties.clone(),
            regions: f.regions.clone(),
            classes: codes(&f.classes, |n| {
                n.parse::<base::VehicleClass>().ok().map(|c| c.code())
            }),
            colors: codes(&f.colors, |n| {
                n.parse::<base::VehicleColor>().ok().map(|c| c.code())
            }),
            plate_states: codes(&f.plate_states, |n| {
                n.parse::<PlateState>().ok().map(|c| c.code())
            }),
            plate: f.plate.clone().unwrap_or_default(),
            fuzzy: f.fuzzy,
        }),
        armed: w.row.armed,
        problem: w.problem.clone().unwrap_or_default(),
        alerts: w.row.alerts,
    }
}

/// Wire form of a stored alert.
pub fn alert_to_wire(a: &store::Alert) -> v1::Alert {
    v1::Alert {
        rule: a.watchlist.clone(),
        sighting: Some(v1::Sighting::from(&a.sighting)),
        alerted_ms: a.alerted_ms,
        id: a.id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_questions_drop_and_restore_their_time_range() {
        let spec = FilterSpec {
            from: 5,
            to: 9,
            regions: vec!["ring".into()],
            plate: Some("晋M*23*".into()),
            ..Default::default()
        };
        let json = stored_json(&spec);
        assert!(
            !json.contains("\"from\"") && json.contains("ring"),
            "{json}"
        );
        let back = from_stored(&json).unwrap();
        assert_eq!(back, timeless(spec));
        assert!(from_stored("[1]").is_err());
        assert!(
            from_stored(r#"{"colour":"red"}"#).is_err(),
            "unknown fields refused"
        );
    }
}
