//! Standing questions from the command line: `xueliang search watch` (a question for as long as
//! the command runs), `xueliang search watchlist add|list|rm` (questions the platform keeps and
//! checks every sighting against, whether anyone listens or not) and `xueliang search alerts`
//! (what those raised, from an alert id on; `--follow` keeps waiting). Each alert line starts
//! with its id, so a reader that stopped can resume with `--after`.

use proto::v1;

use super::print::{class_name, color_name};
use super::{call, Client, Common, FilterArgs};
use crate::timefmt;

#[derive(clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// Name of the rule, shown with each alert.
    #[arg(long, default_value = "watch")]
    name: String,
    /// Stop after this many alerts (0 = until Ctrl-C).
    #[arg(long, default_value_t = 0)]
    count: u64,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Subcommand)]
pub enum WatchlistOp {
    /// Keep a standing question at the platform (its --from/--to are ignored).
    Add {
        /// Unique name, shown with each alert.
        name: String,
        #[command(flatten)]
        filter: Box<FilterArgs>,
        #[command(flatten)]
        common: Common,
    },
    /// The platform's watchlists, with their questions and alert counts.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Stop checking a watchlist (its alerts stay readable).
    Rm {
        name: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(clap::Args)]
pub struct AlertsArgs {
    /// Only these watchlists (repeat or comma-separate; default: all).
    #[arg(long = "watchlist", value_delimiter = ',')]
    watchlists: Vec<String>,
    /// Only alerts after this id (the first column of a previous run).
    #[arg(long, default_value_t = 0)]
    after: u64,
    /// Keep waiting for new alerts until Ctrl-C.
    #[arg(long)]
    follow: bool,
    /// Stop after this many alerts (0 = no limit).
    #[arg(long, default_value_t = 0)]
    count: u64,
    #[command(flatten)]
    common: Common,
}

/// One alert as a line (or JSON).
fn print_alert(alert: v1::Alert, json: bool) -> anyhow::Result<()> {
    let s = base::Sighting::try_from(alert.sighting.unwrap_or_default())?;
    if json {
        let line = serde_json::json!({
            "id": alert.id, "rule": alert.rule, "alerted_ms": alert.alerted_ms, "sighting": s,
        });
        println!("{line}");
        return Ok(());
    }
    let id = if alert.id > 0 {
        format!("#{:<6} ", alert.id)
    } else {
        String::new()
    };
    println!(
        "{id}{}  {:<20}  {:<14}  {:<10}  {:<7}  {:<12}  {}",
        timefmt::datetime(s.pass_time_ms),
        alert.rule,
        s.camera,
        s.class.name(),
        s.color.name(),
        s.plate
            .text
            .clone()
            .unwrap_or_else(|| s.plate.state.to_string()),
        s.key
    );
    Ok(())
}

/// Prints a stream of alerts until it ends, `count` were printed, or Ctrl-C. Returns the last
/// alert id printed.
async fn drain(
    mut alerts: tonic::Streaming<v1::Alert>,
    common: &Common,
    count: u64,
    ended: impl Fn() -> Option<String>,
) -> anyhow::Result<u64> {
    let mut seen = 0;
    let mut last = 0;
    loop {
        let next = tokio::select! {
            m = alerts.message() => m.map_err(|s| common.server.refused(s))?,
            _ = tokio::signal::ctrl_c() => return Ok(last),
        };
        let Some(alert) = next else {
            return match ended() {
                Some(why) => anyhow::bail!("{}", why),
                None => Ok(last),
            };
        };
        last = last.max(alert.id);
        print_alert(alert, common.json)?;
        seen += 1;
        if count > 0 && seen >= count {
            return Ok(last);
        }
    }
}

/// Streams alerts until Ctrl-C or `--count`.
pub fn watch(a: WatchArgs, now: i64) -> anyhow::Result<()> {
    let request = v1::WatchRequest {
        rules: vec![v1::WatchRule {
            name: a.name.clone(),
            filter: Some(a.filter.wire(now)?),
        }],
    };
    let server = a.common.server.clone();
    crate::runtime()?.block_on(async move {
        let mut client = Client::new(server.channel().await?)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES);
        let alerts = client
            .watch(server.request(request)?)
            .await
            .map_err(|s| server.refused(s))?
            .into_inner();
        eprintln!("watching {}; Ctrl-C stops", server.server);
        drain(alerts, &a.common, a.count, || {
            Some(format!(
                "{} ended the watch (shutting down?)",
                server.server
            ))
        })
        .await
        .map(drop)
    })
}

/// Prints stored alerts (and, with `--follow`, new ones as they are raised).
pub fn alerts(a: AlertsArgs) -> anyhow::Result<()> {
    let request = v1::AlertsRequest {
        watchlists: a.watchlists.clone(),
        after_id: a.after,
        follow: a.follow,
    };
    let server = a.common.server.clone();
    let last = crate::runtime()?.block_on(async {
        let mut client = Client::new(server.channel().await?)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES);
        let alerts = client
            .alerts(server.request(request)?)
            .await
            .map_err(|s| server.refused(s))?
            .into_inner();
        if a.follow {
            eprintln!("following alerts at {}; Ctrl-C stops", server.server);
        }
        drain(alerts, &a.common, a.count, || {
            a.follow
                .then(|| format!("{} ended the stream (shutting down?)", server.server))
        })
        .await
    })?;
    if !a.common.json {
        let from = last.max(a.after);
        eprintln!("next: --after {from}");
    }
    Ok(())
}

/// `watchlist add | list | rm`.
pub fn watchlist(op: WatchlistOp, now: i64) -> anyhow::Result<()> {
    match op {
        WatchlistOp::Add {
            name,
            filter,
            common,
        } => {
            let request = v1::AddWatchlistRequest {
                name,
                filter: Some(filter.wire(now)?),
            };
            let w = call(
                &common,
                |mut c, r| async move { c.add_watchlist(r).await },
                request,
            )?;
            if common.json {
                println!("{}", watchlist_json(&w));
            } else {
                println!(
                    "watchlist {:?} (id {}) kept at {}: every sighting it takes is checked",
                    w.name, w.id, common.server.server
                );
            }
        }
        WatchlistOp::List { common } => {
            let r = call(
                &common,
                |mut c, r| async move { c.list_watchlists(r).await },
                v1::ListWatchlistsRequest {},
            )?;
            if common.json {
                for w in &r.watchlists {
                    println!("{}", watchlist_json(w));
                }
                return Ok(());
            }
            println!(
                "{:>4}  {:<24}  {:<10}  {:<16}  {:>6}  question",
                "id", "name", "owner", "created", "alerts"
            );
            for w in &r.watchlists {
                let state = if w.armed {
                    String::new()
                } else {
                    format!("  [not armed: {}]", w.problem)
                };
                println!(
                    "{:>4}  {:<24}  {:<10}  {:<16}  {:>6}  {}{state}",
                    w.id,
                    w.name,
                    w.owner,
                    &timefmt::datetime(w.created_ms)[..16],
                    w.alerts,
                    question(w.filter.as_ref())
                );
            }
            println!("{} watchlists", r.watchlists.len());
        }
        WatchlistOp::Rm { name, common } => {
            let r = call(
                &common,
                |mut c, r| async move { c.remove_watchlist(r).await },
                v1::RemoveWatchlistRequest { name: name.clone() },
            )?;
            if !r.removed {
                anyhow::bail!("{}: no watchlist named {name:?}", common.server.server);
            }
            println!("watchlist {name:?} removed (its alerts stay readable)");
        }
    }
    Ok(())
}

/// A filter as a short readable question.
fn question(f: Option<&v1::Filter>) -> String {
    let Some(f) = f else { return "-".into() };
    let mut parts = Vec::new();
    let join = |v: &[String]| v.join(",");
    if !f.cameras.is_empty() {
        parts.push(format!("camera {}", join(&f.cameras)));
    }
    if !f.counties.is_empty() {
        parts.push(format!("county {}", join(&f.counties)));
    }
    if !f.regions.is_empty() {
        parts.push(format!("region {}", join(&f.regions)));
    }
    let names = |codes: &[i32], name: fn(i32) -> &'static str| -> String {
        codes.iter().map(|c| name(*c)).collect::<Vec<_>>().join(",")
    };
    if !f.classes.is_empty() {
        parts.push(names(&f.classes, class_name));
    }
    if !f.colors.is_empty() {
        parts.push(names(&f.colors, color_name));
    }
    if !f.plate_states.is_empty() {
        parts.push(format!(
            "plate {}",
            names(&f.plate_states, |c| base::PlateState::from_code(c).name())
        ));
    }
    if !f.plate.is_empty() {
        parts.push(format!(
            "plate {}{}",
            f.plate,
            if f.fuzzy { " (fuzzy)" } else { "" }
        ));
    }
    if parts.is_empty() {
        "every sighting".into()
    } else {
        parts.join(" · ")
    }
}

fn watchlist_json(w: &v1::Watchlist) -> serde_json::Value {
    serde_json::json!({
        "id": w.id, "name": w.name, "owner": w.owner, "created_ms": w.created_ms,
        "question": question(w.filter.as_ref()), "armed": w.armed,
        "problem": (!w.problem.is_empty()).then_some(&w.problem), "alerts": w.alerts,
    })
}
