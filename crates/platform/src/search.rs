//! The `Search` gRPC service over a store: the v1 search (time range, camera, class, paged
//! newest first), node statistics, and the investigators' operations (find, trajectory,
//! co-occurrence, companions, first entry, cloned plates, similar vehicles), each answered
//! with its coverage; standing questions: connection-long watches (`Watch`) and the stored
//! watchlists with their alerts (`AddWatchlist`, `RemoveWatchlist`, `ListWatchlists`,
//! `Alerts`, see [`crate::watchlists`]). Every search call writes an audit row with the
//! caller's token name ([`crate::investigate::Investigator::ask`]), a refused one too: each
//! handler builds the question as sent, then checks it inside `ask`, never before it. The
//! interceptor in front admits investigators only.

use std::sync::Arc;

use proto::v1::{self, search_server::Search};
use store::{Cursor, Query, Store};
use tonic::{Request, Response, Status};

use crate::investigate::{
    class_names, defaults, key_from_wire, subject_from_wire, subject_sent, FilterSpec,
    Investigator, Regions,
};
use crate::{watchlists, wire};

/// `Search` service.
#[derive(Clone)]
pub struct SearchService {
    node: String,
    store: Arc<Store>,
    investigator: Investigator,
    /// Sightings as they are committed here, for watches, and the node's shutdown signal
    /// (which ends every watch stream, so a graceful stop does not wait on watchers).
    live: Option<(uplink::Receiver, tokio::sync::watch::Receiver<bool>)>,
}

/// The caller's token name, set by the auth interceptor.
fn caller<T>(r: &Request<T>) -> String {
    r.extensions()
        .get::<crate::auth::Caller>()
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

/// A wire filter as audit JSON, as sent (`null` when missing).
fn sent(f: Option<&v1::Filter>) -> Option<FilterSpec> {
    f.map(FilterSpec::as_sent)
}

fn or<T: PartialEq + Default>(v: T, default: T) -> T {
    if v == T::default() {
        default
    } else {
        v
    }
}

impl SearchService {
    pub fn new(node: impl Into<String>, store: Arc<Store>) -> Self {
        SearchService {
            node: node.into(),
            investigator: Investigator {
                store: store.clone(),
                regions: Arc::new(Regions::default()),
            },
            store,
            live: None,
        }
    }

    /// Serve watches (`Watch`) over the sightings `receiver` commits, until `shutdown`.
    pub fn with_live(
        mut self,
        receiver: uplink::Receiver,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        self.live = Some((receiver, shutdown));
        self
    }

    /// Named regions investigators may use in filters.
    pub fn with_regions(mut self, regions: impl IntoIterator<Item = store::Region>) -> Self {
        self.investigator.regions = Arc::new(Regions::new(regions));
        self
    }

    /// The audited question-answerer behind this service (shared with HTTP).
    pub(crate) fn investigator(&self) -> Investigator {
        self.investigator.clone()
    }

    fn filter(&self, f: Option<v1::Filter>) -> Result<(FilterSpec, store::Filter), Status> {
        let spec = FilterSpec::from_wire(
            f.ok_or_else(|| Status::invalid_argument("filter: a time range is required"))?,
        )?;
        let filter = self.investigator.regions.resolve(&spec)?;
        Ok((spec, filter))
    }

    pub fn into_server(self) -> v1::search_server::SearchServer<Self> {
        v1::search_server::SearchServer::new(self)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES)
    }
}

fn to_query(r: v1::SearchRequest) -> Result<Query, Status> {
    let cursor = if r.cursor.is_empty() {
        None
    } else {
        Some(Cursor::decode(&r.cursor).map_err(|e| Status::invalid_argument(e.to_string()))?)
    };
    let mut classes = Vec::with_capacity(r.classes.len());
    for code in r.classes {
        let class = base::VehicleClass::from_code(code);
        if class.code() != code {
            return Err(Status::invalid_argument(format!(
                "unknown vehicle class code {code}"
            )));
        }
        classes.push(class);
    }
    let q = Query {
        from_ms: r.from_ms,
        to_ms: r.to_ms,
        cameras: r.cameras,
        classes,
        limit: r.limit as usize,
        cursor,
    };
    q.validate()
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    Ok(q)
}

use crate::investigate::store_status;

/// A server stream of alerts.
pub type AlertStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<v1::Alert, Status>> + Send>>;

/// Sends `item` unless the node stops first (a caller that stopped reading must not hold up a
/// graceful shutdown); false when it was not sent.
async fn send_or_stop<T>(
    tx: &tokio::sync::mpsc::Sender<T>,
    item: T,
    stop: &mut Option<tokio::sync::watch::Receiver<bool>>,
) -> bool {
    match stop {
        Some(stop) => tokio::select! {
            r = tx.send(item) => r.is_ok(),
            _ = stop.wait_for(|s| *s) => false,
        },
        None => tx.send(item).await.is_ok(),
    }
}

/// Sends `page` and the stored alerts after it; with `wake`, then waits for new ones until the
/// caller hangs up or the node stops.
async fn follow_alerts(
    store: Arc<Store>,
    lists: Vec<String>,
    mut after: u64,
    mut page: Vec<store::Alert>,
    mut fresh: Option<tokio::sync::broadcast::Receiver<base::Sighting>>,
    mut stop: Option<tokio::sync::watch::Receiver<bool>>,
    tx: tokio::sync::mpsc::Sender<Result<v1::Alert, Status>>,
) {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    loop {
        let full = page.len() >= store::MAX_ALERTS_PAGE;
        for a in &page {
            after = a.id;
            if !send_or_stop(&tx, Ok(watchlists::alert_to_wire(a)), &mut stop).await {
                return;
            }
        }
        if !full {
            let (Some(fresh), Some(stop)) = (fresh.as_mut(), stop.as_mut()) else {
                return;
            };
            tokio::select! {
                r = fresh.recv() => if matches!(r, Err(RecvError::Closed)) { return },
                _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                _ = tx.closed() => return,
                _ = stop.wait_for(|s| *s) => return,
            }
            // One read for a burst of sightings.
            while !matches!(
                fresh.try_recv(),
                Err(TryRecvError::Empty | TryRecvError::Closed)
            ) {}
        }
        let (st, l) = (store.clone(), lists.clone());
        page =
            match tokio::task::spawn_blocking(move || st.alerts(after, &l, store::MAX_ALERTS_PAGE))
                .await
            {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    let _ = tx.send(Err(store_status(e))).await;
                    return;
                }
                Err(e) => {
                    let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                    return;
                }
            };
    }
}

#[tonic::async_trait]
impl Search for SearchService {
    type WatchStream = AlertStream;
    type AlertsStream = AlertStream;

    async fn add_watchlist(
        &self,
        request: Request<v1::AddWatchlistRequest>,
    ) -> Result<Response<v1::Watchlist>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        let mut wire = r.filter.unwrap_or_default();
        (wire.from_ms, wire.to_ms) = (0, 1);
        let spec = match FilterSpec::from_wire(wire.clone()) {
            Ok(spec) => spec,
            Err(refusal) => {
                (wire.from_ms, wire.to_ms) = (0, 0);
                let sent =
                    serde_json::json!({ "name": r.name, "filter": FilterSpec::as_sent(&wire) });
                let refused = self
                    .investigator
                    .refuse(&caller, "watchlist-add", sent, refusal);
                return Err(refused.await);
            }
        };
        let w = self
            .investigator
            .add_watchlist(&caller, r.name, spec)
            .await?;
        Ok(Response::new(watchlists::to_wire(&w)))
    }

    async fn remove_watchlist(
        &self,
        request: Request<v1::RemoveWatchlistRequest>,
    ) -> Result<Response<v1::RemoveWatchlistResponse>, Status> {
        let caller = caller(&request);
        let name = request.into_inner().name;
        let removed = self.investigator.remove_watchlist(&caller, name).await?;
        Ok(Response::new(v1::RemoveWatchlistResponse { removed }))
    }

    async fn list_watchlists(
        &self,
        request: Request<v1::ListWatchlistsRequest>,
    ) -> Result<Response<v1::ListWatchlistsResponse>, Status> {
        let caller = caller(&request);
        let lists = self.investigator.list_watchlists(&caller).await?;
        Ok(Response::new(v1::ListWatchlistsResponse {
            watchlists: lists.iter().map(watchlists::to_wire).collect(),
        }))
    }

    async fn alerts(
        &self,
        request: Request<v1::AlertsRequest>,
    ) -> Result<Response<Self::AlertsStream>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        // Woken by every sighting committed here (an alert is raised in the same commit), with
        // a slow tick as a backstop; a follower needs the node's live feed.
        let fresh = match (&self.live, r.follow) {
            (Some((rx, _)), true) => Some(rx.subscribe()),
            (None, true) => {
                return Err(Status::unavailable(
                    "this node takes no sightings to follow",
                ))
            }
            (_, false) => None,
        };
        let stop = self.live.as_ref().map(|(_, stop)| stop.clone());
        let json = serde_json::json!({
            "watchlists": r.watchlists, "after_id": r.after_id, "follow": r.follow,
        });
        let first = self
            .investigator
            .alerts(
                &caller,
                json,
                r.watchlists.clone(),
                r.after_id,
                store::MAX_ALERTS_PAGE,
            )
            .await?;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let store = self.store.clone();
        tokio::spawn(follow_alerts(
            store,
            r.watchlists,
            r.after_id,
            first,
            fresh,
            stop,
            tx,
        ));
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn watch(
        &self,
        request: Request<v1::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let caller = caller(&request);
        let rules = request.into_inner().rules;
        let live = self
            .live
            .as_ref()
            .ok_or_else(|| Status::unavailable("this node takes no sightings to watch"))?;
        // Audited as sent (names for codes); refused rules are audited with the reason.
        let sent: Vec<_> = rules
            .iter()
            .map(|r| {
                let mut f = r.filter.clone().unwrap_or_default();
                (f.from_ms, f.to_ms) = (0, 0);
                serde_json::json!({ "name": r.name, "filter": FilterSpec::as_sent(&f) })
            })
            .collect();
        let watches = self
            .investigator
            .ask(
                &caller,
                "watch",
                serde_json::json!({ "rules": sent }),
                || {
                    if rules.is_empty() || rules.len() > 100 {
                        return Err(Status::invalid_argument(format!(
                            "rules: 1 to 100 standing questions, got {}",
                            rules.len()
                        )));
                    }
                    let mut resolved = Vec::with_capacity(rules.len());
                    for (i, rule) in rules.into_iter().enumerate() {
                        let name = if rule.name.is_empty() {
                            format!("rule {}", i + 1)
                        } else {
                            rule.name
                        };
                        // A watch has no time range: any valid one passes the filter's checks.
                        let mut wire = rule.filter.unwrap_or_default();
                        (wire.from_ms, wire.to_ms) = (0, 1);
                        resolved.push((name, self.filter(Some(wire))?.1));
                    }
                    Ok(move |s: &Store| {
                        resolved
                            .into_iter()
                            .map(|(name, filter)| s.watch(name, filter))
                            .collect::<Result<Vec<_>, _>>()
                    })
                },
                |w| w.len() as u64,
            )
            .await?;
        let mut fresh = live.0.subscribe();
        let (mut stopping, mut stop) = (live.1.clone(), Some(live.1.clone()));
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let node = self.node.clone();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let s = tokio::select! {
                    r = fresh.recv() => r,
                    _ = tx.closed() => return,
                    _ = stopping.wait_for(|s| *s) => return,
                };
                let s = match s {
                    Ok(s) => s,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(%node, %caller, skipped = n, "a watch fell behind: sightings not checked (they are stored)");
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                for w in watches.iter().filter(|w| w.matches(&s)) {
                    let alert = v1::Alert {
                        rule: w.name.clone(),
                        sighting: Some(v1::Sighting::from(&s)),
                        alerted_ms: base::now_ms(),
                        id: 0,
                    };
                    if !send_or_stop(&tx, Ok(alert), &mut stop).await {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn search(
        &self,
        request: Request<v1::SearchRequest>,
    ) -> Result<Response<v1::SearchResponse>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        let json = serde_json::json!({
            "from": r.from_ms, "to": r.to_ms, "cameras": r.cameras,
            "classes": class_names(&r.classes),
        });
        let page = self
            .investigator
            .ask(
                &caller,
                "search",
                json,
                || {
                    let q = to_query(r)?;
                    Ok(move |s: &Store| s.search(&q))
                },
                |p| p.total,
            )
            .await?;
        Ok(Response::new(v1::SearchResponse {
            sightings: page.sightings.iter().map(v1::Sighting::from).collect(),
            next_cursor: page.next.map(|c| c.encode()).unwrap_or_default(),
            total: page.total,
        }))
    }

    async fn stats(
        &self,
        _request: Request<v1::StatsRequest>,
    ) -> Result<Response<v1::StatsResponse>, Status> {
        let store = self.store.clone();
        let s = tokio::task::spawn_blocking(move || store.stats())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(store_status)?;
        Ok(Response::new(v1::StatsResponse {
            node: self.node.clone(),
            sightings: s.sightings,
            sources: s
                .sources
                .into_iter()
                .map(|x| v1::SourceStats {
                    source: x.source,
                    high_water: x.high_water,
                    shed_total: x.shed_total,
                    rejected_total: x.rejected_total,
                })
                .collect(),
            outbox_pending: s.outbox_pending,
        }))
    }

    async fn find(
        &self,
        request: Request<v1::FindRequest>,
    ) -> Result<Response<v1::FindResponse>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        let json = serde_json::json!({
            "filter": sent(r.filter.as_ref()), "limit": r.limit, "cursor": r.cursor,
        });
        let a = self
            .investigator
            .ask(
                &caller,
                "find",
                json,
                || {
                    let (_, f) = self.filter(r.filter)?;
                    let cursor = if r.cursor.is_empty() {
                        None
                    } else {
                        Some(
                            Cursor::decode(&r.cursor)
                                .map_err(|e| Status::invalid_argument(e.to_string()))?,
                        )
                    };
                    let limit = r.limit as usize;
                    Ok(move |s: &Store| s.find(&f, limit, cursor.as_ref()))
                },
                |a| a.result.total,
            )
            .await?;
        Ok(Response::new(v1::FindResponse {
            sightings: a.result.sightings.iter().map(v1::Sighting::from).collect(),
            next_cursor: a.result.next.map(|c| c.encode()).unwrap_or_default(),
            total: a.result.total,
            coverage: Some(wire::coverage(&a.coverage)),
        }))
    }

    async fn trajectory(
        &self,
        request: Request<v1::TrajectoryRequest>,
    ) -> Result<Response<v1::TrajectoryResponse>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        let min_cosine = or(r.min_cosine, store::DEFAULT_MIN_COSINE);
        let json = serde_json::json!({
            "subject": subject_sent(r.subject.as_ref()), "from": r.from_ms, "to": r.to_ms,
            "min_cosine": min_cosine,
        });
        let a = self
            .investigator
            .ask(
                &caller,
                "trajectory",
                json,
                || {
                    let subject = subject_from_wire(r.subject)?;
                    Ok(move |s: &Store| s.trajectory(&subject, r.from_ms, r.to_ms, min_cosine))
                },
                |a| a.result.len() as u64,
            )
            .await?;
        Ok(Response::new(v1::TrajectoryResponse {
            stops: a.result.iter().map(wire::stop).collect(),
            coverage: Some(wire::coverage(&a.coverage)),
        }))
    }

    async fn co_occurrence(
        &self,
        request: Request<v1::CoOccurrenceRequest>,
    ) -> Result<Response<v1::CoOccurrenceResponse>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        let specs: Vec<FilterSpec> = r.windows.iter().map(FilterSpec::as_sent).collect();
        let min_windows = or(r.min_windows as usize, r.windows.len());
        let min_cosine = or(r.min_cosine, store::DEFAULT_MIN_COSINE);
        let limit = or(r.limit as usize, defaults::LIMIT);
        let json = serde_json::json!({
            "windows": specs, "min_windows": min_windows, "min_cosine": min_cosine,
            "limit": limit,
        });
        let a = self
            .investigator
            .ask(
                &caller,
                "co-occurrence",
                json,
                || {
                    let windows = r
                        .windows
                        .into_iter()
                        .map(|w| Ok(self.filter(Some(w))?.1))
                        .collect::<Result<Vec<_>, Status>>()?;
                    let q = store::CoOccurrence {
                        windows,
                        min_windows,
                        min_cosine,
                        limit,
                    };
                    Ok(move |s: &Store| s.co_occurrence(&q))
                },
                |a| a.result.len() as u64,
            )
            .await?;
        Ok(Response::new(v1::CoOccurrenceResponse {
            vehicles: a.result.iter().map(wire::vehicle).collect(),
            coverage: Some(wire::coverage(&a.coverage)),
        }))
    }

    async fn companions(
        &self,
        request: Request<v1::CompanionsRequest>,
    ) -> Result<Response<v1::CompanionsResponse>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        let max_gap_ms = or(r.max_gap_ms, defaults::COMPANION_GAP_MS);
        let min_times = or(r.min_times as usize, defaults::COMPANION_MIN_TIMES);
        let min_cosine = or(r.min_cosine, store::DEFAULT_MIN_COSINE);
        let limit = or(r.limit as usize, defaults::LIMIT);
        let json = serde_json::json!({
            "subject": subject_sent(r.subject.as_ref()), "from": r.from_ms, "to": r.to_ms,
            "max_gap_ms": max_gap_ms, "min_times": min_times, "limit": limit,
        });
        let a = self
            .investigator
            .ask(
                &caller,
                "companions",
                json,
                || {
                    let q = store::Companions {
                        subject: subject_from_wire(r.subject)?,
                        from_ms: r.from_ms,
                        to_ms: r.to_ms,
                        max_gap_ms,
                        min_times,
                        min_cosine,
                        limit,
                    };
                    Ok(move |s: &Store| s.companions(&q))
                },
                |a| a.result.len() as u64,
            )
            .await?;
        Ok(Response::new(v1::CompanionsResponse {
            companions: a.result.iter().map(wire::companion).collect(),
            coverage: Some(wire::coverage(&a.coverage)),
        }))
    }

    async fn first_entry(
        &self,
        request: Request<v1::FirstEntryRequest>,
    ) -> Result<Response<v1::FirstEntryResponse>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        let limit = or(r.limit as usize, defaults::LIMIT);
        let json = serde_json::json!({
            "region": sent(r.region.as_ref()), "lookback_ms": r.lookback_ms, "limit": limit,
        });
        let a = self
            .investigator
            .ask(
                &caller,
                "first-entry",
                json,
                || {
                    let (_, f) = self.filter(r.region)?;
                    Ok(move |s: &Store| s.first_entry(&f, r.lookback_ms, limit))
                },
                |a| a.result.len() as u64,
            )
            .await?;
        Ok(Response::new(v1::FirstEntryResponse {
            entries: a.result.iter().map(wire::entry).collect(),
            coverage: Some(wire::coverage(&a.coverage)),
        }))
    }

    async fn cloned_plates(
        &self,
        request: Request<v1::ClonedPlatesRequest>,
    ) -> Result<Response<v1::ClonedPlatesResponse>, Status> {
        let caller = caller(&request);
        let r = request.into_inner();
        let max_speed_kmh = or(r.max_speed_kmh, defaults::CLONE_MAX_SPEED_KMH);
        let tolerance_ms = or(r.tolerance_ms, defaults::CLONE_TOLERANCE_MS);
        let min_support = or(r.min_support as usize, defaults::CLONE_MIN_SUPPORT);
        let limit = or(r.limit as usize, defaults::LIMIT);
        let json = serde_json::json!({
            "filter": sent(r.filter.as_ref()), "max_speed_kmh": max_speed_kmh,
            "tolerance_ms": tolerance_ms, "min_support": min_support, "limit": limit,
        });
        let a = self
            .investigator
            .ask(
                &caller,
                "cloned-plates",
                json,
                || {
                    let q = store::ClonedPlates {
                        filter: self.filter(r.filter)?.1,
                        max_speed_kmh,
                        tolerance_ms,
                        min_support,
                        limit,
                    };
                    Ok(move |s: &Store| s.cloned_plates(&q))
                },
                |a| a.result.len() as u64,
            )
            .await?;
        Ok(Response::new(v1::ClonedPlatesResponse {
            plates: a.result.iter().map(wire::cloned).collect(),
            coverage: Some(wire::coverage(&a.coverage)),
        }))
    }

    async fn similar(
        &self,
        request: Request<v1::SimilarRequest>,
    ) -> Result<Response<v1::SimilarResponse>, Status> {
        use v1::similar_request::Probe as P;
        let caller = caller(&request);
        let r = request.into_inner();
        let probe_json = match &r.probe {
            Some(P::Sighting(k)) => {
                serde_json::json!({ "sighting": format!("{}#{}", k.origin, k.seq) })
            }
            Some(P::Embedding(_)) => serde_json::json!("embedding"),
            None => serde_json::Value::Null,
        };
        let limit = or(r.limit as usize, defaults::SIMILAR_LIMIT);
        let json = serde_json::json!({
            "probe": probe_json, "filter": sent(r.filter.as_ref()), "limit": limit,
        });
        let a = self
            .investigator
            .ask(
                &caller,
                "similar",
                json,
                || {
                    let (_, f) = self.filter(r.filter)?;
                    let probe = match r.probe {
                        Some(P::Sighting(k)) => {
                            store::Probe::Sighting(key_from_wire(Some(k), "sighting")?)
                        }
                        Some(P::Embedding(b)) => {
                            let e = base::Embedding::from_bytes(&b).ok_or_else(|| {
                                Status::invalid_argument(format!(
                                    "embedding: expected {} bytes, got {}",
                                    base::Embedding::DIM,
                                    b.len()
                                ))
                            })?;
                            store::Probe::Embedding(Box::new(e))
                        }
                        None => {
                            return Err(Status::invalid_argument(
                                "probe: a sighting or an embedding is required",
                            ))
                        }
                    };
                    Ok(move |s: &Store| s.similar(&probe, &f, limit))
                },
                |a| a.result.len() as u64,
            )
            .await?;
        Ok(Response::new(v1::SimilarResponse {
            sightings: a.result.iter().map(wire::similar).collect(),
            coverage: Some(wire::coverage(&a.coverage)),
        }))
    }
}
