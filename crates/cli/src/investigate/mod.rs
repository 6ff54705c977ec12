//! `xueliang search <operation>`: the investigators' operations (find, trajectory, together,
//! companions, first-entry, clones, similar) against a platform over gRPC, as readable tables
//! or JSON lines. Every answer ends with its coverage: which cameras in scope were offline or
//! degraded during the window, so a sighting that is missing there is read as "not seen", not
//! "not there". `find` pages: a page that is not the last ends with `next page: --cursor …`
//! (`next_cursor` in the JSON trailer), and `--cursor` asks for that page. Plain `xueliang search --from … --class …` (no operation) is the v1 search in
//! `search.rs`.

use anyhow::{bail, Context};
use proto::v1;

use crate::timefmt;

mod print;
mod watch;

pub use watch::{AlertsArgs, WatchArgs, WatchlistOp};

use print::{
    class_name, color_name, evidence, json_coverage, json_lines, keys, plate, print_coverage,
};

#[derive(clap::Subcommand)]
pub enum Op {
    /// Sightings by time, place, class, colour, plate state and plate pattern (newest first).
    Find(FindArgs),
    /// Where one vehicle went: by plate, or by one sighting of a plateless vehicle.
    Trajectory(TrajectoryArgs),
    /// Vehicles seen in several scene/time windows (co-occurrence, 区域碰撞).
    Together(TogetherArgs),
    /// Vehicles that travelled with a subject (同行车).
    Companions(CompanionsArgs),
    /// Plates seen in a region that were not there during the lookback (首次入城).
    FirstEntry(FirstEntryArgs),
    /// Plates with evidence of cloning: impossible speeds or two different vehicles (套牌).
    Clones(ClonesArgs),
    /// Sightings that look like one sighting's vehicle.
    Similar(SimilarArgs),
    /// A standing question (布控) for as long as this command runs: print every matching
    /// sighting as it reaches the platform, until Ctrl-C (the filter's --from/--to are ignored).
    Watch(WatchArgs),
    /// Watchlists the platform keeps (布控): add, list, remove.
    #[command(subcommand)]
    Watchlist(WatchlistOp),
    /// Alerts of the platform's watchlists, from an alert id on; --follow waits for new ones.
    Alerts(AlertsArgs),
}

/// Which sightings: the filter every operation shares.
#[derive(clap::Args, Clone)]
pub struct FilterArgs {
    /// Start: now, -15m, -2h, -1d, "2026-11-28 14:05", RFC 3339, Unix ms.
    #[arg(long, default_value = "-1d", allow_hyphen_values = true)]
    from: String,
    /// End (exclusive).
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    to: String,
    /// Cameras (repeat or comma-separate).
    #[arg(long = "camera", value_delimiter = ',')]
    cameras: Vec<String>,
    /// Counties.
    #[arg(long = "county", value_delimiter = ',')]
    counties: Vec<String>,
    /// Regions by name, as configured at the platform (`[[platform.region]]`).
    #[arg(long = "region", value_delimiter = ',')]
    regions: Vec<String>,
    /// Vehicle classes: car, suv, pickup, van, bus, truck, motorcycle, bicycle.
    #[arg(long = "class", value_delimiter = ',')]
    classes: Vec<base::VehicleClass>,
    /// Colours: white, black, grey, red, blue, …
    #[arg(long = "color", value_delimiter = ',')]
    colors: Vec<base::VehicleColor>,
    /// Plate states: read, covered, unreadable, none, …
    #[arg(long = "state", value_delimiter = ',')]
    states: Vec<base::PlateState>,
    /// Plate pattern with * and ? (e.g. 晋M*23*).
    #[arg(long)]
    plate: Option<String>,
    /// Let confusable characters match (0/D/Q/O, 8/B, 1/I, 2/Z, 5/S, 6/G).
    #[arg(long)]
    fuzzy: bool,
}

impl FilterArgs {
    pub(crate) fn wire(&self, now: i64) -> anyhow::Result<v1::Filter> {
        Ok(v1::Filter {
            from_ms: timefmt::parse(&self.from, now).context("--from")?,
            to_ms: timefmt::parse(&self.to, now).context("--to")?,
            cameras: self.cameras.clone(),
            counties: self.counties.clone(),
            regions: self.regions.clone(),
            classes: self.classes.iter().map(|c| c.code()).collect(),
            colors: self.colors.iter().map(|c| c.code()).collect(),
            plate_states: self.states.iter().map(|c| c.code()).collect(),
            plate: self.plate.clone().unwrap_or_default(),
            fuzzy: self.fuzzy,
        })
    }
}

/// Output and server, common to every operation.
#[derive(clap::Args, Clone)]
pub struct Common {
    #[command(flatten)]
    server: crate::client::Server,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct FindArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    filter: FilterArgs,
    /// At most this many sightings.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// The next page of the same question: the cursor the previous page printed
    /// (`next page: --cursor …`, or `next_cursor` in `--json`).
    #[arg(long, allow_hyphen_values = true)]
    cursor: Option<String>,
}

/// A plate or a sighting (`origin#seq`).
#[derive(clap::Args, Clone)]
#[group(required = true, multiple = false)]
pub struct SubjectArgs {
    /// The plate, exactly as read.
    #[arg(long)]
    plate: Option<String>,
    /// One sighting of the vehicle (origin#seq, as `xueliang search` prints it).
    #[arg(long)]
    sighting: Option<String>,
}

impl SubjectArgs {
    fn wire(&self) -> anyhow::Result<v1::Subject> {
        use v1::subject::Subject as S;
        let s = match (&self.plate, &self.sighting) {
            (Some(p), _) => S::Plate(p.clone()),
            (None, Some(k)) => S::Sighting(key(k)?),
            (None, None) => bail!("give --plate or --sighting"),
        };
        Ok(v1::Subject { subject: Some(s) })
    }
}

fn key(text: &str) -> anyhow::Result<v1::SightingKey> {
    let (origin, seq) = text
        .rsplit_once('#')
        .filter(|(o, _)| !o.is_empty())
        .with_context(|| format!("sighting {text:?}: expected origin#seq"))?;
    Ok(v1::SightingKey {
        origin: origin.to_owned(),
        seq: seq
            .parse()
            .with_context(|| format!("sighting {text:?}: bad sequence number"))?,
    })
}

#[derive(clap::Args)]
pub struct TrajectoryArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    subject: SubjectArgs,
    #[arg(long, default_value = "-1d", allow_hyphen_values = true)]
    from: String,
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    to: String,
}

#[derive(clap::Args)]
pub struct TogetherArgs {
    #[command(flatten)]
    common: Common,
    /// A scene: `cam1,cam2@2026-11-28 01:00..02:00` (cameras may be empty: everywhere; the end
    /// may be a bare time on the start's day). Repeat for each scene.
    #[arg(long = "window", required = true)]
    windows: Vec<String>,
    /// Seen in at least this many windows (default: all).
    #[arg(long = "min")]
    min: Option<u32>,
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

#[derive(clap::Args)]
pub struct CompanionsArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    subject: SubjectArgs,
    #[arg(long, default_value = "-1d", allow_hyphen_values = true)]
    from: String,
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    to: String,
    /// Seconds apart at the same camera that still count as together.
    #[arg(long, default_value_t = 60)]
    gap: i64,
    /// Together at least this many times.
    #[arg(long = "min", default_value_t = 2)]
    min: u32,
}

#[derive(clap::Args)]
pub struct FirstEntryArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    filter: FilterArgs,
    /// How far back a plate must have been absent: 30m, 12h, 7d.
    #[arg(long, default_value = "7d")]
    lookback: String,
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

#[derive(clap::Args)]
pub struct ClonesArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    filter: FilterArgs,
    /// Faster than this between cameras is impossible (km/h).
    #[arg(long, default_value_t = 150.0)]
    max_speed: f64,
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

#[derive(clap::Args)]
pub struct SimilarArgs {
    #[command(flatten)]
    common: Common,
    /// The sighting whose vehicle to look for (origin#seq).
    #[arg(long)]
    sighting: String,
    #[command(flatten)]
    filter: FilterArgs,
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

/// `cam1,cam2@FROM..TO`.
fn window(text: &str, now: i64) -> anyhow::Result<v1::Filter> {
    let bad = || format!("--window {text:?}: expected cameras@FROM..TO");
    let (cams, span) = text.split_once('@').with_context(bad)?;
    let (from, to) = span.split_once("..").with_context(bad)?;
    let from_ms = timefmt::parse(from, now).with_context(bad)?;
    let to = to.trim();
    let to_ms = match from.trim().split_once(' ') {
        // "2026-11-28 01:00..02:00": the end on the start's day.
        Some((day, _)) if !to.contains('-') && to.contains(':') => {
            timefmt::parse(&format!("{day} {to}"), now)
        }
        _ => timefmt::parse(to, now),
    }
    .with_context(bad)?;
    Ok(v1::Filter {
        from_ms,
        to_ms,
        cameras: cams
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        ..Default::default()
    })
}

/// `7d` → ms.
fn duration(text: &str, now: i64) -> anyhow::Result<i64> {
    Ok(now - timefmt::parse(&format!("-{}", text.trim()), now).context("--lookback")?)
}

pub fn run(op: Op) -> anyhow::Result<()> {
    let now = base::now_ms();
    match op {
        Op::Watch(a) => return watch::watch(a, now),
        Op::Watchlist(op) => return watch::watchlist(op, now),
        Op::Alerts(a) => return watch::alerts(a),
        Op::Find(a) => {
            let request = v1::FindRequest {
                filter: Some(a.filter.wire(now)?),
                limit: a.limit,
                cursor: a.cursor.unwrap_or_default(),
            };
            let r = call(
                &a.common,
                |mut c, req| async move { c.find(req).await },
                request,
            )?;
            let sightings = decode(r.sightings)?;
            if a.common.json {
                return json_lines(&sightings, r.coverage, &r.next_cursor);
            }
            crate::search::table(&sightings);
            println!("{} of {} matching sightings", sightings.len(), r.total);
            print_coverage(r.coverage.as_ref());
            if !r.next_cursor.is_empty() {
                println!("next page: --cursor {}", r.next_cursor);
            }
        }
        Op::Trajectory(a) => {
            let request = v1::TrajectoryRequest {
                subject: Some(a.subject.wire()?),
                from_ms: timefmt::parse(&a.from, now).context("--from")?,
                to_ms: timefmt::parse(&a.to, now).context("--to")?,
                min_cosine: 0.0,
            };
            let r = call(
                &a.common,
                |mut c, req| async move { c.trajectory(req).await },
                request,
            )?;
            let mut rows = Vec::new();
            for s in r.stops {
                let sighting = base::Sighting::try_from(s.sighting.unwrap_or_default())?;
                rows.push((sighting, s.county, s.similarity));
            }
            if a.common.json {
                for (s, county, sim) in &rows {
                    let line =
                        serde_json::json!({ "sighting": s, "county": county, "similarity": sim });
                    println!("{line}");
                }
                return json_coverage(r.coverage);
            }
            println!(
                "{:<19}  {:<14}  {:<10}  {:<12}  {:>5}  sighting",
                "pass time", "camera", "county", "plate", "sim"
            );
            for (s, county, sim) in &rows {
                println!(
                    "{:<19}  {:<14}  {:<10}  {:<12}  {:>5}  {}",
                    timefmt::datetime(s.pass_time_ms),
                    s.camera,
                    if county.is_empty() { "-" } else { county },
                    plate(s),
                    sim.map_or("-".to_owned(), |x| format!("{x:.2}")),
                    s.key
                );
            }
            println!("{} stops", rows.len());
            print_coverage(r.coverage.as_ref());
        }
        Op::Together(a) => {
            let windows = a
                .windows
                .iter()
                .map(|w| window(w, now))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let request = v1::CoOccurrenceRequest {
                windows,
                min_windows: a.min.unwrap_or(0),
                min_cosine: 0.0,
                limit: a.limit,
            };
            let r = call(
                &a.common,
                |mut c, req| async move { c.co_occurrence(req).await },
                request,
            )?;
            if a.common.json {
                for v in &r.vehicles {
                    println!(
                        "{}",
                        serde_json::json!({
                            "plate": v.plate, "class": class_name(v.class), "color": color_name(v.color),
                            "windows": v.windows, "sightings": keys(&v.sightings),
                            "similarity": v.similarity, "score": v.score,
                        })
                    );
                }
                return json_coverage(r.coverage);
            }
            println!(
                "{:<12}  {:<10}  {:<7}  {:<9}  {:>5}  sightings",
                "plate", "class", "colour", "windows", "score"
            );
            for v in &r.vehicles {
                let windows: Vec<String> = v.windows.iter().map(|w| (w + 1).to_string()).collect();
                println!(
                    "{:<12}  {:<10}  {:<7}  {:<9}  {:>5.2}  {}",
                    if v.plate.is_empty() {
                        "(by look)"
                    } else {
                        &v.plate
                    },
                    class_name(v.class),
                    color_name(v.color),
                    windows.join(","),
                    v.score,
                    keys(&v.sightings).join(" ")
                );
            }
            println!("{} vehicles", r.vehicles.len());
            print_coverage(r.coverage.as_ref());
        }
        Op::Companions(a) => {
            let request = v1::CompanionsRequest {
                subject: Some(a.subject.wire()?),
                from_ms: timefmt::parse(&a.from, now).context("--from")?,
                to_ms: timefmt::parse(&a.to, now).context("--to")?,
                max_gap_ms: a.gap * 1000,
                min_times: a.min,
                min_cosine: 0.0,
                limit: 100,
            };
            let r = call(
                &a.common,
                |mut c, req| async move { c.companions(req).await },
                request,
            )?;
            if a.common.json {
                for c in &r.companions {
                    println!(
                        "{}",
                        serde_json::json!({
                            "plate": c.plate, "times": c.times, "cameras": c.cameras,
                            "sightings": keys(&c.sightings),
                        })
                    );
                }
                return json_coverage(r.coverage);
            }
            println!(
                "{:<12}  {:>5}  {:>7}  sightings",
                "plate", "times", "cameras"
            );
            for c in &r.companions {
                println!(
                    "{:<12}  {:>5}  {:>7}  {}",
                    c.plate,
                    c.times,
                    c.cameras,
                    keys(&c.sightings).join(" ")
                );
            }
            println!("{} companions", r.companions.len());
            print_coverage(r.coverage.as_ref());
        }
        Op::FirstEntry(a) => {
            let request = v1::FirstEntryRequest {
                region: Some(a.filter.wire(now)?),
                lookback_ms: duration(&a.lookback, now)?,
                limit: a.limit,
            };
            let r = call(
                &a.common,
                |mut c, req| async move { c.first_entry(req).await },
                request,
            )?;
            if a.common.json {
                for e in &r.entries {
                    println!(
                        "{}",
                        serde_json::json!({
                            "plate": e.plate, "camera": e.camera, "pass_time_ms": e.pass_time_ms,
                            "sighting": keys(e.sighting.as_slice()).pop(),
                        })
                    );
                }
                return json_coverage(r.coverage);
            }
            println!(
                "{:<19}  {:<12}  {:<14}  sighting",
                "first seen", "plate", "camera"
            );
            for e in &r.entries {
                println!(
                    "{:<19}  {:<12}  {:<14}  {}",
                    timefmt::datetime(e.pass_time_ms),
                    e.plate,
                    e.camera,
                    keys(e.sighting.as_slice()).join("")
                );
            }
            println!("{} first entries", r.entries.len());
            print_coverage(r.coverage.as_ref());
        }
        Op::Clones(a) => {
            let request = v1::ClonedPlatesRequest {
                filter: Some(a.filter.wire(now)?),
                max_speed_kmh: a.max_speed,
                limit: a.limit,
                ..Default::default()
            };
            let r = call(
                &a.common,
                |mut c, req| async move { c.cloned_plates(req).await },
                request,
            )?;
            if a.common.json {
                for p in &r.plates {
                    let evidence: Vec<String> = p.evidence.iter().map(evidence).collect();
                    println!(
                        "{}",
                        serde_json::json!({
                            "plate": p.plate, "sightings": p.sightings, "evidence": evidence,
                        })
                    );
                }
                return json_coverage(r.coverage);
            }
            for p in &r.plates {
                println!("{}  ({} sightings)", p.plate, p.sightings);
                for e in &p.evidence {
                    println!("  {}", evidence(e));
                }
            }
            println!("{} suspect plates", r.plates.len());
            print_coverage(r.coverage.as_ref());
        }
        Op::Similar(a) => {
            let request = v1::SimilarRequest {
                probe: Some(v1::similar_request::Probe::Sighting(key(&a.sighting)?)),
                filter: Some(a.filter.wire(now)?),
                limit: a.limit,
            };
            let r = call(
                &a.common,
                |mut c, req| async move { c.similar(req).await },
                request,
            )?;
            let mut rows = Vec::new();
            for s in r.sightings {
                rows.push((
                    base::Sighting::try_from(s.sighting.unwrap_or_default())?,
                    s.cosine,
                ));
            }
            if a.common.json {
                for (s, cosine) in &rows {
                    println!("{}", serde_json::json!({ "sighting": s, "cosine": cosine }));
                }
                return json_coverage(r.coverage);
            }
            println!(
                "{:>6}  {:<19}  {:<14}  {:<10}  {:<7}  {:<12}  sighting",
                "cosine", "pass time", "camera", "class", "colour", "plate"
            );
            for (s, cosine) in &rows {
                println!(
                    "{:>6.3}  {:<19}  {:<14}  {:<10}  {:<7}  {:<12}  {}",
                    cosine,
                    timefmt::datetime(s.pass_time_ms),
                    s.camera,
                    s.class.name(),
                    s.color.name(),
                    plate(s),
                    s.key
                );
            }
            println!("{} similar sightings", rows.len());
            print_coverage(r.coverage.as_ref());
        }
    }
    Ok(())
}

pub(crate) type Client = v1::search_client::SearchClient<tonic::transport::Channel>;

/// One call with the token attached; a refusal becomes one line.
pub(crate) fn call<Req, Resp, F, Fut>(common: &Common, f: F, request: Req) -> anyhow::Result<Resp>
where
    F: FnOnce(Client, tonic::Request<Req>) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
{
    let server = common.server.clone();
    crate::runtime()?.block_on(async move {
        let client = Client::new(server.channel().await?)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES);
        f(client, server.request(request)?)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| server.refused(s))
    })
}

fn decode(v: Vec<v1::Sighting>) -> anyhow::Result<Vec<base::Sighting>> {
    Ok(v.into_iter()
        .map(base::Sighting::try_from)
        .collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_lookbacks_parse() {
        let now = 1_800_000_000_000;
        let w = window("cam1, cam2@2026-11-28 01:00..02:00", now).unwrap();
        assert_eq!(w.cameras, ["cam1", "cam2"]);
        assert_eq!(
            w.to_ms - w.from_ms,
            3_600_000,
            "the end is on the start's day"
        );
        let everywhere = window("@-2h..-1h", now).unwrap();
        assert!(everywhere.cameras.is_empty());
        assert_eq!(everywhere.from_ms, now - 7_200_000);
        assert!(window("cam1 2026-11-28 01:00", now).is_err());
        assert_eq!(duration("7d", now).unwrap(), 7 * 86_400_000);
        assert!(key("edge-1#x").is_err());
        assert_eq!(key("edge#1#9").unwrap().origin, "edge#1");
    }
}
