//! `xueliang cameras`: camera health at a platform — online rate overall and per county, and
//! the faulty cameras with reason and duration — as a table or `--json`.

use proto::v1;

use crate::timefmt;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: crate::client::Server,
    /// List every camera, not only the faulty ones.
    #[arg(long)]
    all: bool,
    /// Only this county.
    #[arg(long)]
    county: Option<String>,
    /// The whole answer as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let server = args.server.clone();
    let request = v1::CamerasRequest {
        faulty_only: !args.all,
        county: args.county.clone().unwrap_or_default(),
    };
    let r = crate::runtime()?.block_on(async move {
        let mut client = v1::health_client::HealthClient::new(server.channel().await?);
        client
            .cameras(server.request(request)?)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| server.refused(s))
    })?;
    if args.json {
        let statuses: Vec<_> = r
            .statuses
            .iter()
            .map(|s| {
                let h = s
                    .health
                    .clone()
                    .map(base::CameraHealth::try_from)
                    .transpose()?
                    .unwrap_or_default();
                anyhow::Ok(serde_json::json!({
                    "county": s.county, "node": s.node, "stale": s.stale,
                    "faulty": s.faulty, "for_ms": s.for_ms,
                    "reported_ms": s.reported_ms, "health": h,
                }))
            })
            .collect::<Result<_, _>>()?;
        let counties: Vec<_> = r
            .counties
            .iter()
            .map(|c| serde_json::json!({"county": c.county, "cameras": c.cameras, "online": c.online, "online_rate": c.online_rate}))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "cameras": r.cameras, "online": r.online, "online_rate": r.online_rate,
                "counties": counties, "statuses": statuses,
            })
        );
        return Ok(());
    }
    println!(
        "{} of {} cameras online ({:.1}%)",
        r.online,
        r.cameras,
        100.0 * r.online_rate
    );
    for c in &r.counties {
        println!(
            "  {:<16} {:>4} / {:<4} online ({:.1}%)",
            c.county,
            c.online,
            c.cameras,
            100.0 * c.online_rate
        );
    }
    println!();
    if r.statuses.is_empty() {
        println!("no faulty cameras");
        return Ok(());
    }
    println!(
        "{:<12} {:<12} {:<16} {:<10} {:>10}  {:>6}  problem",
        "county", "edge", "camera", "state", "for", "fps"
    );
    for s in &r.statuses {
        let Some(h) = &s.health else { continue };
        let state = if s.stale {
            "stale".to_string()
        } else {
            base::CameraState::from_code(h.state).to_string()
        };
        let mut problem = if s.stale {
            format!(
                "no report from {} since {}",
                s.node,
                timefmt::datetime(s.reported_ms)
            )
        } else {
            h.reason.clone()
        };
        for d in &h.diagnoses {
            if !problem.is_empty() {
                problem.push_str("; ");
            }
            problem.push_str(&format!("{} {:.2}", d.kind, d.score));
        }
        println!(
            "{:<12} {:<12} {:<16} {:<10} {:>10}  {:>6.1}  {}",
            s.county,
            s.node,
            h.camera,
            state,
            duration(s.for_ms),
            h.fps,
            problem
        );
    }
    Ok(())
}

/// `3d 4h`, `2h 05m`, `4m 10s`, `12s`.
fn duration(ms: i64) -> String {
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::duration(12_000), "12s");
        assert_eq!(super::duration(250_000), "4m 10s");
        assert_eq!(super::duration(7_500_000), "2h 05m");
        assert_eq!(super::duration(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
    }
}
