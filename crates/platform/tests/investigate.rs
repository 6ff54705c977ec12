//! The investigators' operations on a real platform (TLS, gRPC and HTTP on 127.0.0.1, API
//! tokens): find by region and plate pattern, trajectory of a plate and co-occurrence across
//! windows answer from the platform's store, each with its coverage (a camera that went offline
//! during the window is named), bad filters are InvalidArgument with the reason, and every call
//! leaves an audit row with the caller's name that only an admin can read over HTTP.

use base::{
    CameraHealth, CameraState, Embedding, HealthReport, PlateRead, PlateState, Sighting,
    VehicleClass, VehicleColor,
};
use platform::auth::{token_sha256, Role, TokenConfig};
use proto::v1;
use xueliang_platform as platform;

const INVESTIGATOR: &str = "xl_investigator-secret";
const ADMIN: &str = "xl_admin-secret";

/// A fixed hour two hours ago, so the store's retention accepts it.
fn t0() -> i64 {
    (base::now_ms() / 3_600_000 - 2) * 3_600_000
}

const MIN: i64 = 60_000;

async fn city(dir: &std::path::Path) -> platform::Platform {
    let pki = dir.join("pki");
    uplink::tls::dev_ca::ensure_ca(&pki).unwrap();
    uplink::tls::dev_ca::issue(&pki, "city", &["127.0.0.1".into()]).unwrap();
    let cfg: platform::PlatformConfig = toml_config(dir);
    let mut cfg = cfg;
    cfg.tls = Some(uplink::TlsConfig::in_dir(&pki, "city"));
    cfg.token = [
        ("ivy", Role::Investigator, INVESTIGATOR),
        ("ada", Role::Admin, ADMIN),
    ]
    .iter()
    .map(|(name, role, token)| TokenConfig {
        name: (*name).into(),
        role: *role,
        sha256: token_sha256(token),
    })
    .collect();
    platform::Platform::start(cfg).await.unwrap()
}

/// Regions and camera positions as an operator writes them.
fn toml_config(dir: &std::path::Path) -> platform::PlatformConfig {
    let mut cfg = platform::PlatformConfig::new("city");
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.http_listen = "127.0.0.1:0".parse().unwrap();
    cfg.database = Some(dir.join("city.sqlite"));
    #[derive(serde::Deserialize)]
    struct Extra {
        region: Vec<platform::RegionConfig>,
        camera: Vec<platform::CameraConfig>,
    }
    let extra: Extra = serde_json::from_value(serde_json::json!({
        "region": [{ "name": "old-town",
                     "polygon": [[35.05, 110.9], [35.05, 111.1], [35.2, 111.1], [35.2, 110.9]] }],
        "camera": [
            { "id": "cam-a", "county": "盐湖区", "lat": 35.1, "lon": 111.0 },
            { "id": "cam-b", "county": "盐湖区", "lat": 35.1, "lon": 111.05 },
            { "id": "cam-c", "county": "临猗县", "lat": 34.9, "lon": 111.0 },
        ],
    }))
    .unwrap();
    cfg.region = extra.region;
    cfg.camera = extra.camera;
    cfg
}

fn sighting(camera: &str, t: i64, plate: Option<&str>) -> Sighting {
    Sighting {
        camera: camera.into(),
        device_id: camera.into(),
        pass_time_ms: t,
        first_seen_ms: t - 500,
        last_seen_ms: t + 500,
        class: VehicleClass::Car,
        class_confidence: 0.9,
        color: VehicleColor::Black,
        color_confidence: 0.9,
        plate: PlateRead {
            state: if plate.is_some() {
                PlateState::Read
            } else {
                PlateState::Covered
            },
            text: plate.map(str::to_owned),
            confidence: 0.95,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn white_suv(camera: &str, t: i64) -> Sighting {
    let mut c = [0i8; Embedding::DIM];
    for (i, x) in c.iter_mut().enumerate() {
        *x = ((i * 37 % 200) as i32 - 100) as i8;
    }
    Sighting {
        class: VehicleClass::Suv,
        color: VehicleColor::White,
        embedding: Some(Embedding::from_components(c)),
        ..sighting(camera, t, None)
    }
}

fn seed(city: &platform::Platform) {
    let t = t0();
    city.store()
        .record(
            "edge-1",
            vec![
                sighting("cam-a", t, Some("晋M12345")),
                sighting("cam-a", t + MIN, Some("晋M99999")),
                white_suv("cam-a", t + 2 * MIN),
                sighting("cam-b", t + 10 * MIN, Some("晋M12345")),
                sighting("cam-c", t + 30 * MIN, Some("晋M12345")),
                white_suv("cam-c", t + 31 * MIN),
            ],
        )
        .unwrap();
    let cam = |name: &str, state, since_ms| CameraHealth {
        camera: name.into(),
        state,
        since_ms,
        reason: if state == CameraState::Online {
            String::new()
        } else {
            "connection refused".into()
        },
        ..Default::default()
    };
    // All online for a day, then cam-c goes offline 40 minutes after t0.
    for (at_ms, c_state, c_since) in [
        (t - 86_400_000, CameraState::Online, t - 86_400_000),
        (t + 45 * MIN, CameraState::Offline, t + 40 * MIN),
    ] {
        city.store()
            .record_health(&HealthReport {
                node: "edge-1".into(),
                county: "盐湖区".into(),
                at_ms,
                cameras: vec![
                    cam("cam-a", CameraState::Online, t - 86_400_000),
                    cam("cam-b", CameraState::Online, t - 86_400_000),
                    cam("cam-c", c_state, c_since),
                ],
            })
            .unwrap();
    }
}

/// A minimal HTTP/1.0 POST of a JSON body over TLS: the whole response.
async fn https_post(
    ca: &std::path::Path,
    base: &str,
    path: &str,
    body: &serde_json::Value,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.strip_prefix("https://").unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = uplink::tls::https_connector(ca)
        .unwrap()
        .connect(name, tcp)
        .await
        .unwrap();
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {INVESTIGATOR}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn ask<T>(message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {INVESTIGATOR}").parse().unwrap(),
    );
    r
}

fn window(from_ms: i64, to_ms: i64, cameras: &[&str]) -> v1::Filter {
    v1::Filter {
        from_ms,
        to_ms,
        cameras: cameras.iter().map(|c| (*c).to_owned()).collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_trajectory_and_co_occurrence_over_grpc_with_coverage_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let city = city(dir.path()).await;
    seed(&city);
    let ca = dir.path().join("pki/ca.pem");
    let tls = uplink::tls::client_ca_only(&ca).unwrap();
    let channel = tonic::transport::Endpoint::from_shared(city.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut search = v1::search_client::SearchClient::new(channel);
    let t = t0();

    // Find: a region by name, a fuzzy pattern; the coverage lists the region's cameras.
    let found = search
        .find(ask(v1::FindRequest {
            filter: Some(v1::Filter {
                regions: vec!["old-town".into()],
                plate: "晋M*".into(),
                fuzzy: true,
                ..window(t - 60 * MIN, t + 60 * MIN, &[])
            }),
            limit: 1,
            cursor: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        found.total, 3,
        "two of 晋M12345 and one of 晋M99999 in old-town"
    );
    assert_eq!(found.sightings.len(), 1);
    assert!(!found.next_cursor.is_empty());
    let cov = found.coverage.unwrap();
    assert_eq!(cov.cameras, ["cam-a", "cam-b"]);
    assert!(!cov.all_cameras);
    assert!(cov.gaps.is_empty(), "{:?}", cov.gaps);

    // A bad filter is refused with the reason.
    let unknown = search
        .find(ask(v1::FindRequest {
            filter: Some(v1::Filter {
                regions: vec!["harbour".into()],
                ..window(t, t + MIN, &[])
            }),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    assert!(
        unknown.message().contains("harbour"),
        "{}",
        unknown.message()
    );

    // Trajectory of a plate: three stops, oldest first, with counties; cam-c went offline.
    let route = search
        .trajectory(ask(v1::TrajectoryRequest {
            subject: Some(v1::Subject {
                subject: Some(v1::subject::Subject::Plate("晋M12345".into())),
            }),
            from_ms: t - 60 * MIN,
            to_ms: t + 60 * MIN,
            min_cosine: 0.0,
        }))
        .await
        .unwrap()
        .into_inner();
    let cams: Vec<String> = route
        .stops
        .iter()
        .map(|s| s.sighting.as_ref().unwrap().camera.clone())
        .collect();
    assert_eq!(cams, ["cam-a", "cam-b", "cam-c"]);
    assert_eq!(route.stops[2].county, "临猗县");
    assert_eq!(route.stops[0].lat, Some(35.1));
    let gaps = route.coverage.unwrap().gaps;
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].camera, "cam-c");
    assert_eq!(gaps[0].state, "offline");
    assert_eq!(
        (gaps[0].from_ms, gaps[0].to_ms),
        (t + 40 * MIN, t + 60 * MIN)
    );

    // Co-occurrence: the plate and the plateless white SUV were at both scenes.
    let together = search
        .co_occurrence(ask(v1::CoOccurrenceRequest {
            windows: vec![
                window(t - 5 * MIN, t + 5 * MIN, &["cam-a"]),
                window(t + 25 * MIN, t + 35 * MIN, &["cam-c"]),
            ],
            min_windows: 2,
            min_cosine: 0.0,
            limit: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    let plates: Vec<&str> = together.vehicles.iter().map(|v| v.plate.as_str()).collect();
    assert_eq!(together.vehicles.len(), 2, "{plates:?}");
    assert!(plates.contains(&"晋M12345"), "{plates:?}");
    let suv = together
        .vehicles
        .iter()
        .find(|v| v.plate.is_empty())
        .unwrap();
    assert_eq!(suv.class, VehicleClass::Suv.code());
    assert_eq!(suv.windows, [0, 1]);
    assert!(suv.similarity.unwrap() > 0.99);
    let cov = together.coverage.unwrap();
    assert_eq!(cov.cameras, ["cam-a", "cam-c"]);
    assert!(
        cov.gaps.is_empty(),
        "cam-c went offline after the second window"
    );

    // Every answered call left an audit row under the token's name.
    let rows = city.store().audit(0, i64::MAX, 100).unwrap();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["co-occurrence", "trajectory", "find"], "{rows:?}");
    assert!(rows.iter().all(|r| r.caller == "ivy"));
    assert_eq!(rows[2].results, 3);
    assert!(
        rows[2].query_json.contains("old-town"),
        "{}",
        rows[2].query_json
    );
    assert_eq!(rows[1].results, 3);

    // Over HTTP: the audit log is for admins only.
    let http = city.http_url();
    let denied = uplink::tls::https_get(&ca, &http, "/api/v1/audit", Some(INVESTIGATOR))
        .await
        .unwrap();
    assert!(denied.lines().next().unwrap().contains(" 403 "), "{denied}");
    let log = uplink::tls::https_get(&ca, &http, "/api/v1/audit?limit=1", Some(ADMIN))
        .await
        .unwrap();
    assert!(log.lines().next().unwrap().contains(" 200 "), "{log}");
    assert!(log.contains("\"kind\":\"co-occurrence\""), "{log}");
    assert!(!log.contains("\"kind\":\"find\""), "{log}");

    // The same operations over HTTP JSON, by names; each audited too.
    let found = https_post(
        &ca,
        &http,
        "/api/v1/find",
        &serde_json::json!({ "filter": {
            "from": t - 60 * MIN, "to": t + 60 * MIN, "regions": ["old-town"],
            "plate": "晋M*", "fuzzy": true }, "limit": 1 }),
    )
    .await;
    assert!(found.lines().next().unwrap().contains(" 200 "), "{found}");
    assert!(
        found.contains("\"total\":3") && found.contains("\"coverage\""),
        "{found}"
    );
    let route = https_post(
        &ca,
        &http,
        "/api/v1/trajectory",
        &serde_json::json!({ "plate": "晋M12345", "from": t - 60 * MIN, "to": t + 60 * MIN }),
    )
    .await;
    assert!(route.lines().next().unwrap().contains(" 200 "), "{route}");
    assert!(
        route.contains("临猗县") && route.contains("\"offline\""),
        "{route}"
    );
    let together = https_post(
        &ca,
        &http,
        "/api/v1/co-occurrence",
        &serde_json::json!({ "windows": [
            { "from": t - 5 * MIN, "to": t + 5 * MIN, "cameras": ["cam-a"] },
            { "from": t + 25 * MIN, "to": t + 35 * MIN, "cameras": ["cam-c"] },
        ] }),
    )
    .await;
    assert!(
        together.contains("晋M12345") && together.contains("\"suv\""),
        "{together}"
    );
    let bad = https_post(
        &ca,
        &http,
        "/api/v1/find",
        &serde_json::json!({ "filter": { "from": t, "to": t + MIN, "classes": ["tank"] } }),
    )
    .await;
    assert!(bad.lines().next().unwrap().contains(" 400 "), "{bad}");
    assert!(bad.contains("classes"), "{bad}");
    let rows = city.store().audit(0, i64::MAX, 100).unwrap();
    assert_eq!(rows.len(), 6, "{rows:?}");
    city.shutdown().await;
}

/// Pushes `sightings` from edge `edge` to `city` through the real uplink over TLS and waits
/// until the city holds `expect` sightings in all.
async fn push(
    city: &platform::Platform,
    pki: &std::path::Path,
    edge: &str,
    sightings: Vec<Sighting>,
    expect: u64,
) {
    uplink::tls::dev_ca::issue(pki, edge, &["127.0.0.1".into()]).unwrap();
    let store = std::sync::Arc::new(store::Store::open_in_memory().unwrap());
    store.record(edge, sightings).unwrap();
    let mut up = uplink::ForwarderConfig::new(edge, city.url());
    up.tls = Some(uplink::TlsConfig::in_dir(pki, edge).client().unwrap());
    let fwd = uplink::Forwarder::new(up, store, std::sync::Arc::new(tokio::sync::Notify::new()));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(fwd.run(shutdown));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while city.store().stats().unwrap().sightings < expect {
        assert!(
            std::time::Instant::now() < deadline,
            "uplink delivered in 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
}

async fn search_client(
    city: &platform::Platform,
    pki: &std::path::Path,
) -> v1::search_client::SearchClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(city.url())
        .unwrap()
        .tls_config(uplink::tls::client_ca_only(&pki.join("ca.pem")).unwrap())
        .unwrap()
        .connect()
        .await
        .unwrap();
    v1::search_client::SearchClient::new(channel)
}

/// Watchlists (布控 the platform keeps): added over gRPC and HTTP, they raise alerts while no
/// one listens; a reader gets them from an alert id on; they survive a platform restart and
/// keep alerting; a follower hears a new alert as it is committed; removal stops them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchlists_keep_alerting_with_no_one_listening_and_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let ca = pki.join("ca.pem");
    let city1 = city(dir.path()).await;
    let mut search = search_client(&city1, &pki).await;
    let added = search
        .add_watchlist(ask(v1::AddWatchlistRequest {
            name: "plate 晋M*23*".into(),
            filter: Some(v1::Filter {
                plate: "晋M*23*".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(added.armed && added.owner == "ivy", "{added:?}");
    let http = https_post(
        &ca,
        &city1.http_url(),
        "/api/v1/watchlists",
        &serde_json::json!({ "name": "covered white SUV, old town", "filter": {
            "regions": ["old-town"], "classes": ["suv"], "colors": ["white"],
            "plate_states": ["covered"] } }),
    )
    .await;
    assert!(http.starts_with("HTTP/1.0 201"), "{http}");
    assert!(
        !http.contains("\"from\""),
        "a watchlist has no time range: {http}"
    );
    for (name, filter, why) in [
        ("plate 晋M*23*", v1::Filter::default(), "exists already"),
        (
            "harbour",
            v1::Filter {
                regions: vec!["harbour".into()],
                ..Default::default()
            },
            "unknown region",
        ),
    ] {
        let e = search
            .add_watchlist(ask(v1::AddWatchlistRequest {
                name: name.into(),
                filter: Some(filter),
            }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains(why), "{}", e.message());
    }

    // No one listens while an edge pushes four sightings; two match.
    let t = base::now_ms() - MIN;
    push(
        &city1,
        &pki,
        "edge-9",
        vec![
            sighting("cam-a", t, Some("晋M99999")),
            sighting("cam-b", t + 1, Some("晋MA2345")),
            white_suv("cam-c", t + 2), // covered white SUV outside the old town
            white_suv("cam-a", t + 3),
        ],
        4,
    )
    .await;
    let read = |mut s: tonic::Streaming<v1::Alert>| async move {
        let mut out = Vec::new();
        while let Some(a) = s.message().await.unwrap() {
            out.push(a);
        }
        out
    };
    let stored = |after_id| v1::AlertsRequest {
        after_id,
        ..Default::default()
    };
    let first = read(search.alerts(ask(stored(0))).await.unwrap().into_inner()).await;
    let got: Vec<(&str, String)> = first
        .iter()
        .map(|a| (a.rule.as_str(), a.sighting.as_ref().unwrap().camera.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("plate 晋M*23*", "cam-b".to_string()),
            ("covered white SUV, old town", "cam-a".into())
        ]
    );
    assert!(first[0].id > 0 && first[0].id < first[1].id);
    let last = first[1].id;
    assert!(
        read(search.alerts(ask(stored(last))).await.unwrap().into_inner())
            .await
            .is_empty()
    );
    let typo = search
        .alerts(ask(v1::AlertsRequest {
            watchlists: vec!["plate 晋M*32*".into()],
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert!(
        typo.message().contains("plate 晋M*23*"),
        "{}",
        typo.message()
    );
    city1.shutdown().await;

    // Restarted on the same database: both are armed again, with their counts.
    let city2 = city(dir.path()).await;
    let mut search = search_client(&city2, &pki).await;
    let lists = search
        .list_watchlists(ask(v1::ListWatchlistsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .watchlists;
    let summary: Vec<(&str, bool, u64)> = lists
        .iter()
        .map(|w| (w.name.as_str(), w.armed, w.alerts))
        .collect();
    assert_eq!(
        summary,
        [
            ("plate 晋M*23*", true, 1),
            ("covered white SUV, old town", true, 1)
        ]
    );
    assert_eq!(lists[1].filter.as_ref().unwrap().regions, ["old-town"]);

    // A follower resuming after the last id it saw hears the next match as it arrives.
    let mut follow = search
        .alerts(ask(v1::AlertsRequest {
            watchlists: vec!["plate 晋M*23*".into()],
            after_id: last,
            follow: true,
        }))
        .await
        .unwrap()
        .into_inner();
    push(
        &city2,
        &pki,
        "edge-10",
        vec![
            white_suv("cam-b", t + 10), // alerts the other watchlist only
            sighting("cam-c", t + 11, Some("晋MB1230")),
        ],
        6,
    )
    .await;
    let next = tokio::time::timeout(std::time::Duration::from_secs(20), follow.message())
        .await
        .expect("the follower hears the alert within 20 s")
        .unwrap()
        .unwrap();
    assert!(next.id > last, "{next:?}");
    assert_eq!(next.rule, "plate 晋M*23*");
    assert_eq!(
        next.sighting.unwrap().plate.unwrap().text,
        "晋MB1230".to_string()
    );

    // Over HTTP, the same alerts from the start; then removal.
    let page = uplink::tls::https_get(
        &ca,
        &city2.http_url(),
        "/api/v1/alerts?after=0",
        Some(INVESTIGATOR),
    )
    .await
    .unwrap();
    let body: serde_json::Value =
        serde_json::from_str(page.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["alerts"].as_array().unwrap().len(), 4, "{body}");
    assert_eq!(body["next_after"], body["alerts"][3]["id"]);
    let removed = search
        .remove_watchlist(ask(v1::RemoveWatchlistRequest {
            name: "plate 晋M*23*".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(removed.removed);
    let audit = city2.store().audit(0, i64::MAX, 100).unwrap();
    for kind in ["watchlist-add", "watchlists", "alerts", "watchlist-remove"] {
        assert!(
            audit.iter().any(|a| a.kind == kind && a.caller == "ivy"),
            "{kind} audited: {audit:?}"
        );
    }
    city2.shutdown().await;
}

/// A standing question (布控): sightings that reach the platform through the real uplink from
/// now on are streamed to the watcher as they are committed, each under the rule it matched;
/// others are not, and the watch itself is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_alert_on_matching_sightings_as_they_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let city = city(dir.path()).await;
    let pki = dir.path().join("pki");
    let channel = tonic::transport::Endpoint::from_shared(city.url())
        .unwrap()
        .tls_config(uplink::tls::client_ca_only(&pki.join("ca.pem")).unwrap())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut search = v1::search_client::SearchClient::new(channel);
    let rule = |name: &str, filter: v1::Filter| v1::WatchRule {
        name: name.into(),
        filter: Some(filter),
    };
    let mut alerts = search
        .watch(ask(v1::WatchRequest {
            rules: vec![
                rule(
                    "plate 晋M*23*",
                    v1::Filter {
                        plate: "晋M*23*".into(),
                        ..Default::default()
                    },
                ),
                rule(
                    "covered white SUV in the old town",
                    v1::Filter {
                        regions: vec!["old-town".into()],
                        classes: vec![VehicleClass::Suv.code()],
                        colors: vec![VehicleColor::White.code()],
                        plate_states: vec![PlateState::Covered.code()],
                        ..Default::default()
                    },
                ),
            ],
        }))
        .await
        .unwrap()
        .into_inner();
    let bad = search
        .watch(ask(v1::WatchRequest { rules: vec![] }))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    // An edge pushes four sightings through the uplink, over TLS with its own certificate.
    uplink::tls::dev_ca::issue(&pki, "edge-9", &["127.0.0.1".into()]).unwrap();
    let edge = std::sync::Arc::new(store::Store::open_in_memory().unwrap());
    let t = base::now_ms() - MIN;
    edge.record(
        "edge-9",
        vec![
            sighting("cam-a", t, Some("晋M99999")),
            sighting("cam-b", t + 1, Some("晋MA2345")),
            white_suv("cam-c", t + 2), // a covered white SUV, but outside the old town
            white_suv("cam-a", t + 3),
        ],
    )
    .unwrap();
    let mut up = uplink::ForwarderConfig::new("edge-9", city.url());
    up.tls = Some(uplink::TlsConfig::in_dir(&pki, "edge-9").client().unwrap());
    let fwd = uplink::Forwarder::new(up, edge, std::sync::Arc::new(tokio::sync::Notify::new()));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(fwd.run(shutdown));

    let mut got = Vec::new();
    while got.len() < 2 {
        let next = tokio::time::timeout(std::time::Duration::from_secs(20), alerts.message())
            .await
            .expect("alerts within 20 s")
            .unwrap()
            .unwrap();
        let s: Sighting = next.sighting.unwrap().try_into().unwrap();
        got.push((next.rule, s.camera, s.plate.text));
    }
    assert_eq!(
        got,
        [
            (
                "plate 晋M*23*".to_string(),
                "cam-b".to_string(),
                Some("晋MA2345".to_string())
            ),
            (
                "covered white SUV in the old town".into(),
                "cam-a".into(),
                None
            ),
        ]
    );
    // Nothing else matched.
    let more = tokio::time::timeout(std::time::Duration::from_millis(500), alerts.message()).await;
    assert!(more.is_err(), "no further alert: {more:?}");
    stop.send(true).unwrap();
    // The platform stops even with a watcher still connected: its stream ends.
    task.await.unwrap();
    let audit = city.store().audit(0, i64::MAX, 10).unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.kind == "watch" && a.caller == "ivy" && a.results == 2),
        "{audit:?}"
    );
    city.shutdown().await;
}
