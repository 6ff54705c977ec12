//! `xueliang certs`: a development CA and one certificate per node, for TLS between tiers.
//! Production deployments issue the same PEM files from their own PKI instead.

use std::path::PathBuf;

use uplink::tls::dev_ca;

#[derive(clap::Args)]
pub struct Args {
    /// Node ids to issue certificates for (each becomes the certificate's Common Name, which
    /// the upstream checks against the node's Hello).
    #[arg(required = true)]
    nodes: Vec<String>,
    /// Directory for ca.pem / ca.key and NODE.pem / NODE.key; the CA is made on first use.
    #[arg(long, default_value = "pki")]
    dir: PathBuf,
    /// Host names or IP addresses the nodes serve under (repeat).
    #[arg(long = "host", default_values_t = ["127.0.0.1".to_string(), "localhost".to_string()])]
    hosts: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if dev_ca::ensure_ca(&args.dir)? {
        println!(
            "made a development CA: {}",
            args.dir.join("ca.pem").display()
        );
    }
    for node in &args.nodes {
        let files = dev_ca::issue(&args.dir, node, &args.hosts)?;
        println!(
            "{node}: {} + {} (serves as {})",
            files.cert.display(),
            files.key.display(),
            args.hosts.join(", ")
        );
    }
    println!(
        "\nIn each node's config:\n  [platform.tls] or [edge.tls]\n  ca = \"{}\"\n  cert = \"{}/<node>.pem\"\n  key = \"{}/<node>.key\"",
        args.dir.join("ca.pem").display(),
        args.dir.display(),
        args.dir.display()
    );
    Ok(())
}
