//! Camera chaos: the real `xueliang camera` binary serves the street clip over RTSP in its own
//! process, a camera supervisor in this process pulls it, and the test does to the server what
//! power cuts and hung firmware do to real cameras: SIGKILL and a restart on the same port,
//! SIGSTOP (frozen: the connection stays up, no bus message ever comes) and SIGCONT, each over
//! TCP and UDP. The supervisor has to notice by itself and come back by itself; the tests
//! check the order and timing of its [`CameraEvent`]s against the moments the server died and
//! came back, and its reconnect counter.
//!
//! Every wait has a generous deadline (no speed assertions, only "before this deadline" and
//! "not before the watchdog could have fired"); every server process is SIGKILLed by a drop
//! guard on every path; only 127.0.0.1 is used. Each test takes about 5–10 s; the measured
//! detection and recovery times are printed (`--nocapture`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ingest::{CameraEvent, CameraHandle, CameraSpec, CameraState, Transport};

/// One `xueliang camera` process; SIGKILLed and reaped when dropped.
struct Server {
    child: Child,
    port: u16,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the binary on `port` (0: a free one) and waits until it printed its URL.
    fn start(port: u16) -> Server {
        let clip = ingest::default_clip_path();
        assert!(
            clip.is_file(),
            "test clip {} is missing: run deploy/setup.sh (or set XUELIANG_HOME)",
            clip.display()
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_xueliang"))
            .args(["camera", "--name", "cam-1", "--port", &port.to_string()])
            .arg("--clip")
            .arg(&clip)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run the xueliang binary");
        let stdout = child.stdout.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        std::thread::spawn({
            let stderr = stderr.clone();
            let pipe = child.stderr.take().unwrap();
            move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = stderr.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let mut server = Server {
            child,
            port,
            url: String::new(),
            stderr,
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => server.url = url,
            Err(_) => panic!(
                "camera server on port {port} printed no URL within 20 s; stderr:\n{}",
                server.stderr.lock().unwrap()
            ),
        }
        let rest = server
            .url
            .strip_prefix("rtsp://127.0.0.1:")
            .expect(&server.url);
        server.port = rest.split('/').next().unwrap().parse().unwrap();
        assert!(port == 0 || server.port == port, "{}", server.url);
        assert!(server.url.ends_with("/cam-1"), "{}", server.url);
        server
    }

    /// Sends a signal with kill(1) (`-KILL`, `-STOP`, `-CONT`).
    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill {sig} failed");
    }

    /// SIGKILL, and wait until the process is gone (its sockets closed).
    fn kill(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every event of one camera with the moment it arrived.
struct Events {
    rx: mpsc::Receiver<(Instant, CameraEvent)>,
    seen: Vec<(Instant, CameraEvent)>,
}

impl Events {
    /// Waits for the next event matching `pred`, keeping everything seen; panics with the
    /// history after `timeout`.
    fn wait(&mut self, timeout: Duration, pred: impl Fn(&CameraEvent) -> bool) -> Instant {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok((at, e)) => {
                    let hit = pred(&e);
                    self.seen.push((at, e));
                    if hit {
                        return at;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no matching event within {timeout:?}; saw {:#?}", self.seen);
    }

    /// When the last `Connecting` before `before` was reported.
    fn last_connecting(&self, before: Instant) -> Instant {
        self.seen
            .iter()
            .rev()
            .find(|(at, e)| *at <= before && matches!(e, CameraEvent::Connecting { .. }))
            .map(|(at, _)| *at)
            .expect("a Connecting event")
    }

    /// Events seen in `[from, to)`, without their times.
    fn between(&self, from: Instant, to: Instant) -> Vec<&CameraEvent> {
        self.seen
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, e)| e)
            .collect()
    }
}

fn is_online(e: &CameraEvent) -> bool {
    matches!(e, CameraEvent::Online { .. })
}

fn is_offline(e: &CameraEvent) -> bool {
    matches!(e, CameraEvent::Offline { .. })
}

/// A supervised camera on `url` with short test timings.
fn pull(url: &str, transport: Transport, watchdog: Duration) -> (CameraHandle, Events) {
    let mut spec = CameraSpec::new("cam-1", url).unwrap();
    spec.options.transport = transport;
    spec.watchdog = watchdog;
    spec.backoff_initial = Duration::from_millis(200);
    spec.backoff_max = Duration::from_secs(1);
    let (tx, rx) = mpsc::channel();
    let handle = ingest::spawn_camera(
        spec,
        |_| {},
        move |e| {
            let _ = tx.send((Instant::now(), e));
        },
    );
    (
        handle,
        Events {
            rx,
            seen: Vec::new(),
        },
    )
}

/// Waits until the camera decoded `n` more frames.
fn frames_flow(handle: &CameraHandle, n: u64) {
    let start = handle.stats().frames_decoded();
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.stats().frames_decoded() < start + n {
        assert!(
            Instant::now() < deadline,
            "frames stopped: {:?}",
            handle.stats().snapshot()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Between going offline and coming back, the camera only retried: Offline, then
/// Connecting/Offline pairs with attempt numbers counting up by one, then Connecting, Online.
fn assert_retry_sequence(events: &[&CameraEvent]) {
    assert!(is_offline(events[0]), "{events:#?}");
    assert!(is_online(events[events.len() - 1]), "{events:#?}");
    let mut last_attempt = None;
    for pair in events[1..events.len() - 1].chunks(2) {
        let CameraEvent::Connecting { attempt, .. } = pair[0] else {
            panic!("expected Connecting, got {:?} in {events:#?}", pair[0]);
        };
        if let Some(last) = last_attempt {
            assert_eq!(*attempt, last + 1, "{events:#?}");
        }
        last_attempt = Some(*attempt);
        if let Some(second) = pair.get(1) {
            assert!(is_offline(second) || is_online(second), "{events:#?}");
        }
    }
}

/// Kill the server: offline after the kill (EOS or error), retries while it is gone, online by
/// itself after it restarts on the same port, with the reconnect counter up.
fn kill_and_restart(transport: Transport) {
    let watchdog = Duration::from_secs(3);
    let server = Server::start(0);
    let (port, url) = (server.port, server.url.clone());
    let (handle, mut events) = pull(&url, transport, watchdog);
    events.wait(Duration::from_secs(15), is_online);
    frames_flow(&handle, 10);
    let before = handle.stats().snapshot();
    assert_eq!(before.reconnects, 0, "{before:?}");

    let killed_at = Instant::now();
    server.kill();
    let offline_at = events.wait(watchdog + Duration::from_secs(10), is_offline);
    let detected = offline_at - killed_at;
    assert!(
        events
            .between(killed_at - Duration::from_secs(60), killed_at)
            .iter()
            .all(|e| !is_offline(e)),
        "offline before the kill: {:#?}",
        events.seen
    );
    // Stay down long enough for refused reconnects.
    std::thread::sleep(Duration::from_millis(1500));

    let restarting_at = Instant::now();
    let server = Server::start(port);
    let up_at = Instant::now();
    let online_at = events.wait(Duration::from_secs(20), is_online);
    assert!(
        online_at > up_at.min(restarting_at),
        "online before restart"
    );
    frames_flow(&handle, 10);
    let after = handle.stats().snapshot();
    assert_eq!(after.state, CameraState::Online, "{after:?}");
    assert!(after.reconnects >= 1, "{after:?}");
    assert!(after.frames_decoded > before.frames_decoded, "{after:?}");
    let outage = events.between(offline_at, online_at + Duration::from_nanos(1));
    assert_retry_sequence(&outage);
    eprintln!(
        "{transport}: kill detected in {detected:?}; server up -> first frame {:?} \
         (of which connect -> first frame {:?}; restart took {:?}); {} reconnects, \
         {} events in the outage",
        online_at.saturating_duration_since(up_at),
        online_at - events.last_connecting(online_at),
        up_at - restarting_at,
        after.reconnects,
        outage.len(),
    );
    let t = Instant::now();
    handle.stop();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        t.elapsed()
    );
    drop(server);
}

/// Freeze the server: no bus message at all, only the watchdog can tell; thaw it and the
/// camera comes back by itself.
fn freeze_and_thaw(transport: Transport) {
    let watchdog = Duration::from_secs(2);
    let server = Server::start(0);
    let (handle, mut events) = pull(&server.url, transport, watchdog);
    events.wait(Duration::from_secs(15), is_online);
    frames_flow(&handle, 10);

    let stopped_at = Instant::now();
    server.signal("-STOP");
    let offline_at = events.wait(watchdog + Duration::from_secs(10), is_offline);
    let detected = offline_at - stopped_at;
    // Nothing but the watchdog can have noticed, and it cannot fire before its time (frames
    // already on their way when the server froze still count).
    let reason = match &events.seen.last().unwrap().1 {
        CameraEvent::Offline { reason, .. } => reason.clone(),
        _ => unreachable!(),
    };
    assert!(reason.contains("no frames"), "{reason}");
    assert!(
        detected + Duration::from_millis(200) >= watchdog,
        "offline {detected:?} after the freeze, watchdog {watchdog:?}"
    );
    // Frozen through at least one more (hanging) attempt.
    std::thread::sleep(Duration::from_millis(1000));
    assert_ne!(handle.stats().state(), CameraState::Online);

    let thawed_at = Instant::now();
    server.signal("-CONT");
    let online_at = events.wait(Duration::from_secs(20), is_online);
    frames_flow(&handle, 10);
    let after = handle.stats().snapshot();
    assert!(after.reconnects >= 1, "{after:?}");
    assert_retry_sequence(&events.between(offline_at, online_at + Duration::from_nanos(1)));
    eprintln!(
        "{transport}: freeze detected in {detected:?} (watchdog {watchdog:?}); \
         thaw -> first frame {:?}; {} reconnects",
        online_at.saturating_duration_since(thawed_at),
        after.reconnects,
    );
    handle.stop();
    drop(server);
}

#[test]
fn tcp_camera_survives_server_kill_and_restart() {
    kill_and_restart(Transport::Tcp);
}

#[test]
fn tcp_camera_survives_frozen_server() {
    freeze_and_thaw(Transport::Tcp);
}

#[test]
fn udp_camera_pulls_frames_and_survives_server_kill_and_restart() {
    kill_and_restart(Transport::Udp);
}

#[test]
fn udp_camera_survives_frozen_server() {
    freeze_and_thaw(Transport::Udp);
}
