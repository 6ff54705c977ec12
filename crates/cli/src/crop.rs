//! `xueliang crop REF`: fetch a sighting's best-shot crop (the `crop_ref` of `search --json`)
//! from a platform, which fetches it through the tiers below from the edge that made it.

use std::path::PathBuf;

use anyhow::Context;
use proto::v1;

#[derive(clap::Args)]
pub struct Args {
    /// Crop reference, `xl://<edge>/crop/<id>`.
    crop_ref: String,
    /// Where to write the JPEG [default: <edge>-<id>.jpg in the current directory].
    #[arg(short, long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    server: crate::client::Server,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (origin, id) = store::parse_crop_ref(&args.crop_ref).map_err(anyhow::Error::msg)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{origin}-{id}.jpg")));
    let server = args.server.clone();
    let request = v1::FetchCropRequest {
        crop_ref: args.crop_ref.clone(),
    };
    let crop = crate::runtime()?.block_on(async move {
        v1::media_client::MediaClient::new(server.channel().await?)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .fetch_crop(server.request(request)?)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| server.refused(s))
    })?;
    std::fs::write(&out, &crop.jpeg).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{} ({} bytes)", out.display(), crop.jpeg.len());
    Ok(())
}
