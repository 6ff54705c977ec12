//! Federation chaos on loopback, every node its own `xueliang` process over TLS: 100,000
//! sightings leave an edge (`xueliang feed`) for a county and on to the city while the county
//! is SIGKILLed and restarted twice, the city is down for a while, and the edge itself is
//! SIGKILLed mid-stream and restarted. The city must end with exactly the 100,000 sightings
//! the edge made: no duplicates, no gaps.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const COUNT: u64 = 100_000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One node process; its output goes to `dir/<name>.log` (appended across restarts).
struct Node {
    name: String,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn start(name: &str, dir: &Path, args: &[&str]) -> Node {
        let mut n = Node {
            name: name.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            dir: dir.to_owned(),
            child: None,
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{}.log", self.name)))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_xueliang"))
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown code runs, whatever was in flight is cut.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.log", self.name))).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn platform_config(dir: &Path, node: &str, port: u16, upstream: Option<u16>) -> PathBuf {
    let pki = dir.join("pki");
    let mut text = format!(
        "[platform]\nnode = \"{node}\"\nlisten = \"127.0.0.1:{port}\"\nhttp_listen = \"127.0.0.1:0\"\n\
         database = \"{db}\"\n",
        db = dir.join(format!("{node}.sqlite")).display()
    );
    if let Some(up) = upstream {
        text += &format!("upstream = \"https://127.0.0.1:{up}\"\nallowed_sources = [\"edge-1\"]\n");
    } else {
        text += "allowed_sources = [\"county-1\"]\n";
    }
    text += &format!(
        "[platform.tls]\nca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\n",
        ca = pki.join("ca.pem").display(),
        cert = pki.join(format!("{node}.pem")).display(),
        key = pki.join(format!("{node}.key")).display()
    );
    let path = dir.join(format!("{node}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// (count, distinct plates, min seq, max seq) of edge-1's sightings in a node's database.
fn census(db: &Path) -> (u64, u64, u64, u64) {
    if !db.exists() {
        return (0, 0, 0, 0);
    }
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT count(*), count(DISTINCT plate_text), coalesce(min(seq), 0), coalesce(max(seq), 0) \
         FROM sightings WHERE origin = 'edge-1'",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64, r.get::<_, i64>(3)? as u64)),
    )
    .unwrap_or((0, 0, 0, 0))
}

fn wait_for(what: &str, deadline: Instant, nodes: &[&Node], mut done: impl FnMut() -> bool) {
    while !done() {
        if Instant::now() > deadline {
            let logs: Vec<String> = nodes
                .iter()
                .map(|n| {
                    let log = n.log();
                    let tail: Vec<&str> = log.lines().rev().take(15).collect();
                    format!(
                        "--- {} ---\n{}",
                        n.name,
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    )
                })
                .collect();
            panic!("timed out waiting for {what}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn hundred_thousand_sightings_survive_kills_and_outages() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let pki = dir.join("pki");
    uplink::tls::dev_ca::ensure_ca(&pki).unwrap();
    for node in ["city", "county-1", "edge-1"] {
        uplink::tls::dev_ca::issue(&pki, node, &["127.0.0.1".into()]).unwrap();
    }
    let (city_port, county_port) = (free_port(), free_port());
    let city_cfg = platform_config(dir, "city", city_port, None);
    let county_cfg = platform_config(dir, "county-1", county_port, Some(city_port));
    let city_db = dir.join("city.sqlite");
    let county_db = dir.join("county-1.sqlite");
    let upstream = format!("https://127.0.0.1:{county_port}");
    let edge_db = dir.join("edge-1.sqlite");
    let count = COUNT.to_string();
    let feed_args = [
        "feed",
        "--node",
        "edge-1",
        "--upstream",
        &upstream,
        "--tls-dir",
        pki.to_str().unwrap(),
        "--database",
        edge_db.to_str().unwrap(),
        "--count",
        &count,
        "--rate",
        "5000",
    ];
    let deadline = Instant::now() + Duration::from_secs(600);

    let mut city = Node::start("city", dir, &["platform", "-c", city_cfg.to_str().unwrap()]);
    let mut county = Node::start(
        "county",
        dir,
        &["platform", "-c", county_cfg.to_str().unwrap()],
    );
    let mut edge = Node::start("edge", dir, &feed_args);
    let at_city = || census(&city_db).0;

    // The county dies twice while sightings stream through it.
    wait_for(
        "15k at the city",
        deadline,
        &[&city, &county, &edge],
        || at_city() >= 15_000,
    );
    county.kill();
    std::thread::sleep(Duration::from_millis(1500));
    county.spawn();
    wait_for(
        "35k at the city",
        deadline,
        &[&city, &county, &edge],
        || at_city() >= 35_000,
    );
    county.kill();
    county.spawn();

    // The city goes away for a while; the county keeps taking from the edge meanwhile.
    wait_for(
        "50k at the city",
        deadline,
        &[&city, &county, &edge],
        || at_city() >= 50_000,
    );
    city.kill();
    let county_before = census(&county_db).0;
    wait_for(
        "the county to go on without the city",
        deadline,
        &[&county, &edge],
        || census(&county_db).0 >= county_before + 5_000,
    );
    std::thread::sleep(Duration::from_secs(2));
    city.spawn();

    // The edge dies mid-stream and resumes from its own outbox.
    wait_for(
        "70k at the city",
        deadline,
        &[&city, &county, &edge],
        || at_city() >= 70_000,
    );
    edge.kill();
    edge.spawn();

    wait_for(
        "the edge to finish",
        deadline,
        &[&city, &county, &edge],
        || edge.log().contains("recorded and acked"),
    );
    let status = edge.child.take().unwrap().wait().unwrap();
    assert!(status.success(), "feed failed: {}", edge.log());
    wait_for(
        "everything at the city",
        deadline,
        &[&city, &county],
        || at_city() >= COUNT,
    );
    std::thread::sleep(Duration::from_millis(500));

    for (tier, db) in [("county", &county_db), ("city", &city_db)] {
        let (n, plates, min, max) = census(db);
        assert_eq!(n, COUNT, "{tier}: sightings");
        assert_eq!(
            plates, COUNT,
            "{tier}: a vehicle stored twice under two numbers"
        );
        assert_eq!((min, max), (1, COUNT), "{tier}: a gap in the sequence");
    }
    assert!(edge.log().contains("resuming after"), "{}", edge.log());
    drop(county);
    drop(city);
}
