//! The `xueliang` binary's answers to bad input: one line on stderr naming the culprit, exit 1.

use std::process::Command;

mod common;

fn xueliang(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xueliang"))
        .args(args)
        .env("RUST_LOG", "off")
        .env_remove("XUELIANG_TOKEN")
        .env_remove("XUELIANG_CA")
        .env_remove("XUELIANG_SERVER")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_line_error(stderr: &str) -> &str {
    let line = stderr.trim_end();
    assert!(!line.contains('\n'), "more than one line: {stderr}");
    assert!(line.starts_with("error: "), "{stderr}");
    line
}

#[test]
fn malformed_config_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(
        &path,
        "[edge]\nnode = \"e1\"\nupstream = \"http://127.0.0.1:1\"\ncamras = []\n",
    )
    .unwrap();
    let (code, _, err) = xueliang(&["edge", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let line = one_line_error(&err);
    assert!(
        line.contains("edge.toml") && line.contains("line 4") && line.contains("camras"),
        "{line}"
    );
}

#[test]
fn missing_config_file_is_named() {
    let (code, _, err) = xueliang(&["platform", "--config", "/nonexistent/city.toml"]);
    assert_eq!(code, 1);
    assert!(
        one_line_error(&err).contains("/nonexistent/city.toml"),
        "{err}"
    );
}

#[test]
fn missing_model_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(
        &path,
        "[edge]\nnode = \"e1\"\nupstream = \"http://127.0.0.1:1\"\n\
         database = \"DIR/e.sqlite\"\n\
         [edge.detector]\nmodel = \"/nonexistent/detector.onnx\"\n\
         [[edge.camera]]\nid = \"a\"\nurl = \"rtsp://127.0.0.1:1/a\"\n"
            .replace("DIR", dir.path().to_str().unwrap()),
    )
    .unwrap();
    let (code, _, err) = xueliang(&["edge", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let line = one_line_error(&err);
    assert!(line.contains("/nonexistent/detector.onnx"), "{line}");
    assert!(line.contains("setup"), "should say how to fix it: {line}");
}

#[test]
fn bad_search_arguments_are_explained() {
    let (code, _, err) = xueliang(&["search", "--class", "plane"]);
    assert_eq!(code, 2, "usage error");
    assert!(err.contains("plane") && err.contains("car"), "{err}");
    let (code, _, err) = xueliang(&["search", "--from", "yesterday-ish"]);
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("--from"), "{err}");
}

#[test]
fn help_lists_the_subcommands() {
    let (code, out, _) = xueliang(&["--help"]);
    assert_eq!(code, 0);
    for sub in [
        "demo", "edge", "platform", "search", "camera", "bench", "certs", "token",
    ] {
        assert!(out.contains(sub), "{out}");
    }
}

/// `xueliang search` against a real platform over gRPC: filters by class and camera, prints a
/// table or one JSON object per line.
#[test]
fn search_prints_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let city = rt.block_on(common::platform("city", dir.path(), None));
    let now = base::now_ms();
    let sighting = |camera: &str, class, dt: i64| base::Sighting {
        camera: camera.into(),
        device_id: camera.into(),
        pass_time_ms: now - dt,
        first_seen_ms: now - dt - 500,
        last_seen_ms: now - dt + 500,
        class,
        class_confidence: 0.8,
        frames: 7,
        ..Default::default()
    };
    use base::VehicleClass::{Bus, Car};
    city.store()
        .record(
            "edge-9",
            vec![
                sighting("gate-east", Car, 60_000),
                sighting("gate-east", Bus, 50_000),
                sighting("bridge", Car, 40_000),
                sighting("gate-east", Car, 7_200_000), // two hours ago: outside -1h
            ],
        )
        .unwrap();
    let url = city.url();
    let auth = common::cli_auth(dir.path());
    let with_auth = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(auth.iter().map(String::as_str));
        xueliang(&all)
    };
    let (code, out, err) = with_auth(&["search", "--server", &url, "--class", "car", "--json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<base::Sighting> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows.iter().all(|s| s.class == Car));
    assert_eq!(rows[0].camera, "bridge", "newest first");

    let (code, out, err) = with_auth(&[
        "search",
        "--server",
        &url,
        "--camera",
        "gate-east",
        "--from",
        "-90m",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("pass time") && out.contains("gate-east"),
        "{out}"
    );
    assert!(out.contains("bus") && !out.contains("bridge"), "{out}");
    assert!(out.contains("2 of 2 matching"), "{out}");

    let (code, _, err) = xueliang(&["search", "--server", "http://127.0.0.1:1"]);
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("127.0.0.1:1"), "{err}");

    // A reader that goes away early (`| head`) ends the command quietly, without a panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_xueliang"))
        .args(["search", "--server", &url])
        .args(&auth)
        .env("RUST_LOG", "off")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");

    // Without the CA an https:// server is not even tried; without a token it refuses.
    let (code, _, err) = xueliang(&["search", "--server", &url]);
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("--ca"), "{err}");
    let ca = dir.path().join("pki/ca.pem").display().to_string();
    let (code, _, err) = xueliang(&["search", "--server", &url, "--ca", &ca]);
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("--token"), "{err}");
    // A wrong token is refused and never echoed back.
    let (code, _, err) = xueliang(&[
        "search",
        "--server",
        &url,
        "--ca",
        &ca,
        "--token",
        "xl_wrong-secret",
    ]);
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("not valid"), "{err}");
    assert!(!err.contains("wrong-secret"), "{err}");
    rt.block_on(city.shutdown());
}

/// `xueliang analyze` over the real clip: the vehicle path (detector, tracker, classifier,
/// colour, crops) into a local store, with video time from `--start`.
/// The investigators' operations from the command line: a plate's trajectory as a table that
/// ends with the coverage (a camera that went offline is named), `together` over two
/// scene windows, and `find` by plate pattern as JSON lines ending with the coverage.
#[test]
fn search_operations_print_answers_and_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let city = rt.block_on(common::platform("city", dir.path(), None));
    let now = base::now_ms();
    let seen = |camera: &str, plate: &str, dt: i64| base::Sighting {
        camera: camera.into(),
        device_id: camera.into(),
        pass_time_ms: now - dt,
        first_seen_ms: now - dt - 500,
        last_seen_ms: now - dt + 500,
        class: base::VehicleClass::Car,
        plate: base::PlateRead {
            state: base::PlateState::Read,
            text: Some(plate.into()),
            confidence: 0.9,
            ..Default::default()
        },
        ..Default::default()
    };
    city.store()
        .record(
            "edge-9",
            vec![
                seen("gate-east", "晋M12345", 3_000_000),
                seen("bridge", "晋M12345", 1_200_000),
                seen("gate-east", "晋MA0001", 3_010_000),
            ],
        )
        .unwrap();
    // The gate camera went offline 40 minutes ago.
    let health = |camera: &str, state, since_ms| base::CameraHealth {
        camera: camera.into(),
        state,
        since_ms,
        reason: "connection refused".into(),
        ..Default::default()
    };
    city.store()
        .record_health(&base::HealthReport {
            node: "edge-9".into(),
            county: String::new(),
            at_ms: now - 1000,
            cameras: vec![
                health("gate-east", base::CameraState::Offline, now - 2_400_000),
                health("bridge", base::CameraState::Online, now - 2 * 86_400_000),
            ],
        })
        .unwrap();
    let url = city.url();
    let auth = common::cli_auth(dir.path());
    let with_auth = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &url]);
        all.extend(auth.iter().map(String::as_str));
        xueliang(&all)
    };
    let (code, out, err) = with_auth(&["search", "trajectory", "--plate", "晋M12345"]);
    assert_eq!(code, 0, "{err}");
    let gate = out.find("gate-east").expect(&out);
    let bridge = out.find("bridge").expect(&out);
    assert!(gate < bridge, "oldest first: {out}");
    assert!(out.contains("2 stops"), "{out}");
    assert!(
        out.contains("cameras offline or degraded during the window")
            && out.lines().any(|l| l.contains("gate-east")
                && l.contains("offline")
                && l.contains("connection refused")),
        "{out}"
    );

    let from = |dt: i64| (now - dt).to_string();
    let w1 = format!("gate-east@{}..{}", from(3_100_000), from(2_900_000));
    let w2 = format!("bridge@{}..{}", from(1_300_000), from(1_100_000));
    let (code, out, err) = with_auth(&["search", "together", "--window", &w1, "--window", &w2]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("晋M12345") && !out.contains("晋MA0001"),
        "{out}"
    );
    assert!(out.contains("1 vehicles"), "{out}");

    let (code, out, err) = with_auth(&["search", "find", "--plate", "晋MA*", "--json"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["plate"]["text"], "晋MA0001");
    assert!(lines[1]["coverage"]["gaps"].is_array(), "{out}");

    let (code, _, err) = with_auth(&["search", "find", "--region", "harbour"]);
    assert_eq!(code, 1);
    assert!(
        one_line_error(&err).contains("unknown region \"harbour\""),
        "{err}"
    );
    rt.block_on(city.shutdown());
}

#[test]
fn analyze_finds_vehicles_in_a_recording() {
    let clip = common::clip();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("case.sqlite");
    let start = "2026-11-20T22:10:00+08:00";
    let (code, out, err) = xueliang(&[
        "analyze",
        clip.to_str().unwrap(),
        "--database",
        db.to_str().unwrap(),
        "--start",
        start,
        "--camera",
        "dvr-7",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<base::Sighting> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let t0 = 1_795_183_800_000; // 2026-11-20 22:10 +08:00
    assert!(
        rows.iter().any(|s| s.class == base::VehicleClass::Car),
        "{out}"
    );
    for s in &rows {
        assert_eq!(s.camera, "dvr-7");
        assert!(
            s.pass_time_ms >= t0 && s.pass_time_ms <= t0 + 11_000,
            "{s:?}"
        );
        assert!(s.crop_ref.starts_with("xl://analyze/crop/"), "{s:?}");
        assert!(s.embedding.is_some());
    }
    let store = store::Store::open(&db).unwrap();
    assert_eq!(store.stats().unwrap().sightings as usize, rows.len());
    assert!(err.contains("vehicles"), "progress on stderr: {err}");

    let (code, _, err) = xueliang(&["analyze", "/no/such/video.mp4"]);
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("/no/such/video.mp4"), "{err}");
}

/// A car at `gate-east` with a read plate, seen at `t`.
fn read_car(plate: &str, t: i64) -> base::Sighting {
    base::Sighting {
        camera: "gate-east".into(),
        device_id: "gate-east".into(),
        pass_time_ms: t,
        first_seen_ms: t,
        last_seen_ms: t,
        class: base::VehicleClass::Car,
        plate: base::PlateRead {
            state: base::PlateState::Read,
            text: Some(plate.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The output of an alert-printing command run with `--count 1`. Bounded: a command that never
/// alerts fails the test instead of hanging it.
fn alert_within_30_s(mut child: std::process::Child) -> std::process::Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("no alert within 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `xueliang search watch`: a standing question prints the matching sighting when it reaches
/// the platform through the real uplink, and nothing for the others.
#[test]
fn search_watch_prints_alerts_as_sightings_arrive() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let city = rt.block_on(common::platform("city", dir.path(), None));
    let url = city.url();
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_xueliang"))
        .args([
            "search", "watch", "--plate", "晋M*23*", "--name", "suspect", "--count", "1",
        ])
        .args(["--json", "--server", &url])
        .args(common::cli_auth(dir.path()))
        .env("RUST_LOG", "off")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is watching, so the sightings below are not sent before.
    let mut stderr = BufReader::new(watcher.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("watching"), "{line}");

    let edge = std::sync::Arc::new(store::Store::open_in_memory().unwrap());
    let t = base::now_ms() - 60_000;
    let car = |plate: &str, dt: i64| read_car(plate, t + dt);
    edge.record("edge-9", vec![car("晋MB4545", 0), car("晋MA2345", 1)])
        .unwrap();
    let mut up = uplink::ForwarderConfig::new("edge-9", url.clone());
    up.tls = Some(common::tls(dir.path(), "edge-9").client().unwrap());
    let fwd = uplink::Forwarder::new(up, edge, std::sync::Arc::new(tokio::sync::Notify::new()));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = rt.spawn(fwd.run(shutdown));

    let out = alert_within_30_s(watcher);
    assert!(out.status.success(), "{out:?}");
    let alert: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(alert["rule"], "suspect");
    assert_eq!(alert["sighting"]["plate"]["text"], "晋MA2345");
    stop.send(true).unwrap();
    rt.block_on(task).unwrap();
    rt.block_on(city.shutdown());
}

/// `xueliang search watchlist` and `alerts`: a watchlist kept at the platform alerts on a
/// matching sighting committed while nobody listens; `alerts` prints it with its id and where
/// to resume, `--after` resumes, `watchlist list` counts it, `rm` removes it, and bad names
/// are one-line errors.
#[test]
fn search_watchlists_keep_alerts_for_later_readers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let city = rt.block_on(common::platform("city", dir.path(), None));
    let url = city.url();
    let auth = common::cli_auth(dir.path());
    let with_auth = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &url]);
        all.extend(auth.iter().map(String::as_str));
        xueliang(&all)
    };
    let (code, out, err) = with_auth(&[
        "search",
        "watchlist",
        "add",
        "stolen 23",
        "--plate",
        "晋M*23*",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"stolen 23\""), "{out}");
    let (code, _, err) = with_auth(&["search", "watchlist", "add", "stolen 23"]);
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("exists already"), "{err}");

    let t = base::now_ms() - 60_000;
    let car = |plate: &str, dt: i64| read_car(plate, t + dt);
    city.store()
        .record("edge-9", vec![car("晋MB4545", 0), car("晋MA2345", 1)])
        .unwrap();

    let (code, out, err) = with_auth(&["search", "alerts"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("#1 ") && lines[0].contains("晋MA2345"),
        "{out}"
    );
    assert!(lines[0].contains("stolen 23"), "{out}");
    assert!(err.contains("next: --after 1"), "{err}");
    let (code, out, _) = with_auth(&["search", "alerts", "--after", "1", "--json"]);
    assert_eq!((code, out.as_str()), (0, ""));

    // A follower resuming after alert 1 prints the next one as it is raised.
    let mut follower = Command::new(env!("CARGO_BIN_EXE_xueliang"))
        .args([
            "search", "alerts", "--follow", "--after", "1", "--count", "1", "--json",
        ])
        .args(["--server", &url])
        .args(&auth)
        .env("RUST_LOG", "off")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::{BufRead, BufReader};
        let mut line = String::new();
        BufReader::new(follower.stderr.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("following"), "{line}");
    }
    city.store()
        .record("edge-9", vec![car("晋MC2377", 2)])
        .unwrap();
    let out = alert_within_30_s(follower);
    assert!(out.status.success(), "{out:?}");
    let alert: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(
        (alert["id"].as_u64(), alert["rule"].as_str()),
        (Some(2), Some("stolen 23"))
    );
    assert_eq!(alert["sighting"]["plate"]["text"], "晋MC2377");

    let (code, out, err) = with_auth(&["search", "watchlist", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("stolen 23") && out.contains("plate 晋M*23*") && out.contains("1 watchlists"),
        "{out}"
    );
    let (code, _, err) = with_auth(&["search", "alerts", "--watchlist", "stolen 32"]);
    assert_eq!(code, 1);
    assert!(
        one_line_error(&err).contains("no watchlist named \"stolen 32\""),
        "{err}"
    );
    let (code, _, err) = with_auth(&["search", "watchlist", "rm", "stolen 23"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = with_auth(&["search", "watchlist", "rm", "stolen 23"]);
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("no watchlist named"), "{err}");
    rt.block_on(city.shutdown());
}

/// A platform holding known cases, minutes before now: 晋A00001 at gate-east then bridge with
/// 晋B00002 20–30 s behind it both times; 晋E00005 new at gate-east 10 minutes ago while
/// 晋F00006 was there 15 and 50 minutes ago; 晋K00008 at gate-east and, 2 minutes later, at
/// bridge 22 km away; a plateless SUV (the probe) at bridge, one that looks like it and one
/// that does not at gate-east. Returns the platform, its runtime, its flags for the CLI
/// (`--server`, `--ca`, `--token`) and the recorded sightings by name.
struct Cases {
    rt: tokio::runtime::Runtime,
    city: platform::Platform,
    flags: Vec<String>,
    seen: std::collections::HashMap<&'static str, base::Sighting>,
}

impl Cases {
    fn new(dir: &std::path::Path) -> Cases {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let city = rt.block_on(common::platform("city", dir, None));
        let now = base::now_ms();
        let min = |m: f64| now - (m * 60_000.0) as i64;
        let plated = |camera: &str, plate: &str, t: i64| base::Sighting {
            camera: camera.into(),
            device_id: camera.into(),
            pass_time_ms: t,
            first_seen_ms: t - 500,
            last_seen_ms: t + 500,
            class: base::VehicleClass::Car,
            plate: base::PlateRead {
                state: base::PlateState::Read,
                text: Some(plate.into()),
                confidence: 0.9,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut probe = [0i8; base::Embedding::DIM];
        for (i, x) in probe.iter_mut().enumerate() {
            *x = ((i * 37 % 200) as i32 - 100) as i8;
        }
        let (mut near, mut far) = (probe, probe);
        for i in (0..base::Embedding::DIM).step_by(10) {
            near[i] += 3; // cosine ≈ 0.9999
        }
        for x in &mut far[base::Embedding::DIM / 2..] {
            *x = -*x; // cosine ≈ 0
        }
        let suv = |camera: &str, t: i64, e| base::Sighting {
            class: base::VehicleClass::Suv,
            color: base::VehicleColor::White,
            plate: base::PlateRead {
                state: base::PlateState::Covered,
                ..Default::default()
            },
            embedding: Some(base::Embedding::from_components(e)),
            ..plated(camera, "", t)
        };
        let named: Vec<(&'static str, base::Sighting)> = vec![
            ("A@gate", plated("gate-east", "晋A00001", min(50.0))),
            (
                "B@gate",
                plated("gate-east", "晋B00002", min(50.0) + 20_000),
            ),
            ("F@gate-before", plated("gate-east", "晋F00006", min(49.0))),
            ("probe", suv("bridge", min(40.0), probe)),
            ("near", suv("gate-east", min(35.0), near)),
            ("far", suv("gate-east", min(34.0), far)),
            ("A@bridge", plated("bridge", "晋A00001", min(30.0))),
            ("B@bridge", plated("bridge", "晋B00002", min(30.0) + 30_000)),
            ("F@gate", plated("gate-east", "晋F00006", min(15.0))),
            ("E@gate", plated("gate-east", "晋E00005", min(10.0))),
            ("K@gate", plated("gate-east", "晋K00008", min(8.0))),
            ("K@bridge", plated("bridge", "晋K00008", min(6.0))),
        ];
        let recorded = city
            .store()
            .record("edge-9", named.iter().map(|(_, s)| s.clone()).collect())
            .unwrap();
        city.store()
            .put_cameras_geo(&[
                store::CameraGeo {
                    camera: "gate-east".into(),
                    county: "盐湖区".into(),
                    lat: 35.1,
                    lon: 111.0,
                },
                store::CameraGeo {
                    camera: "bridge".into(),
                    county: "临猗县".into(),
                    lat: 34.9,
                    lon: 111.0,
                },
            ])
            .unwrap();
        // Both cameras online for two days: every coverage is complete.
        let online = |camera: &str| base::CameraHealth {
            camera: camera.into(),
            state: base::CameraState::Online,
            since_ms: now - 2 * 86_400_000,
            ..Default::default()
        };
        city.store()
            .record_health(&base::HealthReport {
                node: "edge-9".into(),
                county: String::new(),
                at_ms: now - 1000,
                cameras: vec![online("gate-east"), online("bridge")],
            })
            .unwrap();
        let mut flags = vec!["--server".to_owned(), city.url()];
        flags.extend(common::cli_auth(dir));
        Cases {
            rt,
            city,
            flags,
            seen: named.iter().map(|(n, _)| *n).zip(recorded).collect(),
        }
    }

    /// `xueliang <args> <flags>`, which must succeed: its stdout.
    fn run(&self, args: &[&str]) -> String {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(self.flags.iter().map(String::as_str));
        let (code, out, err) = xueliang(&all);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    }

    fn key(&self, name: &str) -> String {
        self.seen[name].key.to_string()
    }

    fn stop(self) {
        self.rt.block_on(self.city.shutdown());
    }
}

#[test]
fn search_companions_prints_the_vehicle_that_travelled_along() {
    let dir = tempfile::tempdir().unwrap();
    let cases = Cases::new(dir.path());
    let out = cases.run(&["search", "companions", "--plate", "晋A00001"]);
    let row = out
        .lines()
        .find(|l| l.contains("晋B00002"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "晋B00002",
            "2",
            "2",
            &cases.key("B@gate"),
            &cases.key("B@bridge")
        ],
        "{out}"
    );
    assert!(out.contains("1 companions"), "{out}");
    assert!(
        !out.contains("晋F00006"),
        "once, a minute apart, is not together: {out}"
    );
    assert!(out.contains("coverage: 2 cameras, none offline"), "{out}");
    cases.stop();
}

#[test]
fn search_first_entry_prints_plates_new_to_the_scope() {
    let dir = tempfile::tempdir().unwrap();
    let cases = Cases::new(dir.path());
    let out = cases.run(&[
        "search",
        "first-entry",
        "--camera",
        "gate-east",
        "--from",
        "-20m",
        "--lookback",
        "1h",
    ]);
    let row = out
        .lines()
        .find(|l| l.contains("晋E00005"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("gate-east") && row.ends_with(&cases.key("E@gate")),
        "{out}"
    );
    // 晋F00006 was there 49 minutes ago; 晋K00008 (8 minutes ago) is new too.
    assert!(!out.contains("晋F00006"), "{out}");
    assert!(
        out.contains("晋K00008") && out.contains("2 first entries"),
        "{out}"
    );
    // With a lookback that does not reach back 49 minutes, 晋F00006 is new as well.
    let out = cases.run(&[
        "search",
        "first-entry",
        "--camera",
        "gate-east",
        "--from",
        "-20m",
        "--lookback",
        "20m",
    ]);
    assert!(
        out.contains("晋F00006") && out.contains("3 first entries"),
        "{out}"
    );
    cases.stop();
}

#[test]
fn search_clones_prints_the_plate_seen_too_far_too_fast() {
    let dir = tempfile::tempdir().unwrap();
    let cases = Cases::new(dir.path());
    let out = cases.run(&["search", "clones", "--from", "-1h"]);
    assert!(out.contains("晋K00008  (2 sightings)"), "{out}");
    let evidence = out
        .lines()
        .find(|l| l.contains("speed:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        evidence.contains("gate-east → bridge 22.2 km in 120 s")
            && evidence.contains(&format!(
                "({} → {})",
                cases.key("K@gate"),
                cases.key("K@bridge")
            )),
        "{out}"
    );
    // 晋A00001 took 20 minutes for the same 22 km: not a suspect.
    assert!(
        !out.contains("晋A00001") && out.contains("1 suspect plates"),
        "{out}"
    );
    cases.stop();
}

#[test]
fn search_similar_prints_the_look_alike_first() {
    let dir = tempfile::tempdir().unwrap();
    let cases = Cases::new(dir.path());
    let out = cases.run(&["search", "similar", "--sighting", &cases.key("probe")]);
    let rows: Vec<&str> = out.lines().filter(|l| l.contains("suv")).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows[0].trim_start().starts_with("1.000") && rows[0].ends_with(&cases.key("near")),
        "{out}"
    );
    assert!(rows[1].ends_with(&cases.key("far")), "{out}");
    assert!(
        !out.contains(&format!(" {}\n", cases.key("probe"))),
        "the probe is not its own match: {out}"
    );
    assert!(out.contains("2 similar sightings"), "{out}");
    cases.stop();
}

/// `xueliang search find` pages: each page but the last prints the cursor of the next, in the
/// table and in the JSON trailer, and `--cursor` continues there: no sighting twice, none lost.
#[test]
fn search_find_pages_with_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let cases = Cases::new(dir.path());
    let ask = ["search", "find", "--camera", "gate-east", "--limit", "3"];
    let page_keys = |json: &str| -> (Vec<String>, serde_json::Value) {
        let mut lines: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let trailer = lines.pop().unwrap();
        assert!(trailer["coverage"].is_object(), "{json}");
        let keys = lines
            .iter()
            .map(|s| {
                serde_json::from_value::<base::Sighting>(s.clone())
                    .unwrap()
                    .key
                    .to_string()
            })
            .collect();
        (keys, trailer["next_cursor"].clone())
    };

    // Page 1 as a table: it ends with the way to the next page.
    let out = cases.run(&ask);
    assert!(out.contains("3 of 8 matching sightings"), "{out}");
    let last = out.lines().last().unwrap();
    let cursor = last
        .strip_prefix("next page: --cursor ")
        .unwrap_or_else(|| panic!("{out}"));
    let mut seen: Vec<String> = out
        .lines()
        .filter(|l| l.contains("gate-east"))
        .map(|l| l.split_whitespace().last().unwrap().to_owned())
        .collect();
    let newest: Vec<String> = ["K@gate", "E@gate", "F@gate"]
        .iter()
        .map(|n| cases.key(n))
        .collect();
    assert_eq!(seen, newest, "newest first: {out}");

    // Page 2 as JSON, by that cursor; page 3 by the JSON's cursor, the last.
    let (page2, next) =
        page_keys(&cases.run(&[&ask[..], &["--cursor", cursor, "--json"]].concat()));
    assert_eq!(page2.len(), 3);
    let next = next.as_str().unwrap_or_else(|| panic!("{next}")).to_owned();
    let (page3, end) = page_keys(&cases.run(&[&ask[..], &["--cursor", &next, "--json"]].concat()));
    assert_eq!(page3.len(), 2);
    assert!(end.is_null(), "the last page has no next: {end}");
    seen.extend(page2);
    seen.extend(page3);
    let mut all: Vec<String> = cases
        .seen
        .values()
        .filter(|s| s.camera == "gate-east")
        .map(|s| s.key.to_string())
        .collect();
    let mut got = seen.clone();
    got.sort();
    all.sort();
    assert_eq!(got, all, "every sighting once: {seen:?}");

    // The last page as a table has no next page.
    let out = cases.run(&[&ask[..], &["--cursor", &next]].concat());
    assert!(!out.contains("next page"), "{out}");
    let (code, _, err) = xueliang(
        &[
            &ask[..],
            &["--cursor", "garbage"],
            &cases.flags.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ]
        .concat(),
    );
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("cursor"), "{err}");
    cases.stop();
}
