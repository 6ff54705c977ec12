//! What travels through an outbox and an uplink batch: a sighting or a health report.

use base::{HealthReport, Sighting};

/// One outbox or batch item. Stored as externally tagged JSON (`{"sighting": {…}}`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
// Nearly every item is a sighting: boxing it would add an allocation per item for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Item {
    Sighting(Sighting),
    Health(HealthReport),
}

impl Item {
    /// The outbox columns that let a newer health report find the one it supersedes.
    pub(crate) fn outbox_key(&self) -> (&'static str, Option<String>) {
        match self {
            Item::Sighting(_) => ("sighting", None),
            Item::Health(r) => ("health", Some(r.node.clone())),
        }
    }
}
