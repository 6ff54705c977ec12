//! A node's TOML config file: one file per node, with an `[edge]` or a `[platform]` table
//! (see `deploy/*.toml`). Unknown fields are errors that name the field and line.

use std::path::Path;

use anyhow::{bail, Context};

/// The whole file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    pub edge: Option<edge::EdgeConfig>,
    pub platform: Option<platform::PlatformConfig>,
}

pub fn load(path: &Path) -> anyhow::Result<NodeFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    parse(&text).with_context(|| format!("config {}", path.display()))
}

pub fn parse(text: &str) -> anyhow::Result<NodeFile> {
    let file: NodeFile = toml::from_str(text).map_err(|e| {
        // toml's message spans several lines with a caret diagram; keep it on one line.
        let msg = e.message().to_owned();
        match e.span() {
            Some(span) => {
                let line = text.as_bytes()[..span.start.min(text.len())]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1;
                anyhow::anyhow!("line {line}: {msg}")
            }
            None => anyhow::anyhow!("{msg}"),
        }
    })?;
    if file.edge.is_none() && file.platform.is_none() {
        bail!("has neither an [edge] nor a [platform] table");
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_configs_parse() {
        for f in ["edge.toml", "county.toml", "city.toml"] {
            let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"))
                .join("../../deploy")
                .join(f);
            let file = load(&path).unwrap_or_else(|e| panic!("{f}: {e:#}"));
            if let Some(e) = &file.edge {
                e.validate().unwrap();
            }
            if let Some(p) = &file.platform {
                p.validate().unwrap();
            }
        }
    }

    #[test]
    fn unknown_field_names_field_and_line() {
        let err = parse("[platform]\nnode = \"c\"\nlisten_addr = \"x\"\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("listen_addr") && msg.contains("line 3"),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
        let err = parse("[edge]\nnode = 3\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }

    #[test]
    fn regions_and_camera_positions_parse_and_bad_polygons_are_named() {
        let file = parse(
            "[platform]\nnode = \"city\"\n\
             [[platform.region]]\nname = \"old-town\"\n\
             polygon = [[35.05, 110.9], [35.05, 111.1], [35.2, 111.1]]\n\
             [[platform.camera]]\nid = \"cam-a\"\ncounty = \"盐湖区\"\nlat = 35.1\nlon = 111.0\n",
        )
        .unwrap();
        let p = file.platform.unwrap();
        p.validate().unwrap();
        assert_eq!(p.region[0].region().polygon[2], (35.2, 111.1));
        assert_eq!(p.camera[0].county, "盐湖区");
        let mut two = p.clone();
        two.region[0].polygon.pop();
        let err = two.validate().unwrap_err().to_string();
        assert!(
            err.contains("old-town") && err.contains("at least 3"),
            "{err}"
        );
    }
}
