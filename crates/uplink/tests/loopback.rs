//! The uplink over real gRPC on 127.0.0.1: an edge outbox drains into a county store exactly
//! once, across a receiver restart, and malformed streams are refused with a clear status.

use std::sync::Arc;
use std::time::Duration;

use proto::v1;
use store::Store;
use tokio::sync::{watch, Notify};
use xueliang_uplink::{Admission, Forwarder, ForwarderConfig, Receiver};

/// A plausible sighting `t` ms after the start of this minute-ago window.
fn sighting(t: i64) -> base::Sighting {
    let at = base::now_ms() - 60_000 + t;
    base::Sighting {
        camera: "cam-1".into(),
        device_id: "cam-1".into(),
        pass_time_ms: at,
        first_seen_ms: at,
        last_seen_ms: at,
        class: base::VehicleClass::Car,
        ..Default::default()
    }
}

/// Serves a receiver over `store` on a fresh loopback port until `stop` fires.
async fn serve(store: Arc<Store>) -> (String, tokio::sync::oneshot::Sender<()>) {
    serve_with(store, Admission::default()).await
}

async fn serve_with(
    store: Arc<Store>,
    admission: Admission,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let receiver =
        Receiver::new("county", store, false, Arc::new(Notify::new())).with_admission(admission);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(receiver.into_server())
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
    });
    (format!("http://{addr}"), stop)
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_drains_exactly_once_across_a_restart() {
    let edge = Arc::new(Store::open_in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let county = Arc::new(Store::open(&dir.path().join("county.sqlite")).unwrap());
    let (url, stop) = serve(county.clone()).await;

    let wake = Arc::new(Notify::new());
    let mut cfg = ForwarderConfig::new("edge-1", url.clone());
    cfg.batch_size = 7;
    cfg.max_backoff = Duration::from_millis(200);
    let fwd = Forwarder::new(cfg, edge.clone(), wake.clone());
    let stats = fwd.stats();
    let (shutdown_tx, shutdown) = watch::channel(false);
    let task = tokio::spawn(fwd.run(shutdown));

    edge.record("edge-1", (0..20).map(sighting).collect())
        .unwrap();
    edge.record_health(&base::HealthReport {
        node: "edge-1".into(),
        county: String::new(),
        at_ms: base::now_ms(),
        cameras: vec![base::CameraHealth {
            camera: "cam-1".into(),
            state: base::CameraState::Online,
            ..Default::default()
        }],
    })
    .unwrap();
    wake.notify_one();
    wait_for("first 20", || county.stats().unwrap().sightings == 20).await;
    wait_for("health", || county.cameras().unwrap().len() == 1).await;
    let cams = county.cameras().unwrap();
    // The first platform that receives a report names itself its county.
    assert_eq!(
        (cams[0].county.as_str(), cams[0].node.as_str()),
        ("county", "edge-1")
    );
    assert_eq!(cams[0].health.state, base::CameraState::Online);
    // The county commits before it acks; the forwarder counts once the ack is back.
    wait_for("acks", || {
        stats.items_sent.load(std::sync::atomic::Ordering::Relaxed) == 21
    })
    .await;

    // The edge's forwarder stops (as in an edge restart) and the county goes away; the edge
    // keeps recording meanwhile. (A graceful server shutdown lets an open stream finish, so
    // the forwarder is stopped first to make the outage real.)
    shutdown_tx.send(true).unwrap();
    task.await.unwrap();
    stop.send(()).unwrap();
    edge.record("edge-1", (20..50).map(sighting).collect())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(county.stats().unwrap().sightings, 20);

    // It comes back on a new port (same database): everything arrives, nothing twice.
    let (url2, _stop2) = serve(county.clone()).await;
    let mut cfg = ForwarderConfig::new("edge-1", url2);
    cfg.batch_size = 7;
    let (_tx, shutdown) = watch::channel(false);
    tokio::spawn(Forwarder::new(cfg, edge.clone(), wake.clone()).run(shutdown));
    wait_for("all 50", || county.stats().unwrap().sightings == 50).await;
    wait_for("outbox empty", || edge.stats().unwrap().outbox_pending == 0).await;
    assert_eq!(county.high_water("edge-1").unwrap(), 51);
    let page = county
        .search(&store::Query {
            from_ms: 0,
            to_ms: i64::MAX,
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    let mut seqs: Vec<_> = page.sightings.iter().map(|s| s.key.seq).collect();
    seqs.sort();
    // Seq 21 was the health report.
    assert_eq!(seqs, (1..=20).chain(22..=51).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_streams_are_refused() {
    let county = Arc::new(Store::open_in_memory().unwrap());
    let (url, _stop) = serve(county.clone()).await;
    let mut client = v1::uplink_client::UplinkClient::connect(url).await.unwrap();

    // A batch before any Hello.
    let batch = v1::PushRequest {
        msg: Some(v1::push_request::Msg::Batch(v1::Batch::default())),
    };
    let status = client
        .push(tokio_stream::iter(vec![batch]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("Hello"), "{}", status.message());

    // A sighting without a key, after a proper Hello: refused, nothing stored.
    let hello = v1::PushRequest {
        msg: Some(v1::push_request::Msg::Hello(v1::Hello {
            source: "edge-x".into(),
            ..Default::default()
        })),
    };
    let mut bad = v1::Sighting::from(&sighting(5));
    bad.key = None;
    let batch = v1::PushRequest {
        msg: Some(v1::push_request::Msg::Batch(v1::Batch {
            items: vec![v1::Item {
                seq: 1,
                body: Some(v1::item::Body::Sighting(bad)),
            }],
            shed_total: 0,
            crops_shed_total: 0,
        })),
    };
    let mut acks = client
        .push(tokio_stream::iter(vec![hello.clone(), batch]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acks.message().await.unwrap().unwrap().acked_through, 0);
    let status = acks.message().await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("missing key"),
        "{}",
        status.message()
    );
    assert_eq!(county.stats().unwrap().sightings, 0);

    // A well-formed sighting that cannot be true (pass time a day ahead) is quarantined:
    // acked (the source is not blocked), counted, not stored with the others.
    let mut future = sighting(0);
    future.pass_time_ms += 86_400_000;
    future.last_seen_ms = future.pass_time_ms;
    let batch = |seq, s: &base::Sighting| v1::PushRequest {
        msg: Some(v1::push_request::Msg::Batch(v1::Batch {
            items: vec![v1::Item {
                seq,
                body: Some(v1::item::Body::Sighting(s.into())),
            }],
            shed_total: 0,
            crops_shed_total: 0,
        })),
    };
    let mut keyed = sighting(1);
    keyed.key = base::SightingKey {
        origin: "edge-x".into(),
        seq: 2,
    };
    future.key = base::SightingKey {
        origin: "edge-x".into(),
        seq: 1,
    };
    let mut acks = client
        .push(tokio_stream::iter(vec![
            hello.clone(),
            batch(1, &future),
            batch(2, &keyed),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acks.message().await.unwrap().unwrap().acked_through, 0);
    assert_eq!(acks.message().await.unwrap().unwrap().acked_through, 1);
    assert_eq!(acks.message().await.unwrap().unwrap().acked_through, 2);
    let stats = county.stats().unwrap();
    assert_eq!(stats.sightings, 1, "only the plausible one is stored");
    let src = stats.sources.iter().find(|s| s.source == "edge-x").unwrap();
    assert_eq!((src.high_water, src.rejected_total), (2, 1));

    // An oversized message (over 4 MiB) is refused by the transport, not buffered.
    let huge = v1::PushRequest {
        msg: Some(v1::push_request::Msg::Hello(v1::Hello {
            source: "x".repeat(5 * 1024 * 1024),
            ..Default::default()
        })),
    };
    let status = match client.push(tokio_stream::iter(vec![huge])).await {
        Err(status) => status,
        Ok(resp) => resp.into_inner().message().await.unwrap_err(),
    };
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sources_are_refused() {
    let county = Arc::new(Store::open_in_memory().unwrap());
    let admission = Admission {
        allowed_sources: vec!["edge-1".into()],
        ..Default::default()
    };
    let (url, _stop) = serve_with(county.clone(), admission).await;
    let mut client = v1::uplink_client::UplinkClient::connect(url).await.unwrap();
    let hello = |source: &str| v1::PushRequest {
        msg: Some(v1::push_request::Msg::Hello(v1::Hello {
            source: source.into(),
            ..Default::default()
        })),
    };
    let status = client
        .push(tokio_stream::iter(vec![hello("intruder")]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(
        status.message().contains("intruder"),
        "{}",
        status.message()
    );
    let mut acks = client
        .push(tokio_stream::iter(vec![hello("edge-1")]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acks.message().await.unwrap().unwrap().acked_through, 0);
}

/// Every kind of bad input over the wire, one source after another, against one receiver: each
/// is refused with a status or a quarantine reason that names the problem, counted, and a good
/// source pushing at the same time loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_kind_is_refused_and_counted_without_side_effects() {
    let county = Arc::new(Store::open_in_memory().unwrap());
    let admission = Admission {
        allowed_sources: vec!["edge-good".into(), "edge-bad".into()],
        ..Default::default()
    };
    let (url, _stop) = serve_with(county.clone(), admission).await;
    let mut client = v1::uplink_client::UplinkClient::connect(url.clone())
        .await
        .unwrap();
    let hello = |source: &str| v1::PushRequest {
        msg: Some(v1::push_request::Msg::Hello(v1::Hello {
            source: source.into(),
            ..Default::default()
        })),
    };
    let keyed = |seq: u64, mut s: base::Sighting| {
        s.key = base::SightingKey {
            origin: "edge-bad".into(),
            seq,
        };
        v1::Item {
            seq,
            body: Some(v1::item::Body::Sighting((&s).into())),
        }
    };
    let batch = |items: Vec<v1::Item>| v1::PushRequest {
        msg: Some(v1::push_request::Msg::Batch(v1::Batch {
            items,
            ..Default::default()
        })),
    };

    // A good edge drains 30 sightings throughout.
    let good = Arc::new(Store::open_in_memory().unwrap());
    good.record("edge-good", (0..30).map(sighting).collect())
        .unwrap();
    let (stop_good, shutdown) = watch::channel(false);
    let fwd = Forwarder::new(
        ForwarderConfig::new("edge-good", url.clone()),
        good.clone(),
        Arc::new(Notify::new()),
    );
    let good_task = tokio::spawn(fwd.run(shutdown));

    // Item-level: impossible but well-formed items are quarantined with their reason and the
    // batch is acked, so the source is never blocked by one bad item.
    let mut past = sighting(0);
    past.pass_time_ms -= 40 * 86_400_000;
    past.first_seen_ms = past.pass_time_ms;
    past.last_seen_ms = past.pass_time_ms;
    let mut future = sighting(0);
    future.pass_time_ms += 3_600_000;
    future.last_seen_ms = future.pass_time_ms;
    let mut bad_plate = sighting(0);
    bad_plate.plate = base::PlateRead {
        state: base::PlateState::Read,
        text: Some("ABC1234".into()),
        ..Default::default()
    };
    let fine = sighting(1);
    let mut acks = client
        .push(tokio_stream::iter(vec![
            hello("edge-bad"),
            batch(vec![
                keyed(1, past),
                keyed(2, future),
                keyed(3, bad_plate),
                keyed(4, fine),
            ]),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acks.message().await.unwrap().unwrap().acked_through, 0);
    assert_eq!(acks.message().await.unwrap().unwrap().acked_through, 4);

    // Stream-level: a batch over the item limit, and sequence numbers going backwards, end
    // the stream with InvalidArgument naming the problem; nothing of them is stored.
    let too_many: Vec<v1::Item> = (5..=(5 + xueliang_uplink::MAX_BATCH_ITEMS as u64))
        .map(|seq| keyed(seq, sighting(2)))
        .collect();
    let backwards = vec![keyed(9, sighting(3)), keyed(8, sighting(4))];
    for (items, expect) in [
        (too_many, "exceeds the limit"),
        (backwards, "not increasing"),
    ] {
        let mut acks = client
            .push(tokio_stream::iter(vec![hello("edge-bad"), batch(items)]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(acks.message().await.unwrap().unwrap().acked_through, 4);
        let status = acks.message().await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains(expect), "{}", status.message());
    }

    wait_for("the good edge", || {
        good.stats().unwrap().outbox_pending == 0
    })
    .await;
    stop_good.send(true).unwrap();
    good_task.await.unwrap();

    let stats = county.stats().unwrap();
    assert_eq!(
        stats.sightings, 31,
        "30 good + the one fine item of edge-bad"
    );
    let bad = stats
        .sources
        .iter()
        .find(|s| s.source == "edge-bad")
        .unwrap();
    assert_eq!((bad.high_water, bad.rejected_total), (4, 3), "{bad:?}");
    let good_src = stats
        .sources
        .iter()
        .find(|s| s.source == "edge-good")
        .unwrap();
    assert_eq!((good_src.high_water, good_src.rejected_total), (30, 0));
    let reasons = county.rejected("edge-bad", 10).unwrap();
    let text: Vec<String> = reasons.iter().map(|r| r.2.clone()).collect();
    let text = text.join("\n");
    assert!(
        text.contains("older than the retention")
            && text.contains("in the future")
            && text.contains("ABC1234"),
        "{text}"
    );
}
