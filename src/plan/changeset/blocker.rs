//! Why a move cannot go ahead, each reason rendered as a sentence that says
//! what to do about it.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::file::Strategy;

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
pub(super) fn closest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
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
