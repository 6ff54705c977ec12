//! End to end over real RTSP on loopback: the real street clip served by [`CameraServer`],
//! pulled and decoded by camera supervisors over TCP, UDP and UDP-then-TCP, next to cameras
//! that are unreachable or frozen; and the stream health a camera reports while it plays
//! (recent fps against the declared one, bitrate, codec, camera clock skew from RTCP).
//!
//! Each test takes a few seconds of wall clock at most (the clip plays in real time; the health
//! test waits for the server's first RTCP sender report, up to ~10 s); together they run in
//! parallel well under the 30 s budget.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base::Frame;
use ingest::{
    spawn_camera, CameraEvent, CameraServer, CameraSpec, CameraState, ClipSpec, Transport,
};
use xueliang_ingest as ingest;

mod common;
use common::clip_path;

/// Waits for the first event matching `pred`, failing with everything seen so far.
fn wait_event(
    rx: &mpsc::Receiver<CameraEvent>,
    timeout: Duration,
    pred: impl Fn(&CameraEvent) -> bool,
) -> CameraEvent {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(e) => seen.push(e),
            Err(_) => break,
        }
    }
    panic!("no matching event within {timeout:?}; saw {seen:?}");
}

fn check_i420_layout(f: &Frame) {
    let [y, u, v] = f.planes;
    let (w, h) = (f.width as usize, f.height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    assert!(
        y.stride >= w && u.stride >= cw && v.stride >= cw,
        "{:?}",
        f.planes
    );
    assert!(u.offset >= y.offset + y.stride * h, "{:?}", f.planes);
    assert!(v.offset >= u.offset + u.stride * ch, "{:?}", f.planes);
    assert!(f.data.len() >= v.offset + v.stride * (ch - 1) + cw);
    assert!(f.data.len() >= w * h + 2 * cw * ch);
}

#[test]
fn serves_real_clip_and_survives_bad_neighbour_and_server_death() {
    let server = CameraServer::start(&[ClipSpec::new("bikes", clip_path())], 0).unwrap();
    assert_ne!(server.port(), 0);
    let url = server.url("bikes");
    assert_eq!(url, format!("rtsp://127.0.0.1:{}/bikes", server.port()));

    // A camera nobody answers for, running at the same time as the good one.
    let mut bad = CameraSpec::new("gate-3", "rtsp://user:pw@127.0.0.1:1/none").unwrap();
    bad.backoff_initial = Duration::from_millis(100);
    bad.backoff_max = Duration::from_millis(400);
    let (bad_tx, bad_rx) = mpsc::channel();
    let bad = spawn_camera(
        bad,
        |_| {},
        move |e| {
            let _ = bad_tx.send(e);
        },
    );

    let mut good = CameraSpec::new("gate-1", &url).unwrap();
    good.backoff_initial = Duration::from_millis(200);
    let (ev_tx, ev_rx) = mpsc::channel();
    let (frame_tx, frame_rx) = mpsc::channel();
    let good = spawn_camera(
        good,
        move |f| {
            let _ = frame_tx.send((Instant::now(), f));
        },
        move |e| {
            let _ = ev_tx.send(e);
        },
    );

    let online = wait_event(&ev_rx, Duration::from_secs(10), |e| {
        matches!(e, CameraEvent::Online { .. })
    });
    let CameraEvent::Online { camera, info } = online else {
        unreachable!()
    };
    assert_eq!(&*camera, "gate-1");
    assert_eq!((info.width, info.height), (640, 272));
    assert_eq!(info.codec.as_deref(), Some("H.264"));

    // Collect 2.5 s of live frames.
    let (t0, first) = frame_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let mut frames = vec![first];
    let mut last_at = t0;
    while t0.elapsed() < Duration::from_millis(2500) {
        if let Ok((at, f)) = frame_rx.recv_timeout(Duration::from_millis(500)) {
            frames.push(f);
            last_at = at;
        }
    }
    for f in &frames {
        assert_eq!((f.width, f.height), (640, 272));
        assert_eq!(&*f.camera, "gate-1");
        check_i420_layout(f);
    }
    assert!(frames.windows(2).all(|w| w[0].seq < w[1].seq));
    // Real time: the clip is 25 fps, served paced by the server, not as a burst.
    let span = (last_at - t0).as_secs_f64();
    let fps = (frames.len() - 1) as f64 / span;
    assert!(
        frames.len() >= 20,
        "only {} frames in {span:.1} s",
        frames.len()
    );
    assert!((12.0..40.0).contains(&fps), "{fps:.1} fps over {span:.1} s");
    // Real footage, not a blank picture: luma varies down the middle column.
    let f = frames.last().unwrap();
    let lumas: Vec<u8> = (0..272).step_by(8).map(|y| f.y_at(320, y)).collect();
    assert!(
        lumas.iter().max().unwrap() - lumas.iter().min().unwrap() > 30,
        "{lumas:?}"
    );
    let stats = good.stats().snapshot();
    assert_eq!(stats.state, CameraState::Online);
    assert!(stats.bytes_received > 10_000, "{stats:?}");
    assert!(stats.frames_decoded >= stats.frames_delivered);

    // Meanwhile the unreachable camera kept failing on its own, with a safe reason.
    let offline = wait_event(&bad_rx, Duration::from_secs(5), |e| {
        matches!(e, CameraEvent::Offline { .. })
    });
    let CameraEvent::Offline {
        reason, retry_in, ..
    } = offline
    else {
        unreachable!()
    };
    assert!(reason.contains("camera gate-3"), "{reason}");
    assert!(
        reason.contains("rtsp://user:***@127.0.0.1:1/none"),
        "{reason}"
    );
    assert!(reason.contains("cannot connect"), "{reason}");
    assert!(!reason.contains("pw"), "{reason}");
    assert!(!reason.contains('\n'), "{reason}");
    assert!(retry_in.is_some());
    assert!(
        bad.stats().reconnects() >= 1,
        "{:?}",
        bad.stats().snapshot()
    );
    assert_eq!(bad.stats().frames_decoded(), 0);

    // Kill the server: the good camera notices (EOS or error) and goes offline to retry.
    drop(server);
    let offline = wait_event(&ev_rx, Duration::from_secs(8), |e| {
        matches!(e, CameraEvent::Offline { .. })
    });
    let CameraEvent::Offline { reason, .. } = offline else {
        unreachable!()
    };
    assert!(reason.contains("camera gate-1"), "{reason}");
    let t = Instant::now();
    good.stop();
    bad.stop();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        t.elapsed()
    );
}

#[test]
fn frozen_server_trips_the_watchdog() {
    // Accepts TCP (the kernel backlog does) and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut spec = CameraSpec::new("frozen", &format!("rtsp://127.0.0.1:{port}/x")).unwrap();
    spec.watchdog = Duration::from_secs(1);
    spec.options.tcp_timeout = Duration::from_secs(30);
    let (tx, rx) = mpsc::channel();
    let handle = spawn_camera(
        spec,
        |_| {},
        move |e| {
            let _ = tx.send(e);
        },
    );
    let offline = wait_event(&rx, Duration::from_secs(5), |e| {
        matches!(e, CameraEvent::Offline { .. })
    });
    let CameraEvent::Offline { reason, .. } = offline else {
        unreachable!()
    };
    assert!(
        reason.contains("camera frozen") && reason.contains("no frames"),
        "{reason}"
    );
    handle.stop();
    drop(listener);
}

#[test]
fn health_reports_recent_fps_bitrate_codec_and_camera_clock() {
    let server = CameraServer::start(&[ClipSpec::new("bikes", clip_path())], 0).unwrap();
    let spec = CameraSpec::new("health", &server.url("bikes")).unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = spawn_camera(
        spec,
        |_| {},
        move |e| {
            let _ = tx.send(e);
        },
    );
    wait_event(&rx, Duration::from_secs(10), |e| {
        matches!(e, CameraEvent::Online { .. })
    });
    let online_at = Instant::now();
    let info = handle.stream_info().expect("stream info once online");
    assert_eq!(info.codec.as_deref(), Some("H.264"));
    assert_eq!((info.width, info.height), (640, 272));

    // The camera clock arrives with the server's first RTCP sender report (a few seconds in);
    // by then the rate window holds a couple of seconds of frames too.
    let deadline = Instant::now() + Duration::from_secs(12);
    let snap = loop {
        let snap = handle.stats().snapshot();
        if snap.clock_skew_ms.is_some() && online_at.elapsed() >= Duration::from_secs(2) {
            break snap;
        }
        assert!(
            Instant::now() < deadline,
            "no camera clock within 12 s: {snap:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("health after {:?} online: {snap:?}", online_at.elapsed());
    assert_eq!(snap.state, CameraState::Online);
    assert_eq!(snap.expected_fps, Some(25.0), "{snap:?}");
    let fps = snap.fps.expect("measured fps");
    assert!((12.0..40.0).contains(&fps), "{snap:?}");
    let kbps = snap.bitrate_kbps.expect("measured bitrate");
    assert!((20.0..50_000.0).contains(&kbps), "{snap:?}");
    assert!(snap.last_frame_age_ms.unwrap() < 2000, "{snap:?}");
    // Server and client share this machine's clock: the skew is only the pipeline latency.
    let skew = snap.clock_skew_ms.unwrap();
    assert!(skew.abs() < 3000, "{snap:?}");
    handle.stop();
}

#[test]
fn udp_and_auto_transports_pull_frames() {
    let server = CameraServer::start(
        &[
            ClipSpec::new("a", clip_path()),
            ClipSpec::new("b", clip_path()),
        ],
        0,
    )
    .unwrap();
    let mut handles = Vec::new();
    for (mount, transport) in [("a", Transport::Udp), ("b", Transport::Auto)] {
        let mut spec = CameraSpec::new(transport.name(), &server.url(mount)).unwrap();
        spec.options.transport = transport;
        let (tx, rx) = mpsc::channel();
        let handle = spawn_camera(
            spec,
            move |f: Frame| {
                let _ = tx.send(f);
            },
            |_| {},
        );
        handles.push((transport, handle, rx));
    }
    for (transport, handle, rx) in handles {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut frames = 0;
        while frames < 25 && Instant::now() < deadline {
            if let Ok(f) = rx.recv_timeout(Duration::from_millis(200)) {
                assert_eq!((f.width, f.height), (640, 272));
                frames += 1;
            }
        }
        let snap = handle.stats().snapshot();
        assert_eq!(frames, 25, "{transport}: {snap:?}");
        assert_eq!(snap.state, CameraState::Online, "{transport}");
        assert_eq!(snap.reconnects, 0, "{transport}: {snap:?}");
        assert!(snap.bytes_received > 10_000, "{transport}: {snap:?}");
        handle.stop();
    }
}

#[test]
fn missing_clip_is_a_clear_error() {
    let e = CameraServer::start(&[ClipSpec::new("cam", "/nonexistent/clip.mp4")], 0).unwrap_err();
    assert_eq!(e.to_string(), "clip /nonexistent/clip.mp4: no such file");
    assert_eq!(e.kind(), ingest::ErrorKind::NotFound);
}
