//! The uplink over TLS on 127.0.0.1 with certificates from the development CA: a node with its
//! own certificate gets in; a node without one, with another node's certificate, or with a
//! certificate from a foreign CA does not, and nothing it sent is stored.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use store::Store;
use tokio::sync::{watch, Notify};
use xueliang_uplink::tls::{dev_ca, TlsConfig};
use xueliang_uplink::{Forwarder, ForwarderConfig, ForwarderStats, Receiver};

fn sighting(i: i64) -> base::Sighting {
    let at = base::now_ms() - 60_000 + i;
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

/// A TLS county on a fresh loopback port, with certificates from `pki`.
async fn county(pki: &Path, store: Arc<Store>) -> (String, tokio::sync::oneshot::Sender<()>) {
    let tls = TlsConfig::in_dir(pki, "county").server().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let receiver =
        Receiver::new("county", store, false, Arc::new(Notify::new())).require_certificate(true);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
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
    (format!("https://{addr}"), stop)
}

/// Runs a forwarder for `source` with `tls` for `wait`, over an outbox of 10 sightings.
async fn push(
    source: &str,
    url: &str,
    tls: Option<tonic::transport::ClientTlsConfig>,
    wait: impl Fn(&Store, &ForwarderStats) -> bool,
) -> Arc<ForwarderStats> {
    let edge = Arc::new(Store::open_in_memory().unwrap());
    edge.record(source, (0..10).map(sighting).collect())
        .unwrap();
    let mut cfg = ForwarderConfig::new(source, url);
    cfg.tls = tls;
    cfg.max_backoff = Duration::from_millis(200);
    let fwd = Forwarder::new(cfg, edge.clone(), Arc::new(Notify::new()));
    let stats = fwd.stats();
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(fwd.run(shutdown));
    for _ in 0..100 {
        if wait(&edge, &stats) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    stats
}

fn last_error(stats: &ForwarderStats) -> String {
    stats.last_error.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_nodes_with_their_own_ca_certificate_get_in() {
    let pki = tempfile::tempdir().unwrap();
    dev_ca::ensure_ca(pki.path()).unwrap();
    for node in ["county", "edge-1", "edge-2"] {
        dev_ca::issue(pki.path(), node, &["127.0.0.1".into()]).unwrap();
    }
    let foreign = tempfile::tempdir().unwrap();
    dev_ca::ensure_ca(foreign.path()).unwrap();
    dev_ca::issue(foreign.path(), "edge-3", &["127.0.0.1".into()]).unwrap();

    let db = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&db.path().join("county.sqlite")).unwrap());
    let (url, stop) = county(pki.path(), store.clone()).await;

    // edge-1 with its own certificate: everything arrives.
    let tls = TlsConfig::in_dir(pki.path(), "edge-1").client().unwrap();
    let stats = push("edge-1", &url, Some(tls), |e, _| {
        e.stats().unwrap().outbox_pending == 0
    })
    .await;
    assert_eq!(
        store.stats().unwrap().sightings,
        10,
        "{}",
        last_error(&stats)
    );

    // edge-2 presents edge-2's certificate but claims to be edge-1.
    let tls = TlsConfig::in_dir(pki.path(), "edge-2").client().unwrap();
    let stats = push("edge-1", &url, Some(tls), |_, s| !last_error(s).is_empty()).await;
    let e = last_error(&stats);
    assert!(e.contains("certificate is for \"edge-2\""), "{e}");

    // TLS to the right server, but no client certificate.
    let ca_only = xueliang_uplink::tls::client_ca_only(&pki.path().join("ca.pem")).unwrap();
    let stats = push("edge-2", &url, Some(ca_only), |_, s| {
        !last_error(s).is_empty()
    })
    .await;
    let e = last_error(&stats);
    assert!(e.contains("no client certificate"), "{e}");

    // A certificate from another CA fails the handshake.
    let mut tls = TlsConfig::in_dir(foreign.path(), "edge-3");
    tls.ca = pki.path().join("ca.pem");
    let stats = push("edge-3", &url, Some(tls.client().unwrap()), |_, s| {
        !last_error(s).is_empty()
    })
    .await;
    assert!(!last_error(&stats).is_empty());
    assert!(!stats.connected.load(std::sync::atomic::Ordering::Relaxed));

    // Plain text to a TLS port gets nowhere either.
    let plain = url.replace("https://", "http://");
    let stats = push("edge-2", &plain, None, |_, s| !last_error(s).is_empty()).await;
    assert!(!last_error(&stats).is_empty());

    // Only edge-1's ten sightings are stored.
    assert_eq!(store.stats().unwrap().sightings, 10);
    stop.send(()).unwrap();
}
