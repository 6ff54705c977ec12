//! The `Search` gRPC service over a store: sightings by time range, camera and class, paged
//! newest first; and node statistics. Every search is logged with its parameters (the audit
//! log proper, with user identity, arrives with API tokens).

use std::sync::Arc;

use proto::v1::{self, search_server::Search};
use store::{Cursor, Query, Store};
use tonic::{Request, Response, Status};

/// `Search` service.
#[derive(Clone)]
pub struct SearchService {
    node: String,
    store: Arc<Store>,
}

impl SearchService {
    pub fn new(node: impl Into<String>, store: Arc<Store>) -> Self {
        SearchService {
            node: node.into(),
            store,
        }
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

fn store_status(e: store::Error) -> Status {
    match e {
        store::Error::Query(m) => Status::invalid_argument(m),
        other => Status::unavailable(other.to_string()),
    }
}

#[tonic::async_trait]
impl Search for SearchService {
    async fn search(
        &self,
        request: Request<v1::SearchRequest>,
    ) -> Result<Response<v1::SearchResponse>, Status> {
        let peer = request.remote_addr();
        let caller = request
            .extensions()
            .get::<crate::auth::Caller>()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let q = to_query(request.into_inner())?;
        tracing::info!(
            target: "audit", node = %self.node, %caller, ?peer, from = q.from_ms, to = q.to_ms,
            cameras = ?q.cameras, classes = ?q.classes, "search"
        );
        let store = self.store.clone();
        let page = tokio::task::spawn_blocking(move || store.search(&q))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(store_status)?;
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
}
