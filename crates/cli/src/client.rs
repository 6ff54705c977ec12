//! How the interactive commands reach a platform: `--server`, the CA that signed it (for
//! `https://`), and the API token, each also from the environment so scripts need no flags.

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

#[derive(clap::Args, Clone)]
pub struct Server {
    /// Platform to ask (county or city): http://host:port, or https://host:port with --ca.
    #[arg(long, default_value = "http://127.0.0.1:7200", env = "XUELIANG_SERVER")]
    pub server: String,
    /// CA certificate (PEM) that signed an https:// server's certificate.
    #[arg(long, env = "XUELIANG_CA")]
    pub ca: Option<std::path::PathBuf>,
    /// API token (from `xueliang token`; never shown in output or logs).
    #[arg(long, env = "XUELIANG_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl Server {
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let mut endpoint = Endpoint::from_shared(self.server.clone())
            .with_context(|| format!("--server {:?} is not a valid address", self.server))?;
        match (&self.ca, self.server.starts_with("https://")) {
            (Some(ca), true) => {
                endpoint = endpoint.tls_config(uplink::tls::client_ca_only(ca)?)?;
            }
            (None, true) => anyhow::bail!(
                "{} is https://: pass the CA certificate that signed it with --ca (or XUELIANG_CA)",
                self.server
            ),
            _ => {}
        }
        endpoint
            .connect()
            .await
            .with_context(|| format!("cannot connect to {}", self.server))
    }

    /// `message` with the token attached as `authorization: Bearer …`.
    pub fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token {
            let value = format!("Bearer {}", token.trim()).parse().map_err(|_| {
                anyhow::anyhow!("the API token has characters a header cannot carry")
            })?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }

    /// A refused call as one line; a missing token is spelled out.
    pub fn refused(&self, status: tonic::Status) -> anyhow::Error {
        let hint = match (status.code(), &self.token) {
            (tonic::Code::Unauthenticated, None) => " (pass --token or set XUELIANG_TOKEN)",
            _ => "",
        };
        anyhow::anyhow!("{}: {}{hint}", self.server, status.message())
    }
}
