//! Camera health end to end: an edge pulls a good camera and a camera showing a black screen
//! (both real RTSP from gstreamer-rtsp-server), diagnoses the black one from its frames, and
//! the diagnosis reaches the county's operators' view — gRPC, and `xueliang cameras`.

use std::time::Duration;

use proto::v1;

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_camera_is_diagnosed_at_the_county() {
    let clip = common::clip();
    let specs = [
        ingest::ClipSpec::new("street", clip.clone()),
        ingest::ClipSpec::new("lens-black", clip.clone())
            .with_pattern(ingest::Pattern::Black)
            .with_size(320, 180),
    ];
    let server = ingest::CameraServer::start(&specs, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let county = common::platform("county-7", dir.path(), None).await;

    let mut cfg = common::edge_config("edge-7", dir.path(), county.url());
    cfg.analysis_fps = 1.0;
    // Operators tune persistence; a test cannot wait the default 10 s several times over.
    cfg.quality.raise_after_s = 1.0;
    cfg.quality.learn_s = 2.0;
    for s in &specs {
        cfg.cameras.push(edge::CameraConfig {
            id: s.name.clone(),
            url: server.url(&s.name),
            password_env: None,
            device_id: None,
        });
    }
    let node = edge::Edge::start(cfg).await.unwrap();

    let mut health =
        v1::health_client::HealthClient::new(common::channel(dir.path(), &county.url()).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let faulty = loop {
        let o = health
            .cameras(common::request(v1::CamerasRequest {
                faulty_only: true,
                county: String::new(),
            }))
            .await
            .unwrap()
            .into_inner();
        let black = o.statuses.iter().find(|s| {
            s.health
                .as_ref()
                .is_some_and(|h| h.camera == "lens-black" && !h.diagnoses.is_empty())
        });
        if let Some(b) = black {
            break (o.clone(), b.health.clone().unwrap());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no diagnosis reached the county: {o:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let (overview, black) = faulty;
    let kinds: Vec<_> = black.diagnoses.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, ["black_screen"], "{black:?}");
    assert_eq!(
        black.state,
        base::CameraState::Online.code(),
        "it delivers frames"
    );
    assert_eq!((black.width, black.height), (320, 180));
    // The street camera is online and not faulty.
    assert!(
        overview
            .statuses
            .iter()
            .all(|s| s.health.as_ref().unwrap().camera != "street"),
        "{overview:?}"
    );
    assert_eq!(overview.cameras, 2);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xueliang"))
        .args(["cameras", "--server", &county.url()])
        .args(common::cli_auth(dir.path()))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        table.contains("lens-black") && table.contains("black_screen"),
        "{table}"
    );

    node.shutdown(Duration::from_secs(2)).await;
    county.shutdown().await;
    drop(server);
}
