//! API tokens and roles on a real platform (TLS, gRPC and HTTP on 127.0.0.1): an investigator
//! searches but cannot read camera health, an operator the reverse, an admin both; no token
//! or an unknown one is refused, and the token never shows up in what the caller gets back.

use platform::auth::{token_sha256, Role, TokenConfig};
use proto::v1;
use xueliang_platform as platform;

const INVESTIGATOR: &str = "xl_investigator-secret";
const OPERATOR: &str = "xl_operator-secret";
const ADMIN: &str = "xl_admin-secret";

async fn city(dir: &std::path::Path) -> platform::Platform {
    let pki = dir.join("pki");
    uplink::tls::dev_ca::ensure_ca(&pki).unwrap();
    uplink::tls::dev_ca::issue(&pki, "city", &["127.0.0.1".into()]).unwrap();
    let mut cfg = platform::PlatformConfig::new("city");
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.http_listen = "127.0.0.1:0".parse().unwrap();
    cfg.database = Some(dir.join("city.sqlite"));
    cfg.tls = Some(uplink::TlsConfig::in_dir(&pki, "city"));
    cfg.token = [
        ("ivy", Role::Investigator, INVESTIGATOR),
        ("otto", Role::Operator, OPERATOR),
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

fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    if let Some(t) = token {
        r.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    r
}

/// Status line of an HTTPS GET with an optional bearer token.
async fn http_status(ca: &std::path::Path, base: &str, path: &str, token: Option<&str>) -> String {
    let out = uplink::tls::https_get(ca, base, path, token).await.unwrap();
    for secret in [INVESTIGATOR, OPERATOR, ADMIN] {
        assert!(!out.contains(secret), "token echoed: {out}");
    }
    out.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_guard_grpc_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let city = city(dir.path()).await;
    let tls = uplink::tls::client_ca_only(&dir.path().join("pki/ca.pem")).unwrap();
    let channel = tonic::transport::Endpoint::from_shared(city.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut search = v1::search_client::SearchClient::new(channel.clone());
    let mut health = v1::health_client::HealthClient::new(channel);
    let ask = || v1::SearchRequest {
        from_ms: base::now_ms() - 3_600_000,
        to_ms: base::now_ms(),
        limit: 10,
        ..Default::default()
    };
    use tonic::Code;
    let search_code = |r: Result<tonic::Response<v1::SearchResponse>, tonic::Status>| match r {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    };
    let cameras_code = |r: Result<tonic::Response<v1::CamerasResponse>, tonic::Status>| match r {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    };
    for (token, can_search, can_watch) in [
        (Some(INVESTIGATOR), Code::Ok, Code::PermissionDenied),
        (Some(OPERATOR), Code::PermissionDenied, Code::Ok),
        (Some(ADMIN), Code::Ok, Code::Ok),
        (
            Some("xl_guess"),
            Code::Unauthenticated,
            Code::Unauthenticated,
        ),
        (None, Code::Unauthenticated, Code::Unauthenticated),
    ] {
        let r = search.search(with_token(ask(), token)).await;
        assert_eq!(search_code(r), can_search, "search with {token:?}");
        let r = health
            .cameras(with_token(v1::CamerasRequest::default(), token))
            .await;
        assert_eq!(cameras_code(r), can_watch, "cameras with {token:?}");
    }
    let denied = search
        .search(with_token(ask(), Some(OPERATOR)))
        .await
        .unwrap_err();
    assert!(
        denied.message().contains("otto holds the operator role"),
        "{}",
        denied.message()
    );

    let http = city.http_url();
    assert!(
        http.starts_with("https://"),
        "tokens never travel in clear: {http}"
    );
    // Plain HTTP to the TLS port gets no answer.
    let plain = http.replace("https://", "");
    let mut tcp = tokio::net::TcpStream::connect(&plain).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tcp.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tcp.read_to_end(&mut got).await;
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"));
    let sightings = format!("/api/v1/sightings?from=0&to={}", base::now_ms());
    for (path, token, status) in [
        (sightings.as_str(), Some(INVESTIGATOR), "200"),
        (sightings.as_str(), Some(OPERATOR), "403"),
        (sightings.as_str(), None, "401"),
        ("/api/v1/cameras", Some(OPERATOR), "200"),
        ("/api/v1/cameras", Some(INVESTIGATOR), "403"),
        ("/api/v1/cameras", Some("xl_guess"), "401"),
        ("/api/v1/cameras", Some(ADMIN), "200"),
        ("/api/v1/rejected", Some(ADMIN), "200"),
        ("/api/v1/rejected", Some(OPERATOR), "403"),
        ("/api/v1/rejected", Some(INVESTIGATOR), "403"),
        ("/metrics", None, "200"),
    ] {
        let line = http_status(&dir.path().join("pki/ca.pem"), &http, path, token).await;
        assert!(line.contains(status), "{path} with {token:?}: {line}");
    }
    city.shutdown().await;
}
