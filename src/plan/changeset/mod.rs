//! The changeset: what `plan` decided and `apply` executes.
//!
//! It is the contract between the planner, the renderers, saved plans
//! (`plan -o`) and the apply engine, so it is plain serialisable data and
//! carries everything apply needs to act exactly as reviewed: the remaining
//! steps, the spec of the server to boot, the dependencies, and a
//! fingerprint of what was observed (for the staleness check).
//!
//! The JSON form of [`Changeset`] *is* the saved-plan format; its schema is
//! generated from these types into `schemas/changeset.schema.json`.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::file::{Effective, Limits, SourceAfter, Strategy};
use super::inventory::{Capabilities, tags};

mod blocker;
mod effects;
mod fingerprint;

#[cfg(test)]
mod tests;

pub use blocker::Blocker;
pub use effects::{Downtime, Effects};
pub use fingerprint::{Existing, Fingerprint, stale_reasons};

/// Version of the saved-plan format; bumped on incompatible change.
pub const CHANGESET_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Keys of the moves that have work to do (`action: move`), grouped by
    /// topological level: a level depends only on earlier ones; moves within
    /// a level are independent. Unchanged and blocked moves are not listed.
    pub levels: Vec<Vec<String>>,
    pub summary: Summary,
}

/// Why a saved plan cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ChangesetError {
    #[error(
        "{path} is not a saved azmove plan ({source}); write one with `azmove plan PLANFILE -o {path}`"
    )]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path} is a saved plan of format {found}, but this azmove reads format {CHANGESET_FORMAT}; run `azmove plan` again with this version"
    )]
    Format { path: String, found: u32 },
}

impl Changeset {
    /// The saved-plan JSON (pretty, stable field order).
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read a saved plan; `path` only labels errors.
    pub fn from_json(path: &str, text: &str) -> Result<Changeset, ChangesetError> {
        #[derive(Deserialize)]
        struct Head {
            format: u32,
        }
        if let Ok(head) = serde_json::from_str::<Head>(text)
            && head.format != CHANGESET_FORMAT
        {
            return Err(ChangesetError::Format {
                path: path.to_string(),
                found: head.format,
            });
        }
        serde_json::from_str(text).map_err(|source| ChangesetError::Parse {
            path: path.to_string(),
            source,
        })
    }

    /// The move with this key.
    pub fn get(&self, key: &str) -> Option<&PlannedMove> {
        self.moves.iter().find(|m| m.key == key)
    }

    /// The first 12 hex digits of the plan digest, as put in `azmove_plan` tags.
    pub fn short_digest(&self) -> &str {
        short_digest(&self.plan_digest)
    }
}

/// The first 12 characters of a hex digest (the whole string if shorter).
pub fn short_digest(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedMove {
    /// Unique key of this move within the changeset: the source server's
    /// UUID, or `entry:<entry key>` for an entry that resolved to no server.
    pub key: String,
    /// Key of the plan entry this move comes from (`#N`, 1-based, for a
    /// `select` entry without `id`).
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
    /// Only moves with work to do are listed: an unchanged prerequisite is
    /// already done.
    pub after: Vec<String>,
    /// Settings with defaults and overrides applied.
    pub settings: Effective,
    /// What to boot (snapshot strategy): absent for other strategies, and
    /// when it could not be worked out (the move is then blocked).
    pub boot: Option<BootSpec>,
    /// Progress already found in the cloud from an earlier run.
    pub existing: Existing,
    /// What was observed, to refuse a stale saved plan.
    pub fingerprint: Option<Fingerprint>,
    /// What the strategy keeps of the server and how long it is down.
    /// Absent in plans saved before in-place strategies existed, which
    /// moved by snapshot only.
    #[serde(default)]
    pub effects: Effects,
}

impl PlannedMove {
    pub fn is_move(&self) -> bool {
        matches!(self.action, Action::Move)
    }

    pub fn is_blocked(&self) -> bool {
        matches!(self.action, Action::Blocked { .. })
    }

    /// The source's name, or the entry key when no server was found.
    pub fn display_name(&self) -> &str {
        self.source
            .as_ref()
            .map(|s| s.name.as_str())
            .unwrap_or(&self.entry)
    }

    /// Whether apply will create a server (the `+` of the rendering).
    pub fn creates_replacement(&self) -> bool {
        self.steps.contains(&Step::Boot)
    }

    /// Whether apply will delete the source (the `-` of the rendering).
    pub fn deletes_source(&self) -> bool {
        self.steps.contains(&Step::HandleSource)
            && self.settings.source_after == SourceAfter::Delete
    }

    /// The replacement server as it will look once the move is done, for the
    /// spec diff. Values only known at apply time are written in parentheses.
    pub fn predicted_replacement(&self) -> Option<ServerSpec> {
        let source = self.source.as_ref()?;
        if matches!(
            self.strategy,
            Strategy::Shelve | Strategy::Cold | Strategy::Live
        ) {
            return Some(self.predicted_in_place(source));
        }
        let boot = self.boot.as_ref()?;
        let id = match (
            &self.existing.replacement_id,
            self.existing.replacement_status.as_deref(),
        ) {
            (Some(id), Some(status)) if status != "ERROR" => id.clone(),
            _ => "(known after apply)".to_string(),
        };
        let image = match &self.existing.snapshot_id {
            Some(sid) if self.existing.snapshot_status.as_deref() != Some("killed") => {
                format!("{sid} (snapshot {})", boot.snapshot_name)
            }
            _ => format!("(new snapshot {})", boot.snapshot_name),
        };
        let networks = source
            .networks
            .keys()
            .map(|n| (n.clone(), vec!["(new port, new address)".to_string()]))
            .collect();
        Some(ServerSpec {
            id,
            name: boot.name.clone(),
            status: "ACTIVE".to_string(),
            availability_zone: Some(self.target_az.clone()),
            host: source
                .host
                .as_ref()
                .map(|_| "(chosen by the scheduler)".to_string()),
            flavor: source.flavor.clone(),
            image: Some(image),
            networks,
            security_groups: boot.security_groups.clone(),
            key_name: boot.key_name.clone(),
            metadata: boot.metadata.clone(),
        })
    }
}

impl PlannedMove {
    /// The server itself after an in-place move: the same id, ports and
    /// addresses in the target AZ, on a host azmove picks there (cold, live)
    /// or the scheduler does (shelve), in the power state it had.
    fn predicted_in_place(&self, source: &ServerSpec) -> ServerSpec {
        let host = match self.strategy {
            Strategy::Shelve => "(chosen by the scheduler)",
            _ => "(a host of the target AZ, chosen at apply)",
        };
        let status = match source.status.as_str() {
            "SHUTOFF" => "SHUTOFF",
            _ => "ACTIVE",
        };
        let metadata = source
            .metadata
            .iter()
            .filter(|(k, _)| {
                ![tags::MOVING_TO, tags::STRATEGY, tags::WAS_SHUTOFF].contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ServerSpec {
            status: status.to_string(),
            availability_zone: Some(self.target_az.clone()),
            host: source.host.as_ref().map(|_| host.to_string()),
            metadata,
            ..source.clone()
        }
    }
}

/// What the plan does with a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// The server moves (or continues moving).
    Move,
    /// Nothing to do, with the reason (already in the target AZ, already moved).
    NoChange { reason: String },
    /// Cannot move; every reason is listed.
    Blocked { reasons: Vec<Blocker> },
}

/// One step of a move. A strategy is a list of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `os-stop` the source and wait for SHUTOFF.
    StopSource,
    /// `createImage` of the source (tagged with azmove's properties). When
    /// `existing.snapshot_status` is `killed`, that image is deleted first.
    Snapshot,
    /// Wait for the snapshot image to be `active`.
    WaitImage,
    /// Boot the replacement in the target AZ from the snapshot (tagged).
    Boot,
    /// Wait for the replacement to be ACTIVE.
    WaitActive,
    /// Check the replacement: ACTIVE, target AZ, host of that AZ, flavor, networks.
    Verify,
    /// Apply `source_after` to the source; always the last step. For `keep`
    /// and `stop` it ends by tagging the source `azmove_moved_to=<replacement
    /// id>`: that tag is how a later plan knows the move is done.
    HandleSource,
    /// Delete azmove's snapshot (unless `keep_snapshot`). Runs before
    /// `HandleSource`, so that the source is the last thing touched.
    DeleteSnapshot,
    // Steps of the strategies that move the server itself (shelve, cold,
    // live): its UUID and ports stay; each step first reads where the server
    // is, so a resumed run picks up wherever a killed one stopped.
    /// Tag the server `azmove_moving_to=<target>` (and `azmove_was_shutoff`
    /// when it is SHUTOFF) before anything else touches it, so a later run
    /// knows the move is azmove's and how the server must end.
    MarkMoving,
    /// `shelve`; wait SHELVED or SHELVED_OFFLOADED.
    Shelve,
    /// `shelveOffload` when the cloud did not offload at once; wait
    /// SHELVED_OFFLOADED.
    ShelveOffload,
    /// `unshelve` with `availability_zone` = target (2.77); wait ACTIVE.
    Unshelve,
    /// `PUT /servers/{id}` with `pinned_availability_zone: null` (2.104), so
    /// the scheduler may place the server outside its AZ.
    Unpin,
    /// `migrate` to a host of the target AZ chosen at this step (2.56); wait
    /// VERIFY_RESIZE.
    ColdMigrate,
    /// `confirmResize`; wait ACTIVE (or SHUTOFF).
    ConfirmMigration,
    /// `os-migrateLive` to a host of the target AZ with `block_migration:
    /// auto`; wait ACTIVE on that host, abort the migration on timeout.
    LiveMigrate,
    /// Pin the server to the AZ it is in (2.104).
    Repin,
    /// Stop the server again when it was SHUTOFF before the move.
    RestorePowerState,
    /// Remove azmove's in-place tags; the last step of in-place strategies.
    Finish,
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
            Step::MarkMoving => "mark moving",
            Step::Shelve => "shelve",
            Step::ShelveOffload => "shelve offload",
            Step::Unshelve => "unshelve in target AZ",
            Step::Unpin => "unpin AZ",
            Step::ColdMigrate => "cold migrate",
            Step::ConfirmMigration => "confirm migration",
            Step::LiveMigrate => "live migrate",
            Step::Repin => "re-pin AZ",
            Step::RestorePowerState => "restore power state",
            Step::Finish => "finish",
        }
    }
}

/// The parts of a server that matter for a move and for review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServerSpec {
    pub id: String,
    pub name: String,
    pub status: String,
    pub availability_zone: Option<String>,
    pub host: Option<String>,
    pub flavor: String,
    pub image: Option<String>,
    /// Network name (as in the server's `addresses`) → addresses on it.
    pub networks: BTreeMap<String, Vec<String>>,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// What `POST /servers` will be sent for the replacement (snapshot strategy).
/// The image is the snapshot, known only at apply time.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BootSpec {
    pub name: String,
    pub flavor_id: String,
    /// Network ids to attach (one new port each).
    pub networks: Vec<String>,
    /// Security group names, as Nova accepts them in `POST /servers`.
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    /// The source's metadata (without its own `azmove_*` keys) plus azmove's tags.
    pub metadata: BTreeMap<String, String>,
    /// base64, when the caller could see it (admin, 2.3+). User data often
    /// holds credentials, so it is never written to a saved plan or to JSON
    /// output: a plan read back from a file has `None` here and only
    /// [`BootSpec::user_data_sha256`]; apply then reads the source's user
    /// data again and must find this digest.
    #[serde(skip_serializing, default)]
    #[schemars(skip)]
    pub user_data: Option<String>,
    /// sha256 (hex) of `user_data`, when the source has user data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data_sha256: Option<String>,
    pub snapshot_name: String,
    /// Properties put on the snapshot image (azmove's tags).
    pub snapshot_properties: BTreeMap<String, String>,
}

impl fmt::Debug for BootSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootSpec")
            .field("name", &self.name)
            .field("flavor_id", &self.flavor_id)
            .field("networks", &self.networks)
            .field("security_groups", &self.security_groups)
            .field("key_name", &self.key_name)
            .field("metadata", &self.metadata)
            .field("user_data", &self.user_data.as_ref().map(|_| "[redacted]"))
            .field("user_data_sha256", &self.user_data_sha256)
            .field("snapshot_name", &self.snapshot_name)
            .field("snapshot_properties", &self.snapshot_properties)
            .finish()
    }
}

/// sha256 (hex) of user data, as stored in [`BootSpec::user_data_sha256`].
pub fn user_data_digest(user_data: &str) -> String {
    hex::encode(Sha256::digest(user_data.as_bytes()))
}
