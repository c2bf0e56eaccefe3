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
use super::inventory::{Capabilities, Server, tags};

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

/// What a strategy keeps of the server (or changes), and the downtime it
/// costs, so a reviewer sees what the clients of the server will notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Effects {
    /// The moved server has the UUID it had (in-place strategies); a
    /// snapshot move makes a new server with a new UUID.
    pub keeps_uuid: bool,
    /// The server keeps its Neutron ports, so its fixed IPs and the floating
    /// IPs bound to them stay; a snapshot move gets new ports and new IPs.
    pub keeps_ips: bool,
    /// The ports keep their MAC addresses (same ports).
    pub keeps_mac: bool,
    /// cloud-init sees a new instance and runs its first-boot modules again
    /// (snapshot only: the replacement is a new server).
    pub reruns_first_boot: bool,
    pub downtime: Downtime,
}

/// How long a moved server does not serve, as a class; apply measures the
/// real figure per server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Downtime {
    /// Live migration: the server keeps running; only the switch to the new
    /// host pauses it (usually well under a second).
    None,
    /// From the shelve until the server is unshelved and booted in the
    /// target AZ.
    ShelveUnshelve,
    /// The cold migration: the server is stopped, its disk copied to the
    /// new host, and it is started there.
    ColdMigration,
    /// From the stop of the source (or the cut-over, when it is not
    /// stopped) until the replacement booted from the snapshot is ACTIVE.
    SnapshotBoot,
    /// None: the server is SHUTOFF and ends SHUTOFF (shelve, cold), so it
    /// serves nothing during the move.
    NotRunning,
}

impl Effects {
    /// The effects of moving a server with `strategy` (`auto` is resolved
    /// before a move is planned; it is given the snapshot's, the most
    /// conservative).
    pub fn of(strategy: Strategy) -> Effects {
        let in_place = |downtime| Effects {
            keeps_uuid: true,
            keeps_ips: true,
            keeps_mac: true,
            reruns_first_boot: false,
            downtime,
        };
        match strategy {
            Strategy::Live => in_place(Downtime::None),
            Strategy::Cold => in_place(Downtime::ColdMigration),
            Strategy::Shelve => in_place(Downtime::ShelveUnshelve),
            Strategy::Snapshot | Strategy::Auto => Effects {
                keeps_uuid: false,
                keeps_ips: false,
                keeps_mac: false,
                reruns_first_boot: true,
                downtime: Downtime::SnapshotBoot,
            },
        }
    }
}

impl Effects {
    /// The effects of moving `source` with `strategy`: a stopped server
    /// moved in place stays stopped, so it loses no service.
    pub fn of_move(strategy: Strategy, source: Option<&ServerSpec>) -> Effects {
        let mut e = Effects::of(strategy);
        let stopped = source
            .is_some_and(|s| s.status == "SHUTOFF" || s.metadata.contains_key(tags::WAS_SHUTOFF));
        if e.keeps_uuid && stopped {
            e.downtime = Downtime::NotRunning;
        }
        e
    }
}

impl Default for Effects {
    /// The snapshot's: a saved plan without `effects` was made when
    /// snapshot was the only strategy.
    fn default() -> Self {
        Effects::of(Strategy::Snapshot)
    }
}

impl Downtime {
    /// The class in words, for renderings.
    pub fn words(self) -> &'static str {
        match self {
            Downtime::None => "none (live migration; a pause at the switch)",
            Downtime::ShelveUnshelve => "shelve → unshelve and boot in the target AZ",
            Downtime::ColdMigration => "cold migration (stopped while the disk is copied)",
            Downtime::SnapshotBoot => "snapshot upload + boot of the replacement",
            Downtime::NotRunning => "none (the server is SHUTOFF and stays SHUTOFF)",
        }
    }
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

/// Why a move cannot go ahead. Each variant renders (`Display`) as a
/// sentence that says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    NotFound {
        reference: String,
    },
    Ambiguous {
        name: String,
        ids: Vec<String>,
    },
    TargetAzMissing {
        az: String,
        known: Vec<String>,
    },
    TargetAzUnavailable {
        az: String,
    },
    TargetAzNoHost {
        az: String,
    },
    BadState {
        status: String,
        task_state: Option<String>,
    },
    FlavorNotUsable {
        flavor: String,
        az: String,
        why: String,
    },
    QuotaShort {
        resource: String,
        needed: u64,
        available: u64,
    },
    Cycle {
        path: Vec<String>,
    },
    VolumeBacked,
    VolumesAttached {
        volumes: Vec<String>,
    },
    StrategyUnsupported {
        strategy: Strategy,
        why: String,
    },
    PrerequisiteBlocked {
        entry: String,
    },
    /// The server is matched by several entries, which would give it several targets.
    MatchedByEntries {
        entries: Vec<String>,
    },
    /// `after` names an entry key that no entry has.
    UnknownPrerequisite {
        entry: String,
    },
    Other {
        message: String,
    },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::NotFound { reference } => write!(
                f,
                "no server named or with id `{reference}` exists in this project; check the name with `openstack server list --name '{reference}'`, or remove the entry"
            ),
            Blocker::Ambiguous { name, ids } => write!(
                f,
                "{} servers are named `{name}` ({}); refer to one by its UUID instead",
                ids.len(),
                ids.join(", ")
            ),
            Blocker::TargetAzMissing { az, known } => {
                write!(f, "availability zone `{az}` does not exist")?;
                if known.is_empty() {
                    write!(f, "; this cloud reports no availability zones")
                } else {
                    write!(f, "; known zones: {}", known.join(", "))?;
                    if let Some(best) = closest(az, known) {
                        write!(f, " (did you mean `{best}`?)")?;
                    }
                    Ok(())
                }
            }
            Blocker::TargetAzUnavailable { az } => write!(
                f,
                "availability zone `{az}` is marked unavailable (its compute services are down); wait until it is back, or pick another zone"
            ),
            Blocker::TargetAzNoHost { az } => write!(
                f,
                "availability zone `{az}` has no enabled compute host that is up; enable one (`openstack compute service set --enable HOST nova-compute`) or pick another zone"
            ),
            Blocker::BadState { status, task_state } => match (status.as_str(), task_state) {
                (_, Some(task)) => write!(
                    f,
                    "the server is busy (status {status}, task `{task}`); wait until the task ends, then plan again"
                ),
                ("PAUSED", None) | ("SUSPENDED", None) => write!(
                    f,
                    "the server is {status} and cannot be stopped for a consistent snapshot; resume it, or set `stop_before_snapshot: false`"
                ),
                ("ERROR", None) => write!(
                    f,
                    "the server is in ERROR and cannot be snapshotted; repair it (e.g. `openstack server set --state active`, then reboot) and plan again"
                ),
                _ => write!(
                    f,
                    "the server is {status}; a snapshot needs it ACTIVE or SHUTOFF (or PAUSED/SUSPENDED without stop_before_snapshot) — bring it to one of these states and plan again"
                ),
            },
            Blocker::FlavorNotUsable { flavor, az, why } => {
                write!(f, "flavor `{flavor}` cannot be used in `{az}`: {why}")
            }
            Blocker::QuotaShort {
                resource,
                needed,
                available,
            } => write!(
                f,
                "the project's {resource} quota is short: the moves up to this one need {needed}, only {available} free (a replacement exists next to its source until the source is handled); raise the quota, lower `limits.concurrency` with `source_after: delete`, or move fewer servers at once"
            ),
            Blocker::Cycle { path } => write!(
                f,
                "`after` forms a cycle: {}; remove one of these references",
                path.join(" → ")
            ),
            Blocker::VolumeBacked => write!(
                f,
                "the server boots from a volume; moving volume-backed servers is not supported yet (its snapshot would need Cinder volumes in the target AZ); move it by hand or leave it out"
            ),
            Blocker::VolumesAttached { volumes } => write!(
                f,
                "volumes are attached ({}); servers with attached volumes are not supported yet: detach them first (and re-attach in the target AZ), or leave the server out",
                volumes.join(", ")
            ),
            Blocker::StrategyUnsupported { why, .. } => f.write_str(why),
            Blocker::PrerequisiteBlocked { entry } => write!(
                f,
                "it comes after `{entry}`, which is blocked; fix `{entry}` first"
            ),
            Blocker::MatchedByEntries { entries } => write!(
                f,
                "the server is matched by several entries ({}); make them exclusive so the server has one target",
                entries.join(", ")
            ),
            Blocker::UnknownPrerequisite { entry } => write!(
                f,
                "`after` names `{entry}`, but no entry has that key; give that entry `id: {entry}` or fix the name"
            ),
            Blocker::Other { message } => f.write_str(message),
        }
    }
}

/// The known name `name` is most likely a typo of: the one nearest in edits
/// (transpositions count once), when it is near enough and no other is as
/// near. `nova3` among `nova` and `nova2` suggests nothing: it is not a typo.
fn closest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &str)> = known
        .iter()
        .map(|k| (strsim::osa_distance(name, k), k.as_str()))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    match scored.as_slice() {
        [(d, best), rest @ ..] if rest.first().is_none_or(|(d2, _)| d2 > d) => Some(best),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Server {
        Server {
            id: "s1".into(),
            name: "vm".into(),
            status: "ACTIVE".into(),
            availability_zone: Some("nova".into()),
            host: Some("node-1".into()),
            updated: "2026-01-01T00:00:00Z".into(),
            ..Default::default()
        }
    }

    fn saved(s: &Server) -> PlannedMove {
        PlannedMove {
            key: s.id.clone(),
            entry: "vm".into(),
            source: None,
            target_az: "nova2".into(),
            action: Action::Move,
            strategy: Strategy::Snapshot,
            strategy_reason: String::new(),
            steps: vec![],
            after: vec![],
            settings: crate::plan::file::Options::default().resolve(),
            boot: None,
            existing: Existing::default(),
            fingerprint: Some(Fingerprint::of(s)),
            effects: Effects::default(),
        }
    }

    #[test]
    fn unchanged_server_is_not_stale() {
        let s = server();
        assert!(stale_reasons(&saved(&s), &s).is_empty());
    }

    #[test]
    fn each_changed_field_is_named() {
        let s = server();
        let m = saved(&s);
        let mut now = s.clone();
        now.status = "SHUTOFF".into();
        now.task_state = Some("powering-off".into());
        now.availability_zone = Some("nova3".into());
        now.host = Some("node-9".into());
        now.updated = "2026-01-02T00:00:00Z".into();
        let r = stale_reasons(&m, &now);
        assert_eq!(
            r,
            vec![
                "status changed from ACTIVE to SHUTOFF",
                "task state changed from none to powering-off",
                "availability zone changed from nova to nova3",
                "host changed from node-1 to node-9",
            ]
        );
    }

    #[test]
    fn a_touched_server_is_stale_even_if_its_state_is_the_same() {
        let s = server();
        let m = saved(&s);
        let mut now = s.clone();
        now.updated = "2026-01-02T00:00:00Z".into();
        let r = stale_reasons(&m, &now);
        assert_eq!(r.len(), 1);
        assert!(r[0].contains("modified"), "{r:?}");
    }

    #[test]
    fn user_data_is_neither_serialised_nor_debug_printed() {
        let b = BootSpec {
            user_data: Some("I2Nsb3VkLWNvbmZpZwpwYXNzd29yZDogaHVudGVyMg==".into()),
            user_data_sha256: Some(user_data_digest("x")),
            ..Default::default()
        };
        let json = serde_json::to_string(&b).unwrap();
        assert!(!json.contains("I2Nsb3Vk"), "{json}");
        assert!(!format!("{b:?}").contains("I2Nsb3Vk"));
        let back: BootSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back.user_data, None);
        assert_eq!(back.user_data_sha256, b.user_data_sha256);
    }

    #[test]
    fn wrong_format_is_refused_with_advice() {
        let e = Changeset::from_json("p.json", r#"{"format": 99}"#).unwrap_err();
        assert!(e.to_string().contains("format 99"), "{e}");
        let e = Changeset::from_json("p.json", "not json").unwrap_err();
        assert!(e.to_string().contains("azmove plan"), "{e}");
    }

    #[test]
    fn only_a_clear_typo_gets_a_suggestion() {
        let known = vec!["nova".to_string(), "nova2".to_string()];
        assert_eq!(closest("nvoa2", &known), Some("nova2"));
        assert_eq!(closest("nova3", &known), None);
        assert_eq!(closest("zone-b", &known), None);
    }

    #[test]
    fn az_typo_gets_a_suggestion() {
        let b = Blocker::TargetAzMissing {
            az: "nvoa2".into(),
            known: vec!["nova".into(), "nova2".into()],
        };
        assert!(b.to_string().contains("did you mean `nova2`"), "{b}");
    }
}
