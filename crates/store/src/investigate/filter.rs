//! [`Filter`]: what sightings an investigator means (time range, cameras / counties / regions,
//! vehicle class and colour, plate state, plate pattern), compiled once to SQL over one
//! covering index, and [`Store::find`]: one newest-first page of matches with a keyset cursor.
//!
//! Planning is done here, not left to SQLite (`INDEXED BY`), so a query's cost does not depend
//! on whether `ANALYZE` ran:
//! 1. a plate pattern with a fixed normalised prefix of 3+ characters → `sightings_by_plate`
//!    (a prefix of 1–2 characters, like `M` in a city whose plates are all 晋M, selects nothing);
//! 2. cameras in scope → `sightings_by_camera` (one range per camera);
//! 3. a selective attribute filter (class *and* colour, or only plates that were not read) →
//!    `sightings_by_attr`, with the unconstrained attribute columns expanded to `IN (all)` so
//!    every constrained combination is one index range;
//! 4. otherwise → `sightings_by_time`, which holds every filtered column, so even a day-long
//!    scan never reads a record.
//!
//! Scopes: `cameras`, `counties` and `regions` are a union; all empty means every camera. A
//! scope that resolves to no camera matches nothing (it is not "everywhere").

use std::collections::BTreeSet;

use base::{PlateState, VehicleClass, VehicleColor};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use super::{geo, load_sightings, Answer, Hit, PlatePattern, Region};
use crate::query::{Cursor, Page, DEFAULT_LIMIT, MAX_LIMIT};
use crate::{Error, Store};

/// Longest time range a filter may span: a bound, so that no query scans years.
pub const MAX_RANGE_MS: i64 = 400 * 86_400_000;

/// Which sightings a question is about.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Inclusive start, Unix ms (mandatory).
    pub from_ms: i64,
    /// Exclusive end, Unix ms (mandatory, at most [`MAX_RANGE_MS`] after `from_ms`).
    pub to_ms: i64,
    /// Camera ids.
    pub cameras: Vec<String>,
    /// Counties, as in `cameras_geo.county`.
    pub counties: Vec<String>,
    /// Polygons, resolved to the cameras of `cameras_geo` inside them.
    pub regions: Vec<Region>,
    pub classes: Vec<VehicleClass>,
    pub colors: Vec<VehicleColor>,
    pub plate_states: Vec<PlateState>,
    /// Implies a read plate.
    pub plate: Option<PlatePattern>,
}

impl Filter {
    /// Everything in `[from_ms, to_ms)`.
    pub fn between(from_ms: i64, to_ms: i64) -> Self {
        Filter {
            from_ms,
            to_ms,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), Error> {
        if self.to_ms <= self.from_ms {
            return Err(Error::Query(format!(
                "time range is empty: from {} must be before to {}",
                self.from_ms, self.to_ms
            )));
        }
        if self.to_ms - self.from_ms > MAX_RANGE_MS {
            return Err(Error::Query(format!(
                "time range of {} days is longer than the maximum of {} days",
                (self.to_ms - self.from_ms) / 86_400_000,
                MAX_RANGE_MS / 86_400_000
            )));
        }
        if let Some(r) = self.regions.iter().find(|r| r.polygon.len() < 3) {
            return Err(Error::Query(format!(
                "region {:?} needs at least 3 vertices",
                r.name
            )));
        }
        Ok(())
    }

    fn has_scope(&self) -> bool {
        !(self.cameras.is_empty() && self.counties.is_empty() && self.regions.is_empty())
    }
}

/// The cameras a question covers: every camera, or a set.
pub(crate) type Scope = Option<BTreeSet<String>>;

/// Resolves the filter's cameras, counties and regions to camera ids.
pub(crate) fn resolve_scope(conn: &Connection, f: &Filter) -> rusqlite::Result<Scope> {
    if !f.has_scope() {
        return Ok(None);
    }
    let mut cams: BTreeSet<String> = f.cameras.iter().cloned().collect();
    if !f.counties.is_empty() || !f.regions.is_empty() {
        for c in geo::read_geo(conn)? {
            if f.counties.contains(&c.county) || f.regions.iter().any(|r| r.contains(c.lat, c.lon))
            {
                cams.insert(c.camera);
            }
        }
    }
    Ok(Some(cams))
}

/// A filter as SQL over `sightings s`: `FROM … WHERE …` and its arguments.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub index: &'static str,
    pub filter: String,
    pub args: Vec<Value>,
    pub scope: Scope,
}

impl Compiled {
    pub(crate) fn sql_from_where(&self) -> String {
        format!(
            "FROM sightings s INDEXED BY {} WHERE {}",
            self.index, self.filter
        )
    }

    /// Scope resolved to no camera: nothing can match.
    pub(crate) fn is_empty(&self) -> bool {
        self.scope.as_ref().is_some_and(|s| s.is_empty())
    }
}

fn push_in(filter: &mut String, args: &mut Vec<Value>, column: &str, values: Vec<Value>) {
    filter.push_str(&format!(
        " AND {column} IN ({})",
        vec!["?"; values.len()].join(", ")
    ));
    args.extend(values);
}

/// Compiles `f` (already validated) with its scope resolved.
pub(crate) fn compile(conn: &Connection, f: &Filter) -> rusqlite::Result<Compiled> {
    let scope = resolve_scope(conn, f)?;
    let mut filter = String::from("s.pass_time >= ? AND s.pass_time < ?");
    let mut args = vec![Value::Integer(f.from_ms), Value::Integer(f.to_ms)];
    let plate_range = f
        .plate
        .as_ref()
        .and_then(|p| p.norm_range())
        .filter(|(lo, _)| lo.chars().count() >= 3);
    let unread_only = !f.plate_states.is_empty()
        && !f.plate_states.contains(&PlateState::Read)
        && f.plate.is_none();
    let index = if plate_range.is_some() {
        "sightings_by_plate"
    } else if scope.is_some() {
        "sightings_by_camera"
    } else if (!f.classes.is_empty() && !f.colors.is_empty()) || unread_only {
        "sightings_by_attr"
    } else {
        "sightings_by_time"
    };
    let expand = index == "sightings_by_attr";
    if let Some(cams) = &scope {
        let v = cams.iter().map(|c| Value::Text(c.clone())).collect();
        push_in(&mut filter, &mut args, "s.camera", v);
    }
    let codes = |given: Vec<i32>, all: Vec<i32>| if given.is_empty() { all } else { given };
    let classes = codes(
        f.classes.iter().map(|c| c.code()).collect(),
        VehicleClass::ALL.iter().map(|c| c.code()).collect(),
    );
    let colors = codes(
        f.colors.iter().map(|c| c.code()).collect(),
        VehicleColor::ALL.iter().map(|c| c.code()).collect(),
    );
    let states = codes(
        f.plate_states.iter().map(|c| c.code()).collect(),
        PlateState::ALL.iter().map(|c| c.code()).collect(),
    );
    for (column, given, codes) in [
        ("s.class", !f.classes.is_empty(), classes),
        ("s.color", !f.colors.is_empty(), colors),
        ("s.plate_state", !f.plate_states.is_empty(), states),
    ] {
        if given || expand {
            let v = codes
                .into_iter()
                .map(|c| Value::Integer(c.into()))
                .collect();
            push_in(&mut filter, &mut args, column, v);
        }
    }
    if let Some(p) = &f.plate {
        if let Some((lo, hi)) = &plate_range {
            filter.push_str(" AND s.plate_norm >= ? AND s.plate_norm < ?");
            args.push(Value::Text(lo.clone()));
            args.push(Value::Text(hi.clone()));
        }
        filter.push_str(" AND s.plate_norm GLOB ?");
        args.push(Value::Text(p.norm_glob().to_owned()));
        if let Some(g) = p.text_glob() {
            filter.push_str(" AND s.plate_text GLOB ?");
            args.push(Value::Text(g.to_owned()));
        }
    }
    Ok(Compiled {
        index,
        filter,
        args,
        scope,
    })
}

/// Every match of `c` as index-only rows, at most `cap` (an error beyond: narrow the query).
pub(crate) fn hits(
    store: &Store,
    conn: &Connection,
    c: &Compiled,
    cap: usize,
) -> Result<Vec<Hit>, Error> {
    if c.is_empty() {
        return Ok(Vec::new());
    }
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {} {} LIMIT {}",
            Hit::COLUMNS,
            c.sql_from_where(),
            cap + 1
        ))
        .map_err(store.sql("scan sightings"))?;
    let out = st
        .query_map(params_from_iter(c.args.iter()), Hit::from_row)
        .map_err(store.sql("scan sightings"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(store.sql("scan sightings"))?;
    if out.len() > cap {
        return Err(Error::Query(format!(
            "more than {cap} sightings match one window; narrow its time, cameras or attributes"
        )));
    }
    Ok(out)
}

impl Store {
    /// One page of sightings matching `f`, newest first, continuing after `cursor`; `total`
    /// counts every match in the range. `limit` 0 means the default page size.
    pub fn find(
        &self,
        f: &Filter,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Answer<Page>, Error> {
        f.validate()?;
        let limit = match limit {
            0 => DEFAULT_LIMIT,
            n if n > MAX_LIMIT => {
                return Err(Error::Query(format!(
                    "limit {n} is above the maximum of {MAX_LIMIT}"
                )))
            }
            n => n,
        };
        let conn = self.conn();
        let c = compile(&conn, f).map_err(self.sql("resolve scope"))?;
        let coverage = super::coverage::coverage(self, &conn, &c.scope, f.from_ms, f.to_ms)?;
        let result = self.page(&conn, &c, limit, cursor)?;
        Ok(Answer { result, coverage })
    }

    /// One page of `c`'s matches (see [`Store::find`]).
    pub(crate) fn page(
        &self,
        conn: &Connection,
        c: &Compiled,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Page, Error> {
        if c.is_empty() {
            return Ok(Page::default());
        }
        let total: i64 = conn
            .prepare_cached(&format!("SELECT count(*) {}", c.sql_from_where()))
            .and_then(|mut st| st.query_row(params_from_iter(c.args.iter()), |r| r.get(0)))
            .map_err(self.sql("count matches"))?;
        // Keys first, from the covering index alone (sorting whole records would read every
        // match's JSON), then the page's records.
        let mut args = c.args.clone();
        let mut sql = format!("SELECT s.origin, s.seq {}", c.sql_from_where());
        if let Some(cur) = cursor {
            sql.push_str(" AND (s.pass_time, s.origin, s.seq) < (?, ?, ?)");
            args.push(Value::Integer(cur.pass_time_ms));
            args.push(Value::Text(cur.origin.clone()));
            args.push(Value::Integer(cur.seq as i64));
        }
        sql.push_str(" ORDER BY s.pass_time DESC, s.origin DESC, s.seq DESC LIMIT ?");
        args.push(Value::Integer(limit as i64 + 1));
        let keys = conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(params_from_iter(args.iter()), |r| {
                    Ok(base::SightingKey {
                        origin: r.get(0)?,
                        seq: r.get::<_, i64>(1)? as u64,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.sql("search"))?;
        let mut sightings = load_sightings(self, conn, &keys)?;
        let next = if sightings.len() > limit {
            sightings.truncate(limit);
            sightings.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page {
            sightings,
            next,
            total: total as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::testutil::{at, plated, town};
    use base::PlateState;

    #[test]
    fn planner_picks_the_covering_index() {
        let store = Store::open_in_memory().unwrap();
        let conn = store.conn();
        let f = Filter::between(0, 10);
        assert_eq!(compile(&conn, &f).unwrap().index, "sightings_by_time");
        let f = Filter {
            plate: Some(PlatePattern::fuzzy("晋M8D*").unwrap()),
            ..Filter::between(0, 10)
        };
        assert_eq!(compile(&conn, &f).unwrap().index, "sightings_by_plate");
        let f = Filter {
            plate: Some(PlatePattern::exact("晋M*23*").unwrap()),
            cameras: vec!["a".into()],
            ..Filter::between(0, 10)
        };
        assert_eq!(compile(&conn, &f).unwrap().index, "sightings_by_camera");
        let f = Filter {
            plate_states: vec![PlateState::Covered],
            ..Filter::between(0, 10)
        };
        assert_eq!(compile(&conn, &f).unwrap().index, "sightings_by_attr");
        // The plans are valid SQL for SQLite (INDEXED BY fails loudly otherwise).
        drop(conn);
        for f in [
            Filter::between(0, 10),
            Filter {
                plate_states: vec![PlateState::Covered],
                classes: vec![VehicleClass::Suv],
                ..Filter::between(0, 10)
            },
            Filter {
                plate: Some(PlatePattern::fuzzy("M8D1*").unwrap()),
                ..Filter::between(0, 10)
            },
        ] {
            store.find(&f, 10, None).unwrap();
        }
    }

    #[test]
    fn find_by_pattern_fuzzy_attributes_and_region_with_pages() {
        let store = town();
        let t0 = at(0);
        let mut batch = Vec::new();
        for (i, plate) in ["晋M12345", "晋M1Z345", "晋MA2345", "京M12345", "晋M88123"]
            .iter()
            .enumerate()
        {
            batch.push(plated(plate, "c-north", t0 + i as i64 * 1000));
        }
        let mut covered = plated("晋M00000", "c-south", t0 + 9000);
        covered.plate.state = PlateState::Covered;
        covered.plate.text = None;
        batch.push(covered);
        store.record("e", batch).unwrap();
        let plates = |f: Filter| -> Vec<String> {
            let mut v: Vec<String> = store
                .find(&f, 0, None)
                .unwrap()
                .result
                .sightings
                .iter()
                .filter_map(|s| s.plate.text.clone())
                .collect();
            v.sort();
            v
        };
        let day = Filter::between(t0, t0 + 86_400_000);
        let with = |p: PlatePattern| Filter {
            plate: Some(p),
            ..day.clone()
        };
        assert_eq!(
            plates(with(PlatePattern::exact("晋M*23*").unwrap())),
            ["晋M12345", "晋M88123", "晋MA2345"]
        );
        assert_eq!(
            plates(with(PlatePattern::fuzzy("晋M12345").unwrap())),
            ["晋M12345", "晋M1Z345"]
        );
        assert_eq!(
            plates(with(PlatePattern::fuzzy("?M1234S").unwrap())),
            ["京M12345", "晋M12345", "晋M1Z345"]
        );
        assert_eq!(
            plates(with(PlatePattern::exact("M1?345").unwrap())),
            ["京M12345", "晋M12345", "晋M1Z345"]
        );
        // Plate state and region.
        let covered = store
            .find(
                &Filter {
                    plate_states: vec![PlateState::Covered, PlateState::Unreadable],
                    ..day.clone()
                },
                0,
                None,
            )
            .unwrap();
        assert_eq!(covered.result.total, 1);
        let north = Region::new(
            "north",
            vec![(35.05, 110.9), (35.05, 111.2), (35.2, 111.2), (35.2, 110.9)],
        );
        let in_north = store
            .find(
                &Filter {
                    regions: vec![north],
                    ..day.clone()
                },
                2,
                None,
            )
            .unwrap();
        assert_eq!(in_north.result.total, 5);
        assert_eq!(
            in_north.coverage.cameras,
            Some(vec!["c-east".into(), "c-north".into(), "c-north-2".into()])
        );
        // Pages continue without gaps or repeats.
        let next = in_north.result.next.clone().unwrap();
        let page2 = store
            .find(
                &Filter {
                    cameras: vec!["c-north".into()],
                    ..day.clone()
                },
                2,
                Some(&next),
            )
            .unwrap();
        assert_eq!(page2.result.sightings[0].pass_time_ms, t0 + 2000);
        // A region with no camera matches nothing.
        let empty = Region::new("sea", vec![(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]);
        let none = store
            .find(
                &Filter {
                    regions: vec![empty],
                    ..day.clone()
                },
                0,
                None,
            )
            .unwrap();
        assert_eq!(none.result.total, 0);
        // Unbounded or reversed ranges are refused.
        assert!(store.find(&Filter::between(10, 5), 0, None).is_err());
        assert!(store
            .find(&Filter::between(0, MAX_RANGE_MS + 1), 0, None)
            .is_err());
    }
}
