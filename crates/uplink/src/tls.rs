//! TLS between tiers: each node holds a certificate from the deployment's CA whose Common Name
//! is its node id, and the upstream trusts only that CA.
//!
//! The server asks every client for a certificate but does not demand one at the handshake, so
//! one listener serves both machines and people: `Uplink.Push` refuses a peer without a CA-signed
//! certificate, or whose certificate names another node than its Hello (see
//! [`crate::Receiver`]); search and health calls are guarded by API tokens instead. A
//! certificate not signed by the CA fails the handshake itself.
//!
//! [`dev_ca`] makes a development CA and node certificates (`xueliang certs`); production
//! deployments bring certificates from their own PKI in the same PEM files.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::Error;

/// Where a node's PEM files are: `[edge.tls]` / `[platform.tls]` in its config.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The deployment CA certificate: peers must present a certificate it signed.
    pub ca: PathBuf,
    /// This node's certificate (Common Name = node id), and its private key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsConfig {
    /// The files `xueliang certs --dir DIR NODE` writes: `ca.pem`, `NODE.pem`, `NODE.key`.
    pub fn in_dir(dir: &Path, node: &str) -> Self {
        TlsConfig {
            ca: dir.join("ca.pem"),
            cert: dir.join(format!("{node}.pem")),
            key: dir.join(format!("{node}.key")),
        }
    }

    /// Reads and checks the three files; the error names the file at fault.
    fn load(&self) -> Result<(Certificate, Identity), Error> {
        let ca = read_pem(&self.ca, "CERTIFICATE")?;
        let cert = read_pem(&self.cert, "CERTIFICATE")?;
        let key = read_pem(&self.key, "PRIVATE KEY")?;
        Ok((Certificate::from_pem(ca), Identity::from_pem(cert, key)))
    }

    /// Server side: present this node's certificate; verify client certificates against the CA.
    pub fn server(&self) -> Result<ServerTlsConfig, Error> {
        let (ca, identity) = self.load()?;
        Ok(ServerTlsConfig::new()
            .identity(identity)
            .client_ca_root(ca)
            .client_auth_optional(true))
    }

    /// Client side: verify the upstream against the CA and present this node's certificate.
    pub fn client(&self) -> Result<ClientTlsConfig, Error> {
        let (ca, identity) = self.load()?;
        Ok(ClientTlsConfig::new().ca_certificate(ca).identity(identity))
    }
}

impl TlsConfig {
    /// TLS for a node's HTTP side (`/api/v1/*`, `/metrics`): this node's certificate, no client
    /// certificate asked (HTTP callers are people with tokens).
    pub fn https_acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, Error> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let bad = |path: &Path, e: &dyn std::fmt::Display| Error::Tls {
            path: path.to_owned(),
            message: e.to_string(),
        };
        read_pem(&self.cert, "CERTIFICATE")?;
        read_pem(&self.key, "PRIVATE KEY")?;
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| bad(&self.cert, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(&self.cert, &e))?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| bad(&self.key, &e))?;
        let config = rustls_server_config(certs, key).map_err(|e| bad(&self.cert, &e))?;
        Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
    }
}

fn rustls_server_config(
    certs: Vec<rustls_pki_types::CertificateDer<'static>>,
    key: rustls_pki_types::PrivateKeyDer<'static>,
) -> Result<tokio_rustls::rustls::ServerConfig, tokio_rustls::rustls::Error> {
    use tokio_rustls::rustls;
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A TLS client for a node's HTTP side that trusts `ca` (tools and tests).
pub fn https_connector(ca: &Path) -> Result<tokio_rustls::TlsConnector, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    use tokio_rustls::rustls;
    let bad = |e: &dyn std::fmt::Display| Error::Tls {
        path: ca.to_owned(),
        message: e.to_string(),
    };
    read_pem(ca, "CERTIFICATE")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(&e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

/// A minimal HTTP/1.0 GET over TLS to a node's HTTP side (tools and tests): the whole response,
/// status line and headers included. `base` is `https://host:port`.
pub async fn https_get(
    ca: &Path,
    base: &str,
    path: &str,
    token: Option<&str>,
) -> Result<String, Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fail = |e: &dyn std::fmt::Display| Error::Upstream {
        url: format!("{base}{path}"),
        message: e.to_string(),
    };
    let addr = base
        .strip_prefix("https://")
        .ok_or_else(|| fail(&"not an https:// address"))?;
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).to_owned();
    let name = rustls_pki_types::ServerName::try_from(host).map_err(|e| fail(&e))?;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| fail(&e))?;
    let mut tls = https_connector(ca)?
        .connect(name, tcp)
        .await
        .map_err(|e| fail(&e))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n");
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| fail(&e))?;
    let mut out = Vec::new();
    // A server may close without TLS close_notify; what arrived is the answer.
    let _ = tls.read_to_end(&mut out).await;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A client that verifies the server against `ca` and presents no certificate (the CLI).
pub fn client_ca_only(ca: &Path) -> Result<ClientTlsConfig, Error> {
    let ca = read_pem(ca, "CERTIFICATE")?;
    Ok(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)))
}

fn read_pem(path: &Path, label: &str) -> Result<Vec<u8>, Error> {
    let bad = |message: String| Error::Tls {
        path: path.to_owned(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains("-----BEGIN ") || !text.contains(label) {
        return Err(bad(format!("not a PEM file holding a {label}")));
    }
    Ok(bytes)
}

/// The node id a TLS peer proved: the Common Name of its (CA-verified) certificate. `None` on
/// a plain-text connection or when the peer sent no certificate.
pub fn peer_node<T>(request: &tonic::Request<T>) -> Option<String> {
    let certs = request.peer_certs()?;
    let der = certs.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

/// A development certificate authority in a directory: `ca.pem` and `ca.key`, then one
/// `NODE.pem` + `NODE.key` per node. Keys are ECDSA P-256, written with mode 0600.
pub mod dev_ca {
    use std::path::Path;

    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };

    use super::TlsConfig;
    use crate::Error;

    const CA_NAME: &str = "Xueliang development CA";

    fn err(path: &Path, message: impl std::fmt::Display) -> Error {
        Error::Tls {
            path: path.to_owned(),
            message: message.to_string(),
        }
    }

    /// Years since 1970 of the current date, for certificate validity.
    fn this_year() -> i32 {
        (1970.0 + base::now_ms() as f64 / (365.2425 * 86_400_000.0)) as i32
    }

    fn write(path: &Path, text: &str, private: bool) -> Result<(), Error> {
        std::fs::write(path, text).map_err(|e| err(path, e))?;
        if private {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| err(path, e))?;
        }
        Ok(())
    }

    /// Creates `dir/ca.pem` and `dir/ca.key` unless they exist; returns whether it made them.
    pub fn ensure_ca(dir: &Path) -> Result<bool, Error> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        if cert_path.exists() && key_path.exists() {
            return Ok(false);
        }
        std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        let key = KeyPair::generate().map_err(|e| err(&key_path, e))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, CA_NAME);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = rcgen::date_time_ymd(this_year() - 1, 1, 1);
        params.not_after = rcgen::date_time_ymd(this_year() + 10, 1, 1);
        let cert = params.self_signed(&key).map_err(|e| err(&cert_path, e))?;
        write(&key_path, &key.serialize_pem(), true)?;
        write(&cert_path, &cert.pem(), false)?;
        Ok(true)
    }

    /// Issues `dir/NODE.pem` + `dir/NODE.key` (Common Name = `node`, valid for `hosts` as
    /// server names, usable as server and client), signed by the CA in `dir`.
    pub fn issue(dir: &Path, node: &str, hosts: &[String]) -> Result<TlsConfig, Error> {
        crate::check_node_id(node).map_err(|m| err(dir, m))?;
        let (ca_cert, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
        let ca_pem = std::fs::read_to_string(&ca_cert).map_err(|e| err(&ca_cert, e))?;
        let ca_key_pem = std::fs::read_to_string(&ca_key).map_err(|e| err(&ca_key, e))?;
        let signer = KeyPair::from_pem(&ca_key_pem).map_err(|e| err(&ca_key, e))?;
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, signer).map_err(|e| err(&ca_cert, e))?;
        let files = TlsConfig::in_dir(dir, node);
        let mut params = CertificateParams::new(hosts.to_vec()).map_err(|e| err(dir, e))?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, node);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = rcgen::date_time_ymd(this_year() - 1, 1, 1);
        params.not_after = rcgen::date_time_ymd(this_year() + 2, 1, 1);
        let key = KeyPair::generate().map_err(|e| err(&files.key, e))?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| err(&files.cert, e))?;
        write(&files.key, &key.serialize_pem(), true)?;
        write(&files.cert, &cert.pem(), false)?;
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_ca_issues_loadable_node_certificates() {
        let dir = tempfile::tempdir().unwrap();
        assert!(dev_ca::ensure_ca(dir.path()).unwrap());
        assert!(
            !dev_ca::ensure_ca(dir.path()).unwrap(),
            "second call keeps the CA"
        );
        let files = dev_ca::issue(dir.path(), "county-1", &["127.0.0.1".into()]).unwrap();
        assert!(files.server().is_ok() && files.client().is_ok());
        let der = std::fs::read_to_string(&files.cert).unwrap();
        assert!(der.contains("BEGIN CERTIFICATE"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "private keys are not world-readable");
        assert!(dev_ca::issue(dir.path(), "bad node", &[]).is_err());
    }

    #[test]
    fn unreadable_or_wrong_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = TlsConfig::in_dir(dir.path(), "edge-1");
        let e = cfg.client().unwrap_err().to_string();
        assert!(e.contains("ca.pem"), "{e}");
        std::fs::write(dir.path().join("ca.pem"), "hello").unwrap();
        let e = cfg.client().unwrap_err().to_string();
        assert!(e.contains("not a PEM file"), "{e}");
    }
}
