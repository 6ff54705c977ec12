//! How investigator answers are shown: plates, sighting keys, vocabulary names, cloned-plate
//! evidence as one line each, and the coverage, either as readable lines ("cameras offline or
//! degraded during the window: …") or as the last JSON line `{"coverage": …}` (with `find`'s
//! `next_cursor`). Only formatting;
//! nothing here talks to a platform.

use proto::v1;

use crate::timefmt;

pub(super) fn plate(s: &base::Sighting) -> String {
    s.plate
        .text
        .clone()
        .unwrap_or_else(|| s.plate.state.to_string())
}

pub(super) fn keys(k: &[v1::SightingKey]) -> Vec<String> {
    k.iter()
        .map(|k| format!("{}#{}", k.origin, k.seq))
        .collect()
}

pub(super) fn class_name(code: i32) -> &'static str {
    base::VehicleClass::from_code(code).name()
}

pub(super) fn color_name(code: i32) -> &'static str {
    base::VehicleColor::from_code(code).name()
}

pub(super) fn evidence(e: &v1::CloneEvidence) -> String {
    let (a, b) = (keys(e.a.as_slice()).join(""), keys(e.b.as_slice()).join(""));
    if e.kind == "speed" {
        format!(
            "speed: {} → {} {:.1} km in {:.0} s = {:.0} km/h ({a} → {b})",
            e.a_camera, e.b_camera, e.km, e.seconds, e.kmh
        )
    } else {
        let cos = e
            .cosine
            .map_or(String::new(), |c| format!(", cosine {c:.2}"));
        format!("appearance: {}{cos} ({a} vs {b})", e.what)
    }
}

/// A page of sightings as JSON lines, then `{"coverage": …, "next_cursor": …}` (the cursor of
/// the next page for `--cursor`, `null` after the last).
pub(super) fn json_lines(
    sightings: &[base::Sighting],
    coverage: Option<v1::Coverage>,
    next_cursor: &str,
) -> anyhow::Result<()> {
    for s in sightings {
        println!("{}", serde_json::to_string(s)?);
    }
    let next = Some(next_cursor).filter(|c| !c.is_empty());
    println!(
        "{}",
        serde_json::json!({ "coverage": coverage_json(coverage), "next_cursor": next })
    );
    Ok(())
}

/// The coverage as the last JSON line: `{"coverage": {...}}`.
pub(super) fn json_coverage(c: Option<v1::Coverage>) -> anyhow::Result<()> {
    println!("{}", serde_json::json!({ "coverage": coverage_json(c) }));
    Ok(())
}

fn coverage_json(c: Option<v1::Coverage>) -> serde_json::Value {
    let c = c.unwrap_or_default();
    let gaps: Vec<serde_json::Value> = c
        .gaps
        .iter()
        .map(|g| {
            serde_json::json!({
                "camera": g.camera, "from_ms": g.from_ms, "to_ms": g.to_ms, "state": g.state,
                "degraded": g.degraded, "reason": g.reason,
            })
        })
        .collect();
    let cameras = if c.all_cameras {
        None
    } else {
        Some(&c.cameras)
    };
    serde_json::json!({
        "cameras": cameras, "from_ms": c.from_ms, "to_ms": c.to_ms, "gaps": gaps,
    })
}

/// The coverage as readable lines.
pub(super) fn print_coverage(c: Option<&v1::Coverage>) {
    let Some(c) = c else { return };
    let scope = if c.all_cameras {
        "all cameras".to_owned()
    } else {
        format!("{} cameras", c.cameras.len())
    };
    if c.gaps.is_empty() {
        println!(
            "coverage: {scope}, none offline or degraded between {} and {}",
            timefmt::datetime(c.from_ms),
            timefmt::datetime(c.to_ms)
        );
        return;
    }
    println!(
        "cameras offline or degraded during the window (a missing sighting there means nothing):"
    );
    for g in &c.gaps {
        let what = if g.degraded.is_empty() {
            g.state.clone()
        } else {
            format!("{} ({})", g.state, g.degraded.join(", "))
        };
        println!(
            "  {:<14}  {:<10}  {} – {}  {}",
            g.camera,
            what,
            timefmt::datetime(g.from_ms),
            timefmt::datetime(g.to_ms),
            g.reason
        );
    }
}
