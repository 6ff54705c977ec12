//! The outbox: what this node still owes its upstream, oldest first.
//!
//! Items are numbered by SQLite `AUTOINCREMENT`, so a sequence number is never reused, even
//! after the outbox empties. An item leaves only when the upstream acked it ([`Store::ack`]),
//! or when the outbox overflows its capacity: then the oldest items are shed and counted in
//! `meta.shed_total`, which every batch reports upward. Health reports supersede each other:
//! queueing one removes the pending older report of the same node (see `health.rs`).

use rusqlite::{params, OptionalExtension};

use crate::investigate::schema::delete_sighting;
use crate::sqlite::{insert_sighting, meta, to_json};
use crate::{Error, Item, OutboxItem, Store};

impl Store {
    /// Up to `limit` outbox items with seq > `after`, oldest first.
    pub fn pending(&self, after: u64, limit: usize) -> Result<Vec<OutboxItem>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT seq, body FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(self.sql("read outbox"))?;
        let rows = stmt
            .query_map(params![after as i64, limit as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })
            .map_err(self.sql("read outbox"))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, body) = row.map_err(self.sql("read outbox"))?;
            out.push(OutboxItem {
                seq,
                item: self.decode(&body, "read outbox")?,
            });
        }
        Ok(out)
    }

    /// Forgets outbox items with seq <= `through`: the upstream has committed them.
    pub fn ack(&self, through: u64) -> Result<u64, Error> {
        let conn = self.conn();
        let n = conn
            .execute("DELETE FROM outbox WHERE seq <= ?1", [through as i64])
            .map_err(self.sql("ack outbox"))?;
        Ok(n as u64)
    }

    /// Makes every pending outbox item numbered above `high_water`, the upstream's mark for
    /// this node, when this database has numbered fewer items than that: it was reset while
    /// the upstream remembers the old numbers, and without this the upstream would skip new
    /// items as replays. Otherwise nothing changes. Sightings
    /// made here (`key.origin == origin`) are renumbered too. Returns the items moved.
    pub fn rebase_outbox(&self, origin: &str, high_water: u64) -> Result<u64, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql("begin rebase"))?;
        let last: Option<i64> = tx
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql("rebase outbox"))?;
        // Only a reset database has numbered fewer items than the upstream has seen. Pending
        // items at or below the mark are normal after a crash between the upstream's commit and
        // the local ack: they were delivered, and the ack that follows deletes them.
        if last.unwrap_or(0) as u64 >= high_water {
            return Ok(0);
        }
        let rows: Vec<(i64, String)> = tx
            .prepare("SELECT seq, body FROM outbox ORDER BY seq")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(self.sql("rebase outbox"))?;
        tx.execute("DELETE FROM outbox", [])
            .map_err(self.sql("rebase outbox"))?;
        // sqlite_sequence has no key on `name`: update the row, or add it if none exists yet.
        let updated = tx
            .execute(
                "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'outbox'",
                [high_water as i64],
            )
            .map_err(self.sql("rebase outbox"))?;
        if updated == 0 {
            tx.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?1)",
                [high_water as i64],
            )
            .map_err(self.sql("rebase outbox"))?;
        }
        for (_, body) in &rows {
            let mut item: Item = self.decode(body, "rebase outbox")?;
            let (kind, node) = item.outbox_key();
            tx.execute(
                "INSERT INTO outbox (kind, node, body) VALUES (?1, ?2, '')",
                params![kind, node],
            )
            .map_err(self.sql("rebase outbox"))?;
            let seq = tx.last_insert_rowid() as u64;
            // Sightings made here take the new number; forwarded ones keep their identity.
            if let Item::Sighting(s) = &mut item {
                if s.key.origin == origin {
                    delete_sighting(&tx, s).map_err(self.sql("rebase outbox"))?;
                    s.key.seq = seq;
                    insert_sighting(&tx, s).map_err(self.sql("rebase outbox"))?;
                }
            }
            tx.execute(
                "UPDATE outbox SET body = ?1 WHERE seq = ?2",
                params![to_json(&item), seq as i64],
            )
            .map_err(self.sql("rebase outbox"))?;
        }
        tx.commit().map_err(self.sql("commit rebase"))?;
        Ok(rows.len() as u64)
    }

    /// Items shed from the outbox since the database was created.
    pub fn shed_total(&self) -> Result<u64, Error> {
        let conn = self.conn();
        meta(&conn, "shed_total").map_err(self.sql("read shed total"))
    }

    pub(crate) fn shed_overflow(&self, tx: &rusqlite::Transaction<'_>) -> Result<u64, Error> {
        let len: i64 = tx
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
            .map_err(self.sql("count outbox"))?;
        let over = len as u64 - (len as u64).min(self.outbox_capacity);
        if over == 0 {
            return Ok(0);
        }
        tx.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?1)",
            [over as i64],
        )
        .map_err(self.sql("shed outbox"))?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('shed_total', ?1)
             ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            [over as i64],
        )
        .map_err(self.sql("count shed"))?;
        tracing::warn!(db = %self.path, shed = over, "outbox full: oldest items shed");
        Ok(over)
    }
}
