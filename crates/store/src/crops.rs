//! Image crops kept where they were made (the edge): JPEG blobs under a byte budget.
//!
//! Crops never enter the outbox: sightings travel upward with a reference
//! (`xl://<node>/crop/<id>`) and a tier that wants the image fetches it through the Media
//! service. So when storage runs short, images go first: over the budget the oldest crops are
//! evicted and counted (`crops_shed_total`, reported upward in every batch), while sighting
//! metadata is only ever shed by the outbox's own bound. A reference to an evicted crop is
//! answered "shed", not "unknown".

use rusqlite::{params, OptionalExtension};

use crate::sqlite::meta;
use crate::{Error, Store};

/// Default crop budget: 1 GiB, some days of best shots for a busy edge node.
pub const DEFAULT_CROP_CAPACITY_BYTES: u64 = 1 << 30;

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CropLookup {
    Found(Vec<u8>),
    /// Evicted for the storage budget.
    Shed,
    Unknown,
}

impl Store {
    /// Bounds the bytes of crops kept; beyond it the oldest are evicted (and counted).
    pub fn with_crop_capacity(mut self, bytes: u64) -> Self {
        self.crop_capacity = bytes.max(1);
        self
    }

    /// Keeps a JPEG; returns its id. Evicts the oldest crops if the budget is exceeded.
    pub fn put_crop(&self, jpeg: &[u8]) -> Result<u64, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql("begin crop"))?;
        tx.execute(
            "INSERT INTO crops (at_ms, jpeg) VALUES (?1, ?2)",
            params![base::now_ms(), jpeg],
        )
        .map_err(self.sql("insert crop"))?;
        let id = tx.last_insert_rowid() as u64;
        let mut bytes =
            meta(&tx, "crop_bytes").map_err(self.sql("crop bytes"))? + jpeg.len() as u64;
        let mut shed = 0u64;
        let mut shed_through = 0u64;
        while bytes > self.crop_capacity {
            let oldest: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT id, length(jpeg) FROM crops ORDER BY id LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(self.sql("oldest crop"))?;
            let Some((old, len)) = oldest else { break };
            tx.execute("DELETE FROM crops WHERE id = ?1", [old])
                .map_err(self.sql("evict crop"))?;
            bytes = bytes.saturating_sub(len as u64);
            shed += 1;
            shed_through = old as u64;
        }
        let set = "INSERT INTO meta (key, value) VALUES (?1, ?2)
                   ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        tx.execute(set, params!["crop_bytes", bytes as i64])
            .map_err(self.sql("crop bytes"))?;
        if shed > 0 {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('crops_shed_total', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                [shed as i64],
            )
            .map_err(self.sql("count shed crops"))?;
            tx.execute(set, params!["crops_shed_through", shed_through as i64])
                .map_err(self.sql("count shed crops"))?;
            tracing::warn!(db = %self.path, shed, "crop budget full: oldest crops evicted");
        }
        tx.commit().map_err(self.sql("commit crop"))?;
        Ok(id)
    }

    /// The crop with `id`, or why there is none.
    pub fn crop(&self, id: u64) -> Result<CropLookup, Error> {
        let conn = self.conn();
        let jpeg: Option<Vec<u8>> = conn
            .query_row("SELECT jpeg FROM crops WHERE id = ?1", [id as i64], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.sql("read crop"))?;
        if let Some(j) = jpeg {
            return Ok(CropLookup::Found(j));
        }
        let through = meta(&conn, "crops_shed_through").map_err(self.sql("read crop"))?;
        Ok(if id > 0 && id <= through {
            CropLookup::Shed
        } else {
            CropLookup::Unknown
        })
    }

    /// Crops evicted for the budget, ever.
    pub fn crops_shed_total(&self) -> Result<u64, Error> {
        meta(&self.conn(), "crops_shed_total").map_err(self.sql("read crops shed"))
    }

    /// Which source delivered the sightings of `origin` (the next hop toward its crops).
    pub fn origin_via(&self, origin: &str) -> Result<Option<String>, Error> {
        self.conn()
            .query_row("SELECT via FROM origins WHERE origin = ?1", [origin], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.sql("read origin route"))
    }
}

/// A crop reference: `xl://<origin>/crop/<id>`.
pub fn crop_ref(origin: &str, id: u64) -> String {
    format!("xl://{origin}/crop/{id}")
}

/// (origin, id) of a crop reference, or why it is not one.
pub fn parse_crop_ref(r: &str) -> Result<(&str, u64), String> {
    let bad = || format!("{r:?} is not a crop reference (xl://<node>/crop/<id>)");
    let rest = r.strip_prefix("xl://").ok_or_else(bad)?;
    let (origin, id) = rest.split_once("/crop/").ok_or_else(bad)?;
    let id = id.parse::<u64>().map_err(|_| bad())?;
    if origin.is_empty() || id == 0 {
        return Err(bad());
    }
    Ok((origin, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_over_budget_are_evicted_oldest_first_and_counted() {
        let store = Store::open_in_memory().unwrap().with_crop_capacity(2500);
        let ids: Vec<u64> = (0..5u8)
            .map(|i| store.put_crop(&[i; 1000]).unwrap())
            .collect();
        // 5 × 1000 bytes into 2500: the three oldest go.
        assert_eq!(store.crops_shed_total().unwrap(), 3);
        assert_eq!(store.crop(ids[0]).unwrap(), CropLookup::Shed);
        assert_eq!(store.crop(ids[2]).unwrap(), CropLookup::Shed);
        assert_eq!(
            store.crop(ids[4]).unwrap(),
            CropLookup::Found(vec![4; 1000])
        );
        assert_eq!(store.crop(99).unwrap(), CropLookup::Unknown);
        // Sighting metadata is untouched by crop pressure.
        store
            .record("edge-1", vec![base::Sighting::default()])
            .unwrap();
        assert_eq!(store.stats().unwrap().outbox_pending, 1);
        assert_eq!(store.stats().unwrap().outbox_shed_total, 0);
    }

    #[test]
    fn crop_references_round_trip() {
        let r = crop_ref("edge-1", 42);
        assert_eq!(parse_crop_ref(&r), Ok(("edge-1", 42)));
        for bad in [
            "",
            "xl://edge-1/crop/",
            "xl:///crop/1",
            "http://x/crop/1",
            "xl://e/crop/0",
        ] {
            assert!(parse_crop_ref(bad).is_err(), "{bad}");
        }
    }
}
