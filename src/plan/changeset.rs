//! The changeset: what `plan` decided and `apply` executes.
//!
//! It is the contract between the planner, the renderers, saved plans
//! (`plan -o`) and the apply engine, so it is plain serialisable data and
//! carries everything apply needs to act exactly as reviewed: the remaining
//! steps, the spec of the server to boot, the dependencies, and a
//! fingerprint of what was observed (for the staleness check).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::file::{Effective, Limits, Strategy};
use super::inventory::Capabilities;

/// Version of the saved-plan format; bumped on incompatible change.
pub const CHANGESET_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changeset {
    pub format: u32,
    /// azmove version that made it.
    pub azmove_version: String,
    /// Path of the plan file, as given.
    pub plan_path: String,
    /// sha256 (hex) of the plan file bytes; replacement servers and snapshots
    /// carry a short form of it in their tags.
    pub plan_digest: String,
    pub cloud: Option<String>,
    pub region: Option<String>,
    pub capabilities: Capabilities,
    pub limits: Limits,
    /// One per server (or per unresolved entry), in topological order of `after`.
    pub moves: Vec<PlannedMove>,
    /// Keys of `moves` grouped by topological level: a level depends only on
    /// earlier ones; moves within a level are independent.
    pub levels: Vec<Vec<String>>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub to_move: usize,
    pub unchanged: usize,
    pub blocked: usize,
}

impl Summary {
    /// "Plan: N to move, M unchanged, K blocked."
    pub fn line(&self) -> String {
        format!(
            "Plan: {} to move, {} unchanged, {} blocked.",
            self.to_move, self.unchanged, self.blocked
        )
    }

    pub fn has_changes(&self) -> bool {
        self.to_move > 0
    }
}

/// The planned fate of one server (or of an entry that resolved to nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedMove {
    /// Unique key of this move within the changeset: the source server's
    /// UUID, or `entry:<entry key>` for an entry that resolved to no server.
    pub key: String,
    /// Key of the plan entry this move comes from.
    pub entry: String,
    /// The source server as observed; `None` when the entry found no server.
    pub source: Option<ServerSpec>,
    pub target_az: String,
    pub action: Action,
    pub strategy: Strategy,
    /// Why this strategy (e.g. "set in defaults", "auto: live needs admin").
    pub strategy_reason: String,
    /// The steps that remain, in order. Empty for unchanged and blocked moves.
    pub steps: Vec<Step>,
    /// Keys of moves that must finish successfully before this one starts.
    pub after: Vec<String>,
    /// Settings with defaults and overrides applied.
    pub settings: Effective,
    /// What to boot (snapshot strategy): absent for other strategies.
    pub boot: Option<BootSpec>,
    /// Progress already found in the cloud from an earlier run.
    pub existing: Existing,
    /// What was observed, to refuse a stale saved plan.
    pub fingerprint: Option<Fingerprint>,
}

/// What the plan does with a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// The server moves (or continues moving).
    Move,
    /// Nothing to do, with the reason (already in the target AZ, already moved).
    NoChange { reason: String },
    /// Cannot move; every reason is listed.
    Blocked { reasons: Vec<Blocker> },
}

/// Why a move cannot go ahead. Each variant renders as a sentence that says
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    NotFound { reference: String },
    Ambiguous { name: String, ids: Vec<String> },
    TargetAzMissing { az: String, known: Vec<String> },
    TargetAzUnavailable { az: String },
    TargetAzNoHost { az: String },
    BadState { status: String, task_state: Option<String> },
    FlavorNotUsable { flavor: String, az: String, why: String },
    QuotaShort { resource: String, needed: u64, available: u64 },
    Cycle { path: Vec<String> },
    VolumeBacked,
    VolumesAttached { volumes: Vec<String> },
    StrategyUnsupported { strategy: Strategy, why: String },
    PrerequisiteBlocked { entry: String },
    Other { message: String },
}

/// One step of a move. A strategy is a list of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `os-stop` the source and wait for SHUTOFF.
    StopSource,
    /// `createImage` of the source (tagged with azmove's properties).
    Snapshot,
    /// Wait for the snapshot image to be `active`.
    WaitImage,
    /// Boot the replacement in the target AZ from the snapshot (tagged).
    Boot,
    /// Wait for the replacement to be ACTIVE.
    WaitActive,
    /// Check the replacement: ACTIVE, target AZ, host of that AZ, flavor, networks.
    Verify,
    /// Apply `source_after` (keep / stop / delete) to the source.
    HandleSource,
    /// Delete azmove's snapshot (unless `keep_snapshot`).
    DeleteSnapshot,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::StopSource => "stop source",
            Step::Snapshot => "snapshot",
            Step::WaitImage => "wait image active",
            Step::Boot => "boot in target AZ",
            Step::WaitActive => "wait ACTIVE",
            Step::Verify => "verify",
            Step::HandleSource => "handle source",
            Step::DeleteSnapshot => "delete snapshot",
        }
    }
}

/// The parts of a server that matter for a move and for review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSpec {
    pub id: String,
    pub name: String,
    pub status: String,
    pub availability_zone: Option<String>,
    pub host: Option<String>,
    pub flavor: String,
    pub image: Option<String>,
    /// Network id (or name when ids are not known) → fixed IPs.
    pub networks: BTreeMap<String, Vec<String>>,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// What `POST /servers` will be sent for the replacement (snapshot strategy).
/// The image is the snapshot, known only at apply time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootSpec {
    pub name: String,
    pub flavor_id: String,
    /// Network ids to attach (one new port each).
    pub networks: Vec<String>,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    /// The source's metadata plus azmove's tags.
    pub metadata: BTreeMap<String, String>,
    /// base64, when the caller could see it (admin, 2.3+).
    pub user_data: Option<String>,
    pub snapshot_name: String,
    /// Properties put on the snapshot image (azmove's tags).
    pub snapshot_properties: BTreeMap<String, String>,
}

/// Objects from an earlier run that this move continues with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Existing {
    pub snapshot_id: Option<String>,
    pub snapshot_status: Option<String>,
    pub replacement_id: Option<String>,
    pub replacement_status: Option<String>,
}

/// What was observed of the source server when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub id: String,
    pub status: String,
    pub task_state: Option<String>,
    pub availability_zone: Option<String>,
    pub host: Option<String>,
    pub updated: String,
}
