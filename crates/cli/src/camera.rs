//! `xueliang camera`: serves clips and fault patterns as simulated RTSP cameras on this
//! machine, looping forever, to try a deployment or video quality diagnosis against each fault.

use std::path::PathBuf;

use anyhow::Context;
use ingest::{ClipSpec, Codec, Pattern};

#[derive(clap::Args)]
#[command(after_long_help = patterns_help())]
pub struct Args {
    /// H.264 MP4 clip to serve [default: $XUELIANG_HOME/media/bikes.mp4].
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Camera names (mount points) serving the clip as it is; each serves it independently
    /// [default: cam-1, unless --pattern is given].
    #[arg(long = "name")]
    names: Vec<String>,
    /// A fault pattern to serve, mounted at /NAME (default: the pattern's name); repeatable.
    /// One of: clip, black, snow, solid[:RRGGBB], frozen, blurred, shifted, dark, cast,
    /// covered (see --help).
    #[arg(long = "pattern", value_name = "[NAME=]PATTERN", value_parser = parse_pattern)]
    patterns: Vec<(String, Pattern)>,
    /// Codec of the patterns (h264 or h265); with h265 the --name clips are re-encoded too.
    #[arg(long, default_value = "h264", value_parser = parse_codec)]
    codec: Codec,
    /// Picture size of the patterns, WIDTHxHEIGHT [default: the clip's size; 640x360 for
    /// black, snow and solid].
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    size: Option<(u32, u32)>,
    /// RTSP port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8554)]
    port: u16,
}

/// The list of patterns under `--help`.
fn patterns_help() -> String {
    let mut help = String::from("Patterns (--pattern [NAME=]PATTERN):\n");
    for p in Pattern::ALL {
        help.push_str(&format!("  {:<9} {}\n", p.name(), p.describe()));
    }
    help.push_str(
        "\nExample: xueliang camera --name street --pattern black --pattern lobby=frozen \
         --codec h265",
    );
    help
}

fn parse_pattern(s: &str) -> Result<(String, Pattern), String> {
    let (name, pattern) = match s.split_once('=') {
        Some((name, pattern)) => (name.trim().to_owned(), pattern),
        None => (String::new(), s),
    };
    let pattern: Pattern = pattern
        .parse()
        .map_err(|e: base::UnknownName| e.to_string())?;
    let name = if name.is_empty() {
        pattern.name().to_owned()
    } else {
        name
    };
    Ok((name, pattern))
}

fn parse_codec(s: &str) -> Result<Codec, String> {
    s.parse().map_err(|e: base::UnknownName| e.to_string())
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    s.split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
        .filter(|&(w, h): &(u32, u32)| w >= 16 && h >= 16 && w % 2 == 0 && h % 2 == 0)
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, even and at least 16x16, got `{s}`"))
}

/// The mounts to serve: the plain clip under each name, then each pattern.
fn specs(args: &Args, clip: &std::path::Path) -> Vec<ClipSpec> {
    let mut names = args.names.clone();
    if names.is_empty() && args.patterns.is_empty() {
        names.push("cam-1".into());
    }
    let clips = names
        .into_iter()
        .map(|n| ClipSpec::new(n, clip).with_codec(args.codec));
    let patterns = args.patterns.iter().map(|(name, pattern)| {
        let spec = ClipSpec::new(name.clone(), clip)
            .with_pattern(*pattern)
            .with_codec(args.codec);
        match args.size {
            Some((w, h)) => spec.with_size(w, h),
            None => spec,
        }
    });
    clips.chain(patterns).collect()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    ingest::init()?;
    let clip = args.clip.clone().unwrap_or_else(ingest::default_clip_path);
    let specs = specs(&args, &clip);
    let server = ingest::CameraServer::start(&specs, args.port)
        .with_context(|| format!("cannot serve cameras on 127.0.0.1:{}", args.port))?;
    for s in &specs {
        println!("{}", server.url(&s.name));
    }
    eprintln!("serving {} camera(s); Ctrl-C to stop", specs.len());
    crate::runtime()?.block_on(tokio::signal::ctrl_c())?;
    drop(server);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn specs_of(argv: &[&str]) -> Vec<ClipSpec> {
        let cli = Cli::try_parse_from(std::iter::once("camera").chain(argv.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"));
        specs(&cli.args, std::path::Path::new("/clips/x.mp4"))
    }

    #[test]
    fn clips_and_patterns_share_one_server() {
        let specs = specs_of(&[]);
        assert_eq!(specs, [ClipSpec::new("cam-1", "/clips/x.mp4")]);

        let specs = specs_of(&[
            "--name",
            "street",
            "--pattern",
            "black",
            "--pattern",
            "lobby=solid:00ff00",
            "--codec",
            "h265",
            "--size",
            "320x180",
        ]);
        let got: Vec<_> = specs
            .iter()
            .map(|s| (s.name.as_str(), s.pattern, s.codec, s.size))
            .collect();
        assert_eq!(
            got,
            [
                ("street", None, Codec::H265, None),
                ("black", Some(Pattern::Black), Codec::H265, Some((320, 180))),
                (
                    "lobby",
                    Some(Pattern::Solid(0x00ff00)),
                    Codec::H265,
                    Some((320, 180))
                ),
            ]
        );
        // Patterns alone: no default clip mount.
        assert_eq!(specs_of(&["--pattern", "frozen"]).len(), 1);
    }

    #[test]
    fn bad_values_are_usage_errors_listing_choices() {
        let err = |argv: &[&str]| {
            Cli::try_parse_from(std::iter::once("camera").chain(argv.iter().copied()))
                .err()
                .expect("rejected")
                .to_string()
        };
        let e = err(&["--pattern", "fogged"]);
        assert!(e.contains("fogged") && e.contains("blurred"), "{e}");
        assert!(err(&["--codec", "vp9"]).contains("h265"));
        assert!(err(&["--size", "320"]).contains("WIDTHxHEIGHT"));
        assert!(err(&["--size", "321x180"]).contains("even"));
    }

    #[test]
    fn help_lists_every_pattern() {
        let help = patterns_help();
        for p in Pattern::ALL {
            assert!(
                help.contains(p.name()) && help.contains(p.describe()),
                "{p}"
            );
        }
    }
}
