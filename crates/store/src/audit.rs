//! The audit log of investigators' searches: who asked what, when, and how many results came
//! back. One row per call, appended by the platform's search API (gRPC and HTTP) and read back
//! by admins (`/api/v1/audit`); a call that got no answer (a bad question, a failed store) has
//! its row too, with 0 results and the reason in `refused`. The table is append-only; rows are
//! never updated, and are kept as long as the database (retention of the log is the operator's
//! decision, not the search's).
//!
//! Cost: one small insert per search call, in its own statement; reads scan `audit_by_time`.

use rusqlite::{params, Connection};

use crate::{Error, Store};

const AUDIT_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS audit (
    id         INTEGER PRIMARY KEY,
    at_ms      INTEGER NOT NULL,
    caller     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    query_json TEXT    NOT NULL,
    results    INTEGER NOT NULL,
    refused    TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at_ms);
"#;

/// Creates the audit table (idempotent; run at every open).
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(AUDIT_SCHEMA)?;
    // Logs made before refusals were recorded gain the column (NULL: those were answered).
    if conn.prepare("SELECT refused FROM audit LIMIT 0").is_err() {
        conn.execute_batch("ALTER TABLE audit ADD COLUMN refused TEXT")?;
    }
    Ok(())
}

/// One search call.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// When the call was answered, Unix ms.
    pub at_ms: i64,
    /// The token's name (`crate::auth::Caller` in the platform).
    pub caller: String,
    /// The operation: `search`, `find`, `trajectory`, `co-occurrence`, …
    pub kind: String,
    /// The question as JSON.
    pub query_json: String,
    /// How many results the answer held (or the total, for paged searches); 0 when refused.
    pub results: u64,
    /// Why the call got no answer (the question as asked was refused, or the store failed);
    /// `None` when it was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl Store {
    /// Appends `e` to the audit log.
    pub fn audit_log(&self, e: &AuditEntry) -> Result<(), Error> {
        self.conn()
            .prepare_cached(
                "INSERT INTO audit (at_ms, caller, kind, query_json, results, refused)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    e.at_ms,
                    e.caller,
                    e.kind,
                    e.query_json,
                    e.results as i64,
                    e.refused
                ])
            })
            .map_err(self.sql("write audit log"))?;
        Ok(())
    }

    /// Audit rows with `from_ms <= at_ms < to_ms`, newest first, at most `limit`.
    pub fn audit(&self, from_ms: i64, to_ms: i64, limit: usize) -> Result<Vec<AuditEntry>, Error> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT at_ms, caller, kind, query_json, results, refused FROM audit
                 WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms DESC, id DESC LIMIT ?3",
            )
            .map_err(self.sql("read audit log"))?;
        let rows = st
            .query_map(params![from_ms, to_ms, limit as i64], |r| {
                Ok(AuditEntry {
                    at_ms: r.get(0)?,
                    caller: r.get(1)?,
                    kind: r.get(2)?,
                    query_json: r.get(3)?,
                    results: r.get::<_, i64>(4)? as u64,
                    refused: r.get(5)?,
                })
            })
            .map_err(self.sql("read audit log"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql("read audit log"))?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_rows_round_trip_newest_first_within_range() {
        let store = Store::open_in_memory().unwrap();
        for (at, kind) in [(10, "find"), (20, "trajectory"), (30, "similar")] {
            store
                .audit_log(&AuditEntry {
                    at_ms: at,
                    caller: "alice".into(),
                    kind: kind.into(),
                    query_json: "{}".into(),
                    results: at as u64,
                    refused: (kind == "similar").then(|| "no sighting e#9".into()),
                })
                .unwrap();
        }
        let rows = store.audit(15, 31, 10).unwrap();
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["similar", "trajectory"]);
        assert_eq!(rows[0].results, 30);
        assert_eq!(rows[0].refused.as_deref(), Some("no sighting e#9"));
        assert_eq!(rows[1].refused, None);
        assert_eq!(store.audit(0, 100, 1).unwrap().len(), 1);
    }

    /// A log written before refusals were recorded gains the column on open, keeps its rows
    /// (as answered), and opening again changes nothing.
    #[test]
    fn old_audit_logs_gain_the_refused_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE audit (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
                     caller TEXT NOT NULL, kind TEXT NOT NULL, query_json TEXT NOT NULL,
                     results INTEGER NOT NULL);
                 INSERT INTO audit (at_ms, caller, kind, query_json, results)
                     VALUES (5, 'ivy', 'find', '{}', 3);",
            )
            .unwrap();
        }
        for _ in 0..2 {
            let store = Store::open(&path).unwrap();
            let rows = store.audit(0, 100, 10).unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!((rows[0].results, rows[0].refused.clone()), (3, None));
        }
        let store = Store::open(&path).unwrap();
        store
            .audit_log(&AuditEntry {
                at_ms: 6,
                caller: "ivy".into(),
                kind: "find".into(),
                query_json: "{}".into(),
                results: 0,
                refused: Some("unknown region".into()),
            })
            .unwrap();
        assert_eq!(
            store.audit(0, 100, 1).unwrap()[0].refused.as_deref(),
            Some("unknown region")
        );
    }
}
