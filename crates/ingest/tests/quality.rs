//! Video quality diagnosis on real video: the real street clip raises nothing, and every fault
//! pattern the simulated camera server can show, pulled over real RTSP on loopback and
//! decoded, raises the diagnosis it stands for and nothing it does not explain.
//!
//! The clip is an edited montage of street shots, a hard case for a monitor that compares a
//! camera with its own reference views. Replays use the frames' own timestamps (25 fps), so
//! minutes of video take a second or two; the RTSP test serves all patterns at once and pulls
//! them in parallel for a few seconds of wall clock.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use base::Frame;
use ingest::{
    CameraServer, CameraStats, ClipSpec, Codec, FrameSource, Pattern, Pulled, QualityConfig,
    QualityEvent, QualityKind, QualityMonitor, Source, SourceOptions,
};
use xueliang_ingest as ingest;

mod common;
use common::clip_path;

/// Every frame of the clip (10 s, 640x272), decoded once per test binary.
fn clip_frames() -> &'static [Frame] {
    static FRAMES: OnceLock<Vec<Frame>> = OnceLock::new();
    FRAMES.get_or_init(|| {
        let source = Source::File { path: clip_path() };
        let stats = Arc::new(CameraStats::default());
        let mut src = FrameSource::open("bikes", &source, &SourceOptions::default(), stats)
            .expect("open the clip");
        let mut frames = Vec::new();
        loop {
            match src.pull(Duration::from_secs(10)).expect("decode the clip") {
                Pulled::Frame(f) => frames.push(f),
                Pulled::Eos => break,
                Pulled::Timeout => panic!("clip decoding stalled after {} frames", frames.len()),
            }
        }
        assert_eq!(frames.len(), 250);
        frames
    })
}

/// Plays the clip `loops` times at 25 fps from `start_ms`; returns every event.
fn replay(m: &mut QualityMonitor, loops: usize, start_ms: i64) -> Vec<QualityEvent> {
    let frames = clip_frames();
    let mut events = Vec::new();
    for (i, f) in frames.iter().cycle().take(frames.len() * loops).enumerate() {
        let f = Frame {
            captured_ms: start_ms + i as i64 * 40,
            ..f.clone()
        };
        events.extend(m.push(&f));
    }
    events
}

/// Quick persistence for tests: raised after 1.5 s (8 samples), cleared after 1 s.
fn quick() -> QualityConfig {
    QualityConfig {
        sample_interval_ms: 200,
        learn_s: 25.0,
        raise_after_s: 1.5,
        clear_after_s: 1.0,
        grace_s: 0.3,
        frozen_after_s: 1.5,
        scene_change_after_s: 1.5,
        ..QualityConfig::default()
    }
}

#[test]
fn real_footage_raises_nothing_with_default_settings() {
    // Three minutes: the first one learns the reference, then two are judged.
    let mut m = QualityMonitor::new("bikes", QualityConfig::default());
    let events = replay(&mut m, 18, 0);
    assert_eq!(events, []);
    assert!(
        m.reference_views().is_some_and(|n| n > 1),
        "a montage has several views"
    );
    for d in m.status() {
        assert!(
            d.score.is_some() && !d.active && d.since_ms.is_none(),
            "{d:?}"
        );
    }
}

#[test]
fn real_footage_raises_nothing_with_quick_settings() {
    let mut m = QualityMonitor::new("bikes", quick());
    let events = replay(&mut m, 9, 0);
    assert_eq!(events, [], "{:#?}", m.status());
    assert!(m.reference_views().is_some());
}

/// A mount and the one diagnosis it must raise (and nothing else).
struct Case {
    spec: ClipSpec,
    expect: Option<QualityKind>,
}

/// What one mount showed.
struct Watched {
    raised: BTreeSet<QualityKind>,
    active: Vec<QualityKind>,
    codec: Option<String>,
    /// Time between the first and the last frame, in ms.
    span_ms: i64,
}

/// Pulls `url` through a copy of `monitor` until its frames span `secs` (or 30 s passed).
fn watch(url: String, mut monitor: QualityMonitor, secs: i64) -> Watched {
    let source = Source::Rtsp { url: url.clone() };
    let stats = Arc::new(CameraStats::default());
    let mut src = FrameSource::open("watched", &source, &SourceOptions::default(), stats)
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut raised, mut frames, mut first) = (BTreeSet::new(), 0, None);
    let mut last = 0;
    while last - first.unwrap_or(last) < secs * 1000 && Instant::now() < deadline {
        match src.pull(Duration::from_secs(10)) {
            Ok(Pulled::Frame(f)) => {
                frames += 1;
                first.get_or_insert(f.captured_ms);
                last = f.captured_ms;
                for e in monitor.push(&f) {
                    if e.raised() {
                        raised.insert(e.kind());
                    }
                }
            }
            other => panic!("{url}: {other:?} after {frames} frames"),
        }
    }
    Watched {
        raised,
        active: monitor.active().iter().map(|d| d.kind).collect(),
        codec: src.info().and_then(|i| i.codec.clone()),
        span_ms: first.map_or(0, |f| last - f),
    }
}

#[test]
fn every_fault_pattern_is_diagnosed_over_rtsp() {
    use QualityKind as K;
    let clip = clip_path();
    let small = |name: &str, p: Pattern| {
        ClipSpec::new(name, &clip)
            .with_pattern(p)
            .with_size(320, 180)
    };
    let derived = |name: &str, p: Pattern| ClipSpec::new(name, &clip).with_pattern(p);
    let cases = [
        Case {
            spec: ClipSpec::new("normal", &clip),
            expect: None,
        },
        Case {
            spec: small("black", Pattern::Black).with_codec(Codec::H265),
            expect: Some(K::BlackScreen),
        },
        Case {
            spec: small("snow", Pattern::Snow),
            expect: Some(K::Noise),
        },
        Case {
            spec: small("nosignal", Pattern::NO_SIGNAL),
            expect: Some(K::SignalLoss),
        },
        Case {
            spec: derived("frozen", Pattern::Frozen),
            expect: Some(K::Frozen),
        },
        Case {
            spec: derived("blurred", Pattern::Blurred),
            expect: Some(K::Blur),
        },
        Case {
            spec: derived("shifted", Pattern::Shifted),
            expect: Some(K::SceneChange),
        },
        Case {
            spec: derived("dark", Pattern::Dark),
            expect: Some(K::TooDark),
        },
        Case {
            spec: derived("cast", Pattern::Cast),
            expect: Some(K::ColourCast),
        },
        Case {
            spec: derived("covered", Pattern::Covered),
            expect: Some(K::Occlusion),
        },
    ];
    let specs: Vec<ClipSpec> = cases.iter().map(|c| c.spec.clone()).collect();
    let server = CameraServer::start(&specs, 0).unwrap();

    // The reference: the clip as the camera normally shows it, ending now.
    let mut learned = QualityMonitor::new("reference", quick());
    let start = base::now_ms() - 30_000;
    assert_eq!(replay(&mut learned, 3, start), []);
    assert!(learned.reference_views().is_some());

    let watchers: Vec<_> = cases
        .iter()
        .map(|c| {
            let url = server.url(&c.spec.name);
            let monitor = learned.clone();
            thread::spawn(move || watch(url, monitor, 6))
        })
        .collect();
    for (case, watcher) in cases.iter().zip(watchers) {
        let name = &case.spec.name;
        let Watched {
            raised,
            active,
            codec,
            span_ms,
        } = watcher.join().unwrap();
        // Long enough to raise anything that held for its 1.5 s.
        assert!(span_ms >= 6_000, "{name}: frames for only {span_ms} ms");
        let allowed: BTreeSet<_> = case.expect.into_iter().collect();
        assert!(
            raised.is_subset(&allowed),
            "{name}: raised {raised:?}, allowed {allowed:?}"
        );
        if let Some(kind) = case.expect {
            assert!(
                active.contains(&kind),
                "{name}: {kind} not active: {active:?}"
            );
        }
        let want = if case.spec.codec == Codec::H265 {
            "H.265"
        } else {
            "H.264"
        };
        assert_eq!(codec.as_deref(), Some(want), "{name}");
    }
}
