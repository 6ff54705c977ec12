//! The whole chain in one process, every part real: gstreamer-rtsp-server serving real street
//! footage → edge (GStreamer decode, YOLOv12n through ONNX Runtime, tracker, SQLite outbox) →
//! gRPC → county (SQLite) → gRPC → city (SQLite) → gRPC search.
//!
//! What the model really sees on `bikes.mp4` (checked offline with the reference ONNX Runtime
//! Python package): cars in most of the clip, and bicycles, motorcycles and trucks. So cars must
//! reach the city from every camera, under the right camera ids, exactly once; an unreachable
//! camera beside them must be reported (password redacted) without disturbing the others.

use std::time::Duration;

use proto::v1;

mod common;

/// A GET with the test token, over HTTPS to platforms and plain HTTP to the edge (its HTTP
/// side stays on loopback and holds no tokens); asserts a 200 and returns the whole response.
async fn http_get(dir: &std::path::Path, base: &str, path: &str) -> String {
    let out = match base.strip_prefix("http://") {
        None => {
            let ca = dir.join("pki/ca.pem");
            uplink::tls::https_get(&ca, base, path, Some(common::TOKEN))
                .await
                .unwrap()
        }
        Some(addr) => {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
    };
    assert!(
        out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"),
        "{out}"
    );
    out
}

async fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_to_city_search() {
    let clip = common::clip();
    let cams = ["north-gate", "south-gate"];
    // A third camera is served but only added to the edge while it runs.
    let specs: Vec<_> = ["north-gate", "south-gate", "west-gate"]
        .iter()
        .map(|c| ingest::ClipSpec::new(*c, clip.clone()))
        .collect();
    let server = ingest::CameraServer::start(&specs, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let city = common::platform("city", dir.path(), None).await;
    let county = common::platform("county-1", dir.path(), Some(city.url())).await;

    let mut cfg = common::edge_config("edge-1", dir.path(), county.url());
    cfg.analysis_fps = 4.0;
    for c in cams {
        cfg.cameras.push(edge::CameraConfig {
            id: c.into(),
            url: server.url(c),
            password_env: None,
            device_id: Some(format!("1408000000132000000{}", c.len() % 10)),
        });
    }
    std::env::set_var("XUELIANG_E2E_DEAD_PW", "hunter22");
    cfg.cameras.push(edge::CameraConfig {
        id: "dead-cam".into(),
        url: "rtsp://admin@127.0.0.1:1/none".into(),
        password_env: Some("XUELIANG_E2E_DEAD_PW".into()),
        device_id: None,
    });
    let started = base::now_ms();
    let cfg_cameras = cfg.cameras.clone();
    let node = edge::Edge::start(cfg).await.unwrap();

    // A little over one loop of the 10 s clip, so every camera shows its cars.
    wait_until("frames analysed on both cameras", 60, || {
        node.stats()
            .cameras
            .iter()
            .filter(|c| c.id != "dead-cam")
            .all(|c| c.frames_analysed >= 40)
    })
    .await;
    let live = node.stats();
    let dead = live.cameras.iter().find(|c| c.id == "dead-cam").unwrap();
    assert_eq!(dead.frames_decoded, 0);
    assert!(
        dead.state == "offline" || dead.state == "connecting",
        "{dead:?}"
    );
    assert!(
        dead.reason.contains("dead-cam") && dead.reason.contains("***"),
        "{dead:?}"
    );
    assert!(
        !dead.reason.contains("hunter22"),
        "password leaked: {dead:?}"
    );

    // Camera health travels edge → county → city: the operators' view at the city.
    let mut health =
        v1::health_client::HealthClient::new(common::channel(dir.path(), &city.url()).await);
    let mut overview = v1::CamerasResponse::default();
    for _ in 0..100 {
        overview = health
            .cameras(common::request(v1::CamerasRequest::default()))
            .await
            .unwrap()
            .into_inner();
        if overview.cameras == 3 && overview.online == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!((overview.cameras, overview.online), (3, 2), "{overview:?}");
    assert_eq!(overview.counties.len(), 1);
    assert_eq!(overview.counties[0].county, "county-1");
    let first = &overview.statuses[0];
    assert!(first.faulty && first.for_ms > 0, "{first:?}");
    let h = first.health.as_ref().unwrap();
    assert_eq!(h.camera, "dead-cam", "faulty first: {overview:?}");
    assert!(
        h.reason.contains("***") && !h.reason.contains("hunter22"),
        "{h:?}"
    );
    let online = overview
        .statuses
        .iter()
        .find(|s| s.health.as_ref().unwrap().camera == "north-gate")
        .unwrap()
        .health
        .clone()
        .unwrap();
    assert_eq!((online.width, online.height), (640, 272), "{online:?}");
    assert_eq!(online.codec, "H.264");
    assert!(online.fps > 0.0 && online.bitrate_kbps > 0.0, "{online:?}");

    // Prometheus and JSON over HTTP at the county.
    let metrics = http_get(dir.path(), &county.http_url(), "/metrics").await;
    assert!(
        metrics.contains("xueliang_cameras_online{node=\"county-1\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "xueliang_camera_up{county=\"county-1\",edge=\"edge-1\",camera=\"dead-cam\"} 0"
        ),
        "{metrics}"
    );
    let json = http_get(
        dir.path(),
        &county.http_url(),
        "/api/v1/cameras?faulty=true",
    )
    .await;
    let body: serde_json::Value =
        serde_json::from_str(json.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["statuses"].as_array().unwrap().len(), 1, "{body}");
    // The operators' command-line view.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xueliang"))
        .args(["cameras", "--server", &city.url()])
        .args(common::cli_auth(dir.path()))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(table.contains("2 of 3 cameras online"), "{table}");
    assert!(
        table.contains("dead-cam") && table.contains("offline"),
        "{table}"
    );
    assert!(
        !table.contains("north-gate"),
        "only faulty cameras by default: {table}"
    );

    // Cameras change at run time: the dead one goes, a new one comes; the others keep
    // running (their frame counters keep growing, no reconnect).
    let before = node.stats();
    let mut now_cams: Vec<edge::CameraConfig> = cfg_cameras.clone();
    now_cams.retain(|c| c.id != "dead-cam");
    now_cams.push(edge::CameraConfig {
        id: "west-gate".into(),
        url: server.url("west-gate"),
        password_env: None,
        device_id: None,
    });
    let changes = node.apply_cameras(&now_cams).unwrap();
    assert_eq!(
        (changes.added, changes.removed, changes.changed),
        (
            vec!["west-gate".to_string()],
            vec!["dead-cam".to_string()],
            vec![]
        )
    );
    wait_until("west-gate analysed", 60, || {
        node.stats()
            .cameras
            .iter()
            .any(|c| c.id == "west-gate" && c.frames_analysed >= 5)
    })
    .await;
    let after = node.stats();
    assert_eq!(after.cameras.len(), 3);
    assert!(!after.cameras.iter().any(|c| c.id == "dead-cam"));
    for id in cams {
        let b = before.cameras.iter().find(|c| c.id == id).unwrap();
        let a = after.cameras.iter().find(|c| c.id == id).unwrap();
        assert!(
            a.frames_decoded > b.frames_decoded && a.reconnects == b.reconnects,
            "{a:?} {b:?}"
        );
    }
    let mut all_online = false;
    for _ in 0..100 {
        let o = health
            .cameras(common::request(v1::CamerasRequest::default()))
            .await
            .unwrap()
            .into_inner();
        if o.cameras == 3 && o.online == 3 {
            all_online = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(all_online, "the city sees the new camera set");

    let edge_metrics = http_get(dir.path(), &node.http_url(), "/metrics").await;
    assert!(
        edge_metrics.contains(
            "xueliang_camera_frames_analysed_total{node=\"edge-1\",camera=\"north-gate\"}"
        ),
        "{edge_metrics}"
    );

    // Crops stay at the edge; the city fetches one by reference through the county.
    let mut search =
        v1::search_client::SearchClient::new(common::channel(dir.path(), &city.url()).await);
    let channel = common::channel(dir.path(), &city.url()).await;
    let mut media = v1::media_client::MediaClient::new(channel);
    let fetch = |r: &str| {
        common::request(v1::FetchCropRequest {
            crop_ref: r.to_owned(),
        })
    };
    let first = loop {
        let page = search
            .search(common::request(v1::SearchRequest {
                from_ms: started - 1000,
                to_ms: base::now_ms() + 1000,
                limit: 1,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        if let Some(s) = page.sightings.into_iter().next() {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let crop_ref = first.crop_ref.clone();
    assert!(crop_ref.starts_with("xl://edge-1/crop/"), "{first:?}");
    let jpeg = media
        .fetch_crop(fetch(&crop_ref))
        .await
        .unwrap()
        .into_inner()
        .jpeg;
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG");
    let again = media
        .fetch_crop(fetch(&crop_ref))
        .await
        .unwrap()
        .into_inner()
        .jpeg;
    assert_eq!(jpeg, again);
    let city_metrics = http_get(dir.path(), &city.http_url(), "/metrics").await;
    assert!(
        city_metrics.contains("xueliang_media_fetched_total{node=\"city\"} 1")
            && city_metrics.contains("xueliang_media_cache_hits_total{node=\"city\"} 1"),
        "the second fetch comes from the city's cache: {city_metrics}"
    );
    let county_metrics = http_get(dir.path(), &county.http_url(), "/metrics").await;
    assert!(
        county_metrics.contains("xueliang_media_fetched_total{node=\"county-1\"} 1"),
        "{county_metrics}"
    );
    let missing = media
        .fetch_crop(fetch("xl://edge-1/crop/999999"))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");
    let bad = media.fetch_crop(fetch("not-a-ref")).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let anonymous = media
        .fetch_crop(v1::FetchCropRequest {
            crop_ref: crop_ref.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let out_file = dir.path().join("best.jpg");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xueliang"))
        .args(["crop", &crop_ref, "--server", &city.url(), "-o"])
        .arg(&out_file)
        .args(common::cli_auth(dir.path()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read(&out_file).unwrap(), jpeg);

    let stats = node.shutdown(Duration::from_secs(10)).await;
    assert!(stats.recorded > 0);
    assert_eq!(stats.outbox_pending, 0, "edge outbox drained");
    wait_until("city has every sighting", 30, || {
        city.stats().unwrap().stats.sightings == stats.recorded
    })
    .await;
    assert_eq!(county.stats().unwrap().stats.sightings, stats.recorded);

    let mut client =
        v1::search_client::SearchClient::new(common::channel(dir.path(), &city.url()).await);
    let ask = |cameras: Vec<String>, classes: Vec<base::VehicleClass>| v1::SearchRequest {
        from_ms: started - 1000,
        to_ms: base::now_ms() + 1000,
        cameras,
        classes: classes.iter().map(|c| c.code()).collect(),
        limit: 10_000,
        cursor: String::new(),
    };
    let all = client
        .search(common::request(ask(vec![], vec![])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total, stats.recorded);
    let all: Vec<base::Sighting> = all
        .sightings
        .into_iter()
        .map(|s| s.try_into().unwrap())
        .collect();
    use base::VehicleClass::*;
    for s in &all {
        assert!(
            ["north-gate", "south-gate", "west-gate"].contains(&s.camera.as_str()),
            "unknown camera {s:?}"
        );
        assert!(
            [Car, Suv, Pickup, Van, Truck, Bus, Motorcycle, Bicycle].contains(&s.class),
            "{s:?}"
        );
        assert_eq!(s.key.origin, "edge-1");
        assert!(s.first_seen_ms <= s.pass_time_ms && s.pass_time_ms <= s.last_seen_ms);
        assert!(
            s.bbox.x2 <= 640.0 && s.bbox.y2 <= 272.0 && s.bbox.area() > 0.0,
            "{s:?}"
        );
    }
    let mut keys: Vec<_> = all.iter().map(|s| s.key.seq).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), all.len(), "a sighting arrived twice");

    // Crops stay at the edge; the city fetches one by reference through the county.
    assert!(
        all.iter()
            .all(|s| s.crop_ref.starts_with("xl://edge-1/crop/")),
        "every sighting has a best-shot crop: {:?}",
        all.iter().map(|s| &s.crop_ref).collect::<Vec<_>>()
    );
    // With the edge gone, an uncached crop cannot be fetched, and the answer says why.
    let uncached = all.iter().find(|s| s.crop_ref != crop_ref).unwrap();
    let gone = media
        .fetch_crop(fetch(&uncached.crop_ref))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::Unavailable, "{gone:?}");
    assert!(gone.message().contains("refused"), "{gone:?}");

    for cam in cams {
        let cars = client
            .search(common::request(ask(vec![cam.into()], vec![Car])))
            .await
            .unwrap()
            .into_inner();
        assert!(
            cars.total > 0,
            "no car sighting from {cam} reached the city"
        );
        for s in cars.sightings {
            let s: base::Sighting = s.try_into().unwrap();
            assert_eq!((s.camera.as_str(), s.class), (cam, Car));
        }
    }
    // A bad request is refused with a clear status, not an empty answer.
    let bad = client
        .search(common::request(v1::SearchRequest {
            from_ms: 10,
            to_ms: 5,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("time range"), "{}", bad.message());

    county.shutdown().await;
    city.shutdown().await;
    drop(server);
}
