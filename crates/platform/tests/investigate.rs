//! The investigators' operations on a real platform (TLS, gRPC and HTTP on 127.0.0.1, API
//! tokens): find by region and plate pattern, trajectory of a plate and co-occurrence across
//! windows answer from the platform's store, each with its coverage (a camera that went offline
//! during the window is named), bad filters are InvalidArgument with the reason, and every call
//! leaves an audit row with the caller's name that only an admin can read over HTTP. Companions,
//! first entry, cloned plates and similar vehicles answer seeded cases exactly over both APIs,
//! and refused questions are audited with their reason.

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
    seed_health(city);
}

/// All cameras online for a day, then cam-c offline from 40 minutes after t0.
fn seed_health(city: &platform::Platform) {
    let t = t0();
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
    // All online for a day, then cam-c goes offline 40 minutes after t0. The edge reports
    // every 30 s from three hours before t0 until now (a silent edge would leave its cameras
    // unknown).
    let now = base::now_ms();
    for at_ms in (t - 180 * MIN..=now).step_by(30_000) {
        let (c_state, c_since) = if at_ms >= t + 40 * MIN {
            (CameraState::Offline, t + 40 * MIN)
        } else {
            (CameraState::Online, t - 86_400_000)
        };
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

    // Every call left an audit row under the token's name, the refused one too.
    let rows = city.store().audit(0, i64::MAX, 100).unwrap();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["co-occurrence", "trajectory", "find", "find"],
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r.caller == "ivy"));
    assert_eq!((rows[3].results, rows[3].refused.as_deref()), (3, None));
    assert!(
        rows[3].query_json.contains("old-town"),
        "{}",
        rows[3].query_json
    );
    assert_eq!(rows[2].results, 0);
    assert!(
        rows[2].refused.as_deref().unwrap().contains("harbour"),
        "{:?}",
        rows[2]
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
    assert_eq!(rows.len(), 8, "{rows:?}");
    assert!(
        rows[0].kind == "find" && rows[0].refused.as_deref().unwrap().contains("tank"),
        "{:?}",
        rows[0]
    );
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

/// Watchlists (布控 the platform keeps): added over gRPC and HTTP, they raise alerts while no
/// one listens; a reader gets them from an alert id on; they survive a platform restart and
/// keep alerting; a follower hears a new alert as it is committed; removal stops them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchlists_keep_alerting_with_no_one_listening_and_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let ca = pki.join("ca.pem");
    let city1 = city(dir.path()).await;
    let mut search = investigator_client(dir.path(), &city1).await;
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
        &serde_json::json!({ "name": "covered white SUV in the old town", "filter": {
            "regions": ["old-town"], "classes": ["suv"], "colors": ["white"],
            "plate_states": ["covered"] } }),
    )
    .await;
    assert!(http.starts_with("HTTP/1.0 201"), "{http}");
    assert!(
        !http.contains("\"from\""),
        "a watchlist has no time range: {http}"
    );
    let bad = https_post(
        &ca,
        &city1.http_url(),
        "/api/v1/watchlists",
        &serde_json::json!("not a watchlist"),
    )
    .await;
    assert!(
        bad.starts_with("HTTP/1.0 400") && bad.contains("body:"),
        "{bad}"
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
            ("covered white SUV in the old town", "cam-a".into())
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
    let mut search = investigator_client(dir.path(), &city2).await;
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
            ("covered white SUV in the old town", true, 1)
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
    // Its alerts stay readable by name.
    let kept = read(
        search
            .alerts(ask(v1::AlertsRequest {
                watchlists: vec!["plate 晋M*23*".into()],
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    let audit = city2.store().audit(0, i64::MAX, 100).unwrap();
    for why in ["exists already", "unknown region", "body:"] {
        assert!(
            audit.iter().any(|a| a.kind == "watchlist-add"
                && a.refused.as_deref().is_some_and(|r| r.contains(why))),
            "refusal {why:?} audited: {audit:?}"
        );
    }
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
    let mut search = investigator_client(dir.path(), &city).await;
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
    let t = base::now_ms() - MIN;
    push(
        &city,
        &pki,
        "edge-9",
        vec![
            sighting("cam-a", t, Some("晋M99999")),
            sighting("cam-b", t + 1, Some("晋MA2345")),
            white_suv("cam-c", t + 2), // a covered white SUV, but outside the old town
            white_suv("cam-a", t + 3),
        ],
        4,
    )
    .await;

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
    let audit = city.store().audit(0, i64::MAX, 10).unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.kind == "watch" && a.caller == "ivy" && a.results == 2),
        "{audit:?}"
    );
    // The platform stops even with a watcher still connected: its stream ends.
    city.shutdown().await;
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), alerts.message()).await;
    assert!(matches!(end, Ok(Ok(None)) | Ok(Err(_))), "{end:?}");
}

/// A plateless white SUV whose appearance embedding has `components`.
fn suv(camera: &str, t: i64, components: [i8; Embedding::DIM]) -> Sighting {
    Sighting {
        embedding: Some(Embedding::from_components(components)),
        ..white_suv(camera, t)
    }
}

/// The embedding `white_suv` carries, and one close to it (cosine ≈ 0.9999) and one far from
/// it (second half negated: cosine ≈ 0).
fn embeddings() -> [[i8; Embedding::DIM]; 3] {
    let mut probe = [0i8; Embedding::DIM];
    for (i, x) in probe.iter_mut().enumerate() {
        *x = ((i * 37 % 200) as i32 - 100) as i8;
    }
    let (mut near, mut far) = (probe, probe);
    for i in (0..Embedding::DIM).step_by(10) {
        near[i] += 3;
    }
    for x in &mut far[Embedding::DIM / 2..] {
        *x = -*x;
    }
    [probe, near, far]
}

/// Sightings whose answers are known, at minutes from `t0()`:
///
/// - companions: 晋A00001 at cam-a 0, cam-b 10, cam-c 30; 晋B00002 20–30 s after it at cam-a and
///   cam-b (a companion, twice); 晋C00003 once at cam-a 40 s after it (once is not enough).
/// - first entry into the old town (cam-a, cam-b) during 40–50 with an hour's lookback:
///   晋E00005 (cam-b 42; seen before only 90 minutes earlier), 晋G00007 (cam-a 46; seen in the
///   lookback, but at cam-c, outside the old town); not 晋F00006 (cam-a 44, and at cam-a 10).
/// - a cloned plate: 晋K00008 at cam-a 52 and cam-c 54, 22 km apart in 2 minutes.
/// - similar vehicles: the probe SUV at cam-b 5, one that looks like it at cam-c 25 and one
///   that does not at cam-a 26.
///
/// Returns the recorded sightings by name.
fn seed_cases(city: &platform::Platform) -> std::collections::HashMap<&'static str, Sighting> {
    let t = t0();
    let s = |m: f64| t + (m * MIN as f64) as i64;
    let [probe, near, far] = embeddings();
    let named: Vec<(&'static str, Sighting)> = vec![
        ("A@a", sighting("cam-a", s(0.0), Some("晋A00001"))),
        ("B@a", sighting("cam-a", s(20.0 / 60.0), Some("晋B00002"))),
        ("C@a", sighting("cam-a", s(40.0 / 60.0), Some("晋C00003"))),
        ("probe", suv("cam-b", s(5.0), probe)),
        ("A@b", sighting("cam-b", s(10.0), Some("晋A00001"))),
        ("F@a-before", sighting("cam-a", s(10.0), Some("晋F00006"))),
        ("B@b", sighting("cam-b", s(10.5), Some("晋B00002"))),
        ("G@c-before", sighting("cam-c", s(20.0), Some("晋G00007"))),
        ("near", suv("cam-c", s(25.0), near)),
        ("far", suv("cam-a", s(26.0), far)),
        ("A@c", sighting("cam-c", s(30.0), Some("晋A00001"))),
        (
            "E@a-long-ago",
            sighting("cam-a", s(-90.0), Some("晋E00005")),
        ),
        ("E@b", sighting("cam-b", s(42.0), Some("晋E00005"))),
        ("F@a", sighting("cam-a", s(44.0), Some("晋F00006"))),
        ("G@a", sighting("cam-a", s(46.0), Some("晋G00007"))),
        ("K@a", sighting("cam-a", s(52.0), Some("晋K00008"))),
        ("K@c", sighting("cam-c", s(54.0), Some("晋K00008"))),
    ];
    let recorded = city
        .store()
        .record("edge-1", named.iter().map(|(_, s)| s.clone()).collect())
        .unwrap();
    named.iter().map(|(n, _)| *n).zip(recorded).collect()
}

async fn investigator_client(
    dir: &std::path::Path,
    city: &platform::Platform,
) -> v1::search_client::SearchClient<tonic::transport::Channel> {
    let tls = uplink::tls::client_ca_only(&dir.join("pki/ca.pem")).unwrap();
    let channel = tonic::transport::Endpoint::from_shared(city.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    v1::search_client::SearchClient::new(channel)
}

fn wire_key(s: &Sighting) -> v1::SightingKey {
    v1::SightingKey {
        origin: s.key.origin.clone(),
        seq: s.key.seq,
    }
}

/// The JSON body of an HTTP response, after checking its status line.
fn json_body(response: &str, status: &str) -> serde_json::Value {
    let first = response.lines().next().unwrap_or_default();
    assert!(first.contains(&format!(" {status} ")), "{response}");
    let (_, body) = response.split_once("\r\n\r\n").expect(response);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// cam-c went offline 40 minutes after t0 (`seed`'s health): the one gap of every window that
/// covers cam-c until t0 + 60 min.
fn assert_cam_c_offline(gaps: &[v1::Gap]) {
    let t = t0();
    let got: Vec<(&str, &str, i64, i64)> = gaps
        .iter()
        .map(|g| (g.camera.as_str(), g.state.as_str(), g.from_ms, g.to_ms))
        .collect();
    assert_eq!(got, [("cam-c", "offline", t + 40 * MIN, t + 60 * MIN)]);
}

/// Companions, first entry, cloned plates and similar vehicles over gRPC: each exact answer
/// of known sightings, with its coverage, and each call audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companions_first_entry_clones_and_similar_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let city = city(dir.path()).await;
    seed_health(&city);
    let k = seed_cases(&city);
    let mut search = investigator_client(dir.path(), &city).await;
    let t = t0();

    // Companions of 晋A00001: 晋B00002 twice at two cameras; 晋C00003 once is not enough.
    let companions = search
        .companions(ask(v1::CompanionsRequest {
            subject: Some(v1::Subject {
                subject: Some(v1::subject::Subject::Plate("晋A00001".into())),
            }),
            from_ms: t - 60 * MIN,
            to_ms: t + 60 * MIN,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        companions.companions,
        [v1::Companion {
            plate: "晋B00002".into(),
            times: 2,
            cameras: 2,
            sightings: vec![wire_key(&k["B@a"]), wire_key(&k["B@b"])],
        }]
    );
    let cov = companions.coverage.unwrap();
    assert_eq!(
        cov.cameras,
        ["cam-a", "cam-b", "cam-c"],
        "the subject's cameras"
    );
    assert_cam_c_offline(&cov.gaps);
    // Together once is enough when asked.
    let once = search
        .companions(ask(v1::CompanionsRequest {
            subject: Some(v1::Subject {
                subject: Some(v1::subject::Subject::Plate("晋A00001".into())),
            }),
            from_ms: t - 60 * MIN,
            to_ms: t + 60 * MIN,
            min_times: 1,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let plates: Vec<&str> = once.companions.iter().map(|c| c.plate.as_str()).collect();
    assert_eq!(plates, ["晋B00002", "晋C00003"]);

    // First entry into the old town during 40–50 minutes, an hour's lookback.
    let entries = search
        .first_entry(ask(v1::FirstEntryRequest {
            region: Some(v1::Filter {
                regions: vec!["old-town".into()],
                ..window(t + 40 * MIN, t + 50 * MIN, &[])
            }),
            lookback_ms: 60 * MIN,
            limit: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        entries.entries,
        [
            v1::Entry {
                plate: "晋E00005".into(),
                sighting: Some(wire_key(&k["E@b"])),
                camera: "cam-b".into(),
                pass_time_ms: t + 42 * MIN,
            },
            v1::Entry {
                plate: "晋G00007".into(),
                sighting: Some(wire_key(&k["G@a"])),
                camera: "cam-a".into(),
                pass_time_ms: t + 46 * MIN,
            },
        ]
    );
    let cov = entries.coverage.unwrap();
    assert_eq!(cov.cameras, ["cam-a", "cam-b"]);
    assert_eq!(
        (cov.from_ms, cov.to_ms),
        (t - 20 * MIN, t + 50 * MIN),
        "lookback included"
    );
    assert!(cov.gaps.is_empty(), "{:?}", cov.gaps);

    // Cloned plates anywhere in the last hours: only 晋K00008, 22 km in 2 minutes.
    let clones = search
        .cloned_plates(ask(v1::ClonedPlatesRequest {
            filter: Some(window(t - 100 * MIN, t + 60 * MIN, &[])),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(clones.plates.len(), 1, "{:?}", clones.plates);
    let p = &clones.plates[0];
    assert_eq!((p.plate.as_str(), p.sightings), ("晋K00008", 2));
    assert_eq!(p.evidence.len(), 1, "{:?}", p.evidence);
    let e = &p.evidence[0];
    assert_eq!(e.kind, "speed");
    assert_eq!(
        (e.a.clone(), e.b.clone()),
        (Some(wire_key(&k["K@a"])), Some(wire_key(&k["K@c"])))
    );
    assert_eq!(
        (e.a_camera.as_str(), e.b_camera.as_str()),
        ("cam-a", "cam-c")
    );
    assert!((e.km - 22.24).abs() < 0.05, "{e:?}");
    assert_eq!(e.seconds, 120.0);
    // 22.24 km over 2 minutes plus the default 30 s of tolerance.
    assert!((e.kmh - 533.7).abs() < 1.0, "{e:?}");
    let cov = clones.coverage.unwrap();
    assert!(cov.all_cameras);
    assert_cam_c_offline(&cov.gaps);
    // A car at 600 km/h is possible for this question: no suspect.
    let none = search
        .cloned_plates(ask(v1::ClonedPlatesRequest {
            filter: Some(window(t - 100 * MIN, t + 60 * MIN, &[])),
            max_speed_kmh: 600.0,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(none.plates.is_empty(), "{:?}", none.plates);

    // Similar to the probe SUV: the look-alike first, the other after; the probe left out.
    let similar = search
        .similar(ask(v1::SimilarRequest {
            probe: Some(v1::similar_request::Probe::Sighting(wire_key(&k["probe"]))),
            filter: Some(window(t - 60 * MIN, t + 60 * MIN, &[])),
            limit: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    let got: Vec<(Sighting, f32)> = similar
        .sightings
        .into_iter()
        .map(|s| (s.sighting.unwrap().try_into().unwrap(), s.cosine))
        .collect();
    let keys: Vec<String> = got.iter().map(|(s, _)| s.key.to_string()).collect();
    assert_eq!(keys, [k["near"].key.to_string(), k["far"].key.to_string()]);
    assert!(got[0].1 > 0.999, "{}", got[0].1);
    assert!(got[1].1.abs() < 0.01, "{}", got[1].1);
    assert_eq!(got[0].0.camera, "cam-c");
    let cov = similar.coverage.unwrap();
    assert!(cov.all_cameras);
    assert_cam_c_offline(&cov.gaps);
    // The same by the probe's embedding: the probe itself is then the best match.
    let by_embedding = search
        .similar(ask(v1::SimilarRequest {
            probe: Some(v1::similar_request::Probe::Embedding(
                Embedding::from_components(embeddings()[0])
                    .to_bytes()
                    .to_vec(),
            )),
            filter: Some(window(t - 60 * MIN, t + 60 * MIN, &["cam-b", "cam-c"])),
            limit: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<String> = by_embedding
        .sightings
        .iter()
        .map(|s| {
            let k = s.sighting.as_ref().unwrap().key.as_ref().unwrap();
            format!("{}#{}", k.origin, k.seq)
        })
        .collect();
    assert_eq!(
        keys,
        [k["probe"].key.to_string(), k["near"].key.to_string()]
    );
    assert_eq!(by_embedding.coverage.unwrap().cameras, ["cam-b", "cam-c"]);

    let rows = city.store().audit(0, i64::MAX, 100).unwrap();
    let kinds: Vec<(&str, u64)> = rows.iter().map(|r| (r.kind.as_str(), r.results)).collect();
    assert_eq!(
        kinds,
        [
            ("similar", 2),
            ("similar", 2),
            ("cloned-plates", 0),
            ("cloned-plates", 1),
            ("first-entry", 2),
            ("companions", 2),
            ("companions", 1),
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.caller == "ivy" && r.refused.is_none()));
    assert!(
        rows[4].query_json.contains("old-town"),
        "{}",
        rows[4].query_json
    );
    city.shutdown().await;
}

/// The same four questions over HTTP JSON: the same answers, each with its coverage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companions_first_entry_clones_and_similar_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let city = city(dir.path()).await;
    seed_health(&city);
    let k = seed_cases(&city);
    let (ca, http) = (dir.path().join("pki/ca.pem"), city.http_url());
    let post = |path: &'static str, body: serde_json::Value| {
        let (ca, http) = (ca.clone(), http.clone());
        async move { https_post(&ca, &http, path, &body).await }
    };
    let key = |name: &str| serde_json::to_value(&k[name].key).unwrap();
    let t = t0();
    let offline = serde_json::json!([{
        "camera": "cam-c", "from_ms": t + 40 * MIN, "to_ms": t + 60 * MIN, "state": "offline",
        "degraded": [], "reason": "connection refused",
    }]);

    let companions = json_body(
        &post(
            "/api/v1/companions",
            serde_json::json!({ "plate": "晋A00001", "from": t - 60 * MIN, "to": t + 60 * MIN }),
        )
        .await,
        "200",
    );
    assert_eq!(
        companions["result"],
        serde_json::json!([{
            "plate": "晋B00002", "times": 2, "cameras": 2, "sightings": [key("B@a"), key("B@b")],
        }])
    );
    assert_eq!(
        companions["coverage"]["cameras"],
        serde_json::json!(["cam-a", "cam-b", "cam-c"])
    );
    assert_eq!(companions["coverage"]["gaps"], offline);

    let entries = json_body(
        &post(
            "/api/v1/first-entry",
            serde_json::json!({
                "region": { "from": t + 40 * MIN, "to": t + 50 * MIN, "regions": ["old-town"] },
                "lookback_ms": 60 * MIN,
            }),
        )
        .await,
        "200",
    );
    assert_eq!(
        entries["result"],
        serde_json::json!([
            { "plate": "晋E00005", "sighting": key("E@b"), "camera": "cam-b",
              "pass_time_ms": t + 42 * MIN },
            { "plate": "晋G00007", "sighting": key("G@a"), "camera": "cam-a",
              "pass_time_ms": t + 46 * MIN },
        ])
    );
    assert_eq!(
        entries["coverage"],
        serde_json::json!({
            "cameras": ["cam-a", "cam-b"], "from_ms": t - 20 * MIN, "to_ms": t + 50 * MIN,
            "gaps": [],
        })
    );

    let clones = json_body(
        &post(
            "/api/v1/cloned-plates",
            serde_json::json!({ "filter": { "from": t - 100 * MIN, "to": t + 60 * MIN } }),
        )
        .await,
        "200",
    );
    let plates = clones["result"].as_array().unwrap();
    assert_eq!(plates.len(), 1, "{clones}");
    assert_eq!(plates[0]["plate"], "晋K00008");
    let evidence = &plates[0]["evidence"];
    assert_eq!(evidence.as_array().unwrap().len(), 1, "{clones}");
    let e = &evidence[0];
    assert_eq!(
        (
            &e["kind"],
            &e["from"],
            &e["to"],
            &e["from_camera"],
            &e["to_camera"],
            &e["seconds"]
        ),
        (
            &serde_json::json!("speed"),
            &key("K@a"),
            &key("K@c"),
            &serde_json::json!("cam-a"),
            &serde_json::json!("cam-c"),
            &serde_json::json!(120.0)
        )
    );
    assert!((e["km"].as_f64().unwrap() - 22.24).abs() < 0.05, "{e}");
    assert_eq!(
        clones["coverage"]["cameras"],
        serde_json::Value::Null,
        "every camera"
    );
    assert_eq!(clones["coverage"]["gaps"], offline);

    let similar = json_body(
        &post(
            "/api/v1/similar",
            serde_json::json!({
                "sighting": k["probe"].key.to_string(),
                "filter": { "from": t - 60 * MIN, "to": t + 60 * MIN, "classes": ["suv"] },
            }),
        )
        .await,
        "200",
    );
    let got: Vec<(serde_json::Value, f64)> = similar["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["sighting"]["key"].clone(), s["cosine"].as_f64().unwrap()))
        .collect();
    assert_eq!(got.len(), 2, "{similar}");
    assert_eq!((&got[0].0, &got[1].0), (&key("near"), &key("far")));
    assert!(got[0].1 > 0.999 && got[1].1.abs() < 0.01, "{got:?}");
    assert_eq!(similar["coverage"]["gaps"], offline);

    // Each audited under the token's name, as the gRPC calls are.
    let rows = city.store().audit(0, i64::MAX, 100).unwrap();
    let kinds: Vec<(&str, u64)> = rows.iter().map(|r| (r.kind.as_str(), r.results)).collect();
    assert_eq!(
        kinds,
        [
            ("similar", 2),
            ("cloned-plates", 1),
            ("first-entry", 2),
            ("companions", 1)
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.caller == "ivy" && r.refused.is_none()));
    city.shutdown().await;
}

/// Questions refused as asked (unknown region, bad plate pattern, empty range, unknown code,
/// a body that is not the question, a lookback the store refuses) are audited like answered
/// ones, over gRPC and HTTP alike: 0 results, the question as far as it could be read, and the
/// reason, which an admin reads back over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_questions_are_audited_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let city = city(dir.path()).await;
    let mut search = investigator_client(dir.path(), &city).await;
    let (ca, http) = (dir.path().join("pki/ca.pem"), city.http_url());
    let t = t0();

    // gRPC: an unknown region, an unknown class code, a lookback of zero (refused by the store).
    let e = search
        .find(ask(v1::FindRequest {
            filter: Some(v1::Filter {
                regions: vec!["harbour".into()],
                ..window(t, t + MIN, &[])
            }),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let e = search
        .cloned_plates(ask(v1::ClonedPlatesRequest {
            filter: Some(v1::Filter {
                classes: vec![VehicleClass::Suv.code(), 99],
                ..window(t, t + MIN, &[])
            }),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let e = search
        .first_entry(ask(v1::FirstEntryRequest {
            region: Some(window(t, t + MIN, &["cam-a"])),
            lookback_ms: 0,
            limit: 0,
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);

    // HTTP: a bad plate pattern, an empty range, a body without its filter.
    for (path, body, field) in [
        (
            "/api/v1/find",
            serde_json::json!({ "filter": { "from": t, "to": t + MIN, "plate": "晋M-12" } }),
            "plate pattern",
        ),
        (
            "/api/v1/first-entry",
            serde_json::json!({ "region": { "from": t, "to": t }, "lookback_ms": MIN }),
            "time range is empty",
        ),
        (
            "/api/v1/cloned-plates",
            serde_json::json!({ "max_speed_kmh": 90 }),
            "missing field `filter`",
        ),
    ] {
        let r = https_post(&ca, &http, path, &body).await;
        assert!(r.lines().next().unwrap().contains(" 400 "), "{r}");
        assert!(r.contains(field), "{path}: {r}");
    }

    // The admin reads them back, newest first, each with its reason.
    let log = uplink::tls::https_get(&ca, &http, "/api/v1/audit", Some(ADMIN))
        .await
        .unwrap();
    let rows: Vec<store::AuditEntry> = serde_json::from_value(json_body(&log, "200")).unwrap();
    let got: Vec<(&str, &str, u64)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.caller.as_str(), r.results))
        .collect();
    assert_eq!(
        got,
        [
            ("cloned-plates", "ivy", 0),
            ("first-entry", "ivy", 0),
            ("find", "ivy", 0),
            ("first-entry", "ivy", 0),
            ("cloned-plates", "ivy", 0),
            ("find", "ivy", 0),
        ]
    );
    let reason = |i: usize| rows[i].refused.as_deref().unwrap_or_default();
    let query =
        |i: usize| -> serde_json::Value { serde_json::from_str(&rows[i].query_json).unwrap() };
    // The body as sent, and why it is not a question.
    assert!(
        reason(0).contains("missing field `filter`"),
        "{:?}",
        rows[0]
    );
    assert_eq!(query(0), serde_json::json!({ "max_speed_kmh": 90 }));
    assert!(reason(1).contains("time range is empty"), "{:?}", rows[1]);
    assert_eq!(query(1)["region"]["to"], t);
    assert!(
        reason(2).contains("plate pattern \"晋M-12\""),
        "{:?}",
        rows[2]
    );
    assert_eq!(query(2)["filter"]["plate"], "晋M-12");
    assert!(reason(3).contains("lookback"), "{:?}", rows[3]);
    assert_eq!(query(3)["lookback_ms"], 0);
    // An unknown code stays a number next to the names that could be read.
    assert!(
        reason(4).contains("classes: unknown code 99"),
        "{:?}",
        rows[4]
    );
    assert_eq!(
        query(4)["filter"]["classes"],
        serde_json::json!(["suv", "99"])
    );
    assert!(
        reason(5).contains("unknown region \"harbour\"") && reason(5).contains("old-town"),
        "{:?}",
        rows[5]
    );
    assert_eq!(
        query(5)["filter"]["regions"],
        serde_json::json!(["harbour"])
    );
    assert!(
        log.contains("\"refused\":"),
        "the reason is in the admin's JSON: {log}"
    );
    city.shutdown().await;
}
