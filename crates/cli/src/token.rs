//! `xueliang token`: a new API token for a person, and the config entry that admits it. Only
//! the token's SHA-256 goes into the config; the token itself is shown once, here.

use platform::auth::{new_token, Role};

#[derive(clap::Args)]
pub struct Args {
    /// Who will hold the token (shown in the audit log).
    #[arg(long)]
    name: String,
    /// investigator (search), operator (camera health) or admin (everything).
    #[arg(long)]
    role: Role,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (token, sha256) = new_token().map_err(anyhow::Error::msg)?;
    println!(
        "# Token for {} ({}); give it to them, it is not stored anywhere:",
        args.name,
        args.role.name()
    );
    println!("#   {token}");
    println!("# Add this to the platform's config:");
    println!("[[platform.token]]");
    println!("name = {:?}", args.name);
    println!("role = \"{}\"", args.role.name());
    println!("sha256 = \"{sha256}\"");
    Ok(())
}
