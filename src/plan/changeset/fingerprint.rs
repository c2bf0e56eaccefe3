//! What apply checks a saved plan against: the objects an earlier run left
//! (to continue with) and the fingerprint of the source as it was observed
//! (to refuse a move reviewed against a different server).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::PlannedMove;
use crate::plan::inventory::Server;

/// Objects from an earlier run that this move continues with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Existing {
    /// An azmove snapshot of this source for this target. With status
    /// `killed` it is a failed one that apply deletes before snapshotting again.
    pub snapshot_id: Option<String>,
    pub snapshot_status: Option<String>,
    pub replacement_id: Option<String>,
    pub replacement_status: Option<String>,
}

/// What was observed of the source server when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Fingerprint {
    pub id: String,
    pub status: String,
    pub task_state: Option<String>,
    pub availability_zone: Option<String>,
    pub host: Option<String>,
    pub updated: String,
}

impl Fingerprint {
    pub fn of(server: &Server) -> Fingerprint {
        Fingerprint {
            id: server.id.clone(),
            status: server.status.clone(),
            task_state: server.task_state.clone(),
            availability_zone: server.availability_zone.clone(),
            host: server.host.clone(),
            updated: server.updated.clone(),
        }
    }
}

/// Why a saved move no longer matches the server as it is `now`; empty when
/// it still does. Apply refuses a move with any reason (the plan was
/// reviewed against a different server).
pub fn stale_reasons(saved: &PlannedMove, now: &Server) -> Vec<String> {
    let Some(fp) = &saved.fingerprint else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if fp.id != now.id {
        out.push(format!(
            "the plan was made for server {}, not {}",
            fp.id, now.id
        ));
        return out;
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_string());
    if fp.status != now.status {
        out.push(format!(
            "status changed from {} to {}",
            fp.status, now.status
        ));
    }
    if fp.task_state != now.task_state {
        out.push(format!(
            "task state changed from {} to {}",
            opt(&fp.task_state),
            opt(&now.task_state)
        ));
    }
    if fp.availability_zone != now.availability_zone {
        out.push(format!(
            "availability zone changed from {} to {}",
            opt(&fp.availability_zone),
            opt(&now.availability_zone)
        ));
    }
    if fp.host != now.host {
        out.push(format!(
            "host changed from {} to {}",
            opt(&fp.host),
            opt(&now.host)
        ));
    }
    if out.is_empty() && fp.updated != now.updated {
        out.push(format!(
            "the server was modified after the plan was made (updated {} → {})",
            fp.updated, now.updated
        ));
    }
    out
}
