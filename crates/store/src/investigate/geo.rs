//! Where cameras are: the `cameras_geo` table (camera → county, latitude, longitude), regions as
//! polygons, and distances.
//!
//! Regions (the county-border ring, the central-city ring, a town) are polygons in WGS-84
//! degrees given with the query; the config names them. A region means "the cameras inside it":
//! it is resolved once per query by a point-in-polygon test over `cameras_geo` (a few thousand
//! cameras: microseconds), so the sightings indexes only ever see camera ids. A camera without a
//! position is in no region. Distances are great-circle (haversine), good to well under 1 % at
//! city scale — far finer than the speed threshold of a cloned-plate check.

use rusqlite::{params, OptionalExtension};

use crate::{Error, Store};

/// A camera's place: its county and position (WGS-84 degrees).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CameraGeo {
    pub camera: String,
    pub county: String,
    pub lat: f64,
    pub lon: f64,
}

/// A named polygon (its vertices in order, lat/lon degrees; closing edge implied).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Region {
    pub name: String,
    pub polygon: Vec<(f64, f64)>,
}

impl Region {
    pub fn new(name: &str, polygon: Vec<(f64, f64)>) -> Self {
        Region {
            name: name.to_owned(),
            polygon,
        }
    }

    /// Whether (lat, lon) lies inside (even-odd rule; points on an edge may fall either way).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        let p = &self.polygon;
        let mut inside = false;
        let mut j = p.len().wrapping_sub(1);
        for i in 0..p.len() {
            let (yi, xi) = p[i];
            let (yj, xj) = p[j];
            if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

/// Great-circle distance in kilometres.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_KM: f64 = 6371.0;
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_KM * h.sqrt().min(1.0).asin()
}

impl Store {
    /// Adds or replaces camera positions (one transaction). The cloned-plate pairs of a camera
    /// that is new or moved are re-judged (its read sightings, once).
    pub fn put_cameras_geo(&self, cameras: &[CameraGeo]) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql("begin cameras_geo"))?;
        for c in cameras {
            if !(-90.0..=90.0).contains(&c.lat) || !(-180.0..=180.0).contains(&c.lon) {
                return Err(Error::Query(format!(
                    "camera {}: position ({}, {}) is not latitude/longitude in degrees",
                    c.camera, c.lat, c.lon
                )));
            }
            let was: Option<(f64, f64)> = tx
                .prepare_cached("SELECT lat, lon FROM cameras_geo WHERE camera = ?1")
                .and_then(|mut st| {
                    st.query_row([&c.camera], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(self.sql("read cameras_geo"))?;
            tx.prepare_cached(
                "INSERT INTO cameras_geo (camera, county, lat, lon) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(camera) DO UPDATE SET county = excluded.county,
                     lat = excluded.lat, lon = excluded.lon",
            )
            .and_then(|mut st| st.execute(params![c.camera, c.county, c.lat, c.lon]))
            .map_err(self.sql("store cameras_geo"))?;
            // A camera placed or moved: its pairs may now be fast (or no longer).
            if was != Some((c.lat, c.lon)) {
                super::hops::refresh_camera(&tx, &c.camera)
                    .map_err(self.sql("refresh plate hops"))?;
            }
        }
        tx.commit().map_err(self.sql("commit cameras_geo"))
    }

    /// Every camera with a known position, by camera id.
    pub fn cameras_geo(&self) -> Result<Vec<CameraGeo>, Error> {
        let conn = self.conn();
        read_geo(&conn).map_err(self.sql("read cameras_geo"))
    }
}

pub(crate) fn read_geo(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<CameraGeo>> {
    let mut st =
        conn.prepare_cached("SELECT camera, county, lat, lon FROM cameras_geo ORDER BY camera")?;
    let rows = st.query_map([], |r| {
        Ok(CameraGeo {
            camera: r.get(0)?,
            county: r.get(1)?,
            lat: r.get(2)?,
            lon: r.get(3)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_contains_and_distance() {
        let square = Region::new(
            "sq",
            vec![(35.0, 111.0), (35.0, 111.1), (35.1, 111.1), (35.1, 111.0)],
        );
        assert!(square.contains(35.05, 111.05));
        assert!(!square.contains(35.2, 111.05));
        assert!(!square.contains(35.05, 110.99));
        // A ring: a square with a square hole is two polygons in config; one concave shape here.
        let l_shape = Region::new(
            "L",
            vec![
                (0.0, 0.0),
                (0.0, 2.0),
                (1.0, 2.0),
                (1.0, 1.0),
                (2.0, 1.0),
                (2.0, 0.0),
            ],
        );
        assert!(l_shape.contains(0.5, 1.5));
        assert!(!l_shape.contains(1.5, 1.5));
        // One degree of latitude is ~111 km.
        let d = distance_km((35.0, 111.0), (36.0, 111.0));
        assert!((d - 111.2).abs() < 0.5, "{d}");
        assert_eq!(distance_km((35.0, 111.0), (35.0, 111.0)), 0.0);
    }

    #[test]
    fn cameras_geo_upserts() {
        let store = Store::open_in_memory().unwrap();
        let cam = |c: &str, lat| CameraGeo {
            camera: c.into(),
            county: "盐湖区".into(),
            lat,
            lon: 111.0,
        };
        store
            .put_cameras_geo(&[cam("a", 35.0), cam("b", 35.1)])
            .unwrap();
        store.put_cameras_geo(&[cam("a", 35.5)]).unwrap();
        let all = store.cameras_geo().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].lat, 35.5);
        assert!(store.put_cameras_geo(&[cam("c", 135.0)]).is_err());
    }
}
