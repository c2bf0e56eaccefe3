//! Which strategy moves a server, and what remains of an in-place move.
//!
//! A server's strategy is decided per server, in this order:
//!
//! 1. a move already under way continues as it started: a server tagged
//!    `azmove_moving_to=<target>` with its `azmove_strategy`, or one with
//!    traces of a snapshot move (azmove's snapshot or replacement for this
//!    target, `azmove_moved_to`, `azmove_stopped`);
//! 2. an explicit strategy is taken as written, and refused (blocked, with
//!    the reason) when the cloud, the caller or the server does not allow it;
//! 3. `auto` takes the first allowed of its order (`strategies`, else live,
//!    cold, shelve, snapshot) and says why, and why the ones before it were
//!    skipped.
//!
//! The in-place strategies (shelve, cold, live) keep the server itself, so
//! their progress is read from the server: its status, AZ, pinned AZ and
//! azmove's tags (see [`crate::plan::inventory::tags`]).

use super::entry::EntryCtx;
use super::index::Index;
use crate::plan::changeset::{Blocker, Step};
use crate::plan::file::Strategy;
use crate::plan::inventory::{Capabilities, Microversion, Server, tags};

/// Compute microversion that unshelves into a given AZ.
pub const SHELVE_MICROVERSION: Microversion = Microversion::new(2, 77);
/// Compute microversion that unpins and re-pins a server's AZ, which cold
/// and live moves across AZs need.
pub const MIGRATE_MICROVERSION: Microversion = Microversion::new(2, 104);

/// The strategy decided for one server.
pub(super) struct Choice {
    pub strategy: Strategy,
    pub reason: String,
    /// Why the strategy cannot go ahead (an explicit strategy refused, or
    /// `auto` finding none of its order allowed); empty when it can.
    pub refused: Vec<Blocker>,
    /// The server carries azmove's in-place tags for this target.
    pub in_progress: bool,
}

/// What stands in the way of a strategy: the text follows "needs"
/// ("live needs an ACTIVE server"), so refusals of several strategies
/// for the same reason read as one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    needs: String,
}

impl Refusal {
    fn needs(what: impl Into<String>) -> Self {
        Refusal { needs: what.into() }
    }
}

/// Why `strategy` cannot move `s` on this cloud as this caller, if it
/// cannot. Checks what holds for the whole move: rights, microversion and
/// the server's state (snapshot's own checks of the state, volumes and
/// flavor come with its blockers).
pub(super) fn refusal(
    strategy: Strategy,
    s: &Server,
    caps: &Capabilities,
    stop_before_snapshot: bool,
) -> Option<Refusal> {
    match strategy {
        Strategy::Live => migrate_refusal(caps)
            .or_else(|| busy(s))
            .or_else(|| state_refusal(s, &["ACTIVE"])),
        Strategy::Cold => migrate_refusal(caps)
            .or_else(|| busy(s))
            .or_else(|| state_refusal(s, &["ACTIVE", "SHUTOFF"])),
        Strategy::Shelve => shelve_refusal(caps)
            .or_else(|| busy(s))
            .or_else(|| state_refusal(s, &["ACTIVE", "SHUTOFF"])),
        Strategy::Snapshot | Strategy::Auto => {
            let states: &[&str] = if stop_before_snapshot {
                &["ACTIVE", "SHUTOFF"]
            } else {
                &["ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED"]
            };
            busy(s)
                .or_else(|| image_refusal(s))
                .or_else(|| state_refusal(s, states))
        }
    }
}

/// Cold and live migration to a chosen host is admin-only in Nova's
/// default policy, and crossing AZs needs the server unpinned (2.104).
fn migrate_refusal(caps: &Capabilities) -> Option<Refusal> {
    let mv = caps.compute_microversion;
    if !caps.is_admin {
        Some(Refusal::needs("the admin role"))
    } else if mv < MIGRATE_MICROVERSION {
        Some(Refusal::needs(format!(
            "compute API {MIGRATE_MICROVERSION} to unpin the server's AZ (this cloud offers {mv})"
        )))
    } else {
        None
    }
}

/// Unshelving into a named AZ came with 2.77; members may shelve.
fn shelve_refusal(caps: &Capabilities) -> Option<Refusal> {
    let mv = caps.compute_microversion;
    (mv < SHELVE_MICROVERSION).then(|| {
        Refusal::needs(format!(
            "compute API {SHELVE_MICROVERSION} to unshelve into an AZ (this cloud offers {mv})"
        ))
    })
}

/// Nova refuses every move while a task runs on the server.
fn busy(s: &Server) -> Option<Refusal> {
    s.task_state.as_ref().map(|t| {
        Refusal::needs(format!(
            "a server with no task running (this one is busy: task `{t}`)"
        ))
    })
}

/// The snapshot strategy snapshots the root disk only: volumes are not
/// carried over yet.
fn image_refusal(s: &Server) -> Option<Refusal> {
    if s.image_id.is_none() {
        Some(Refusal::needs(
            "a server booted from an image (this one boots from a volume)",
        ))
    } else if !s.volumes_attached.is_empty() {
        Some(Refusal::needs(
            "a server without attached volumes (this one has some)",
        ))
    } else {
        None
    }
}

/// The server's status must be one of `allowed`. A shelved server is told
/// how it moves by itself: unshelving it into the target.
fn state_refusal(s: &Server, allowed: &[&str]) -> Option<Refusal> {
    let st = s.status.as_str();
    if allowed.contains(&st) {
        return None;
    }
    let wanted = match allowed {
        ["ACTIVE"] => "an ACTIVE server".to_string(),
        ["ACTIVE", "SHUTOFF"] => "an ACTIVE or SHUTOFF server".to_string(),
        many => format!("a server that is {}", many.join(", ")),
    };
    let hint = if matches!(st, "SHELVED" | "SHELVED_OFFLOADED") {
        ": unshelving it with `openstack server unshelve --availability-zone <target>` moves it"
    } else {
        ""
    };
    Some(Refusal::needs(format!("{wanted} (this one is {st}{hint})")))
}

/// What to do instead when an explicit `strategy` is refused.
fn advice(strategy: Strategy, why: &Refusal) -> &'static str {
    match strategy {
        Strategy::Live if why.needs.starts_with("an ACTIVE") => {
            "start the server, or use `strategy: cold` (moves SHUTOFF servers too) or `strategy: auto`"
        }
        Strategy::Live | Strategy::Cold if why.needs == "the admin role" => {
            "use `strategy: shelve`, which project members may use, or `strategy: auto`"
        }
        Strategy::Live | Strategy::Cold | Strategy::Shelve if why.needs.starts_with("compute") => {
            "use an older strategy this cloud offers (`strategy: auto` picks one), or `strategy: snapshot`"
        }
        _ => "bring the server to a state the strategy accepts, or use `strategy: auto`",
    }
}

fn refused_blocker(strategy: Strategy, why: &Refusal) -> Blocker {
    Blocker::StrategyUnsupported {
        strategy,
        why: format!(
            "strategy `{strategy}` needs {}; {}",
            why.needs,
            advice(strategy, why)
        ),
    }
}

/// The in-place strategy named by the server's `azmove_strategy` tag.
fn tagged_strategy(s: &Server) -> Option<Strategy> {
    match s.metadata.get(tags::STRATEGY).map(String::as_str) {
        Some("shelve") => Some(Strategy::Shelve),
        Some("cold") => Some(Strategy::Cold),
        Some("live") => Some(Strategy::Live),
        _ => None,
    }
}

/// The `openstack` command that removes azmove's in-place tags, the way
/// out of a move that cannot be continued.
fn untag_command(s: &Server) -> String {
    format!(
        "openstack server unset --property {} --property {} --property {} {}",
        tags::MOVING_TO,
        tags::STRATEGY,
        tags::WAS_SHUTOFF,
        s.id
    )
}

/// Whether an earlier snapshot move of `s` to `target` left anything
/// behind, so the move must go on by snapshot whatever the plan now says.
fn snapshot_traces(s: &Server, target: &str, idx: &Index) -> Option<&'static str> {
    if s.metadata.contains_key(tags::MOVED_TO) {
        Some("the server is tagged as moved")
    } else if !idx.replacements_of(&s.id, target).is_empty() {
        Some("its replacement exists")
    } else if idx.snapshot_of(&s.id, target).is_some() {
        Some("azmove's snapshot of it exists")
    } else if s.metadata.contains_key(tags::STOPPED_BY) {
        Some("azmove stopped it for a snapshot")
    } else {
        None
    }
}

/// `auto`'s header for the reason text: where `auto` came from, and its
/// order when the plan gives one.
fn auto_origin(e: &EntryCtx) -> String {
    let order = || {
        e.order
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if e.entry.strategies.is_some() {
        format!("{}; order {} set on this entry", origin(e), order())
    } else if e.explicit_default_order {
        format!("{}; order {} set in defaults", origin(e), order())
    } else {
        origin(e).to_string()
    }
}

/// Where the strategy came from, for the reason text.
fn origin(e: &EntryCtx) -> &'static str {
    if e.entry.strategy.is_some() {
        "set on this entry"
    } else if e.explicit_default {
        "set in defaults"
    } else {
        "the default"
    }
}

const SNAPSHOT_WHY: &str =
    "a new server is booted from a snapshot of the old one, so it gets a new id and new addresses";

/// Decide the strategy of `s` (see the module documentation). `Err` is a
/// server whose in-place tags cannot be continued.
pub(super) fn choose(
    e: &EntryCtx,
    s: &Server,
    idx: &Index,
    caps: &Capabilities,
) -> Result<Choice, Blocker> {
    let target = e.entry.to.as_str();
    if let Some(to) = s.metadata.get(tags::MOVING_TO) {
        return continue_in_place(s, to, target, caps);
    }
    if e.requested != Strategy::Snapshot
        && let Some(trace) = snapshot_traces(s, target, idx)
    {
        return Ok(Choice {
            strategy: Strategy::Snapshot,
            reason: format!(
                "continuing the snapshot move an earlier run started ({trace}), instead of `{}` ({}); {SNAPSHOT_WHY}",
                e.requested,
                origin(e)
            ),
            refused: Vec::new(),
            in_progress: false,
        });
    }
    let stop = e.settings.stop_before_snapshot;
    Ok(match e.requested {
        Strategy::Snapshot => Choice {
            strategy: Strategy::Snapshot,
            reason: format!("{}; {SNAPSHOT_WHY}", origin(e)),
            refused: Vec::new(),
            in_progress: false,
        },
        Strategy::Auto => choose_auto(e, s, caps, stop),
        explicit => Choice {
            strategy: explicit,
            reason: format!("{}; {}", origin(e), in_place_why(explicit)),
            refused: refusal(explicit, s, caps, stop)
                .map(|r| refused_blocker(explicit, &r))
                .into_iter()
                .collect(),
            in_progress: false,
        },
    })
}

/// What an in-place strategy does, in a few words.
fn in_place_why(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Shelve => {
            "the server is shelved and unshelved into the target AZ: same UUID, ports and IPs"
        }
        Strategy::Cold => {
            "the server is cold-migrated to a host of the target AZ: same UUID, ports and IPs"
        }
        Strategy::Live => {
            "the server is live-migrated to a host of the target AZ while it runs: same UUID, ports and IPs"
        }
        Strategy::Snapshot | Strategy::Auto => SNAPSHOT_WHY,
    }
}

/// A server tagged by an earlier in-place move: go on with that move.
fn continue_in_place(
    s: &Server,
    to: &str,
    target: &str,
    caps: &Capabilities,
) -> Result<Choice, Blocker> {
    let Some(strategy) = tagged_strategy(s) else {
        return Err(Blocker::Other {
            message: format!(
                "the server is tagged `{}={to}` but its `{}` tag is missing or unknown, so the move an earlier run started cannot be continued; make sure the server is ACTIVE or SHUTOFF where it should stay, remove the tags (`{}`) and plan again",
                tags::MOVING_TO,
                tags::STRATEGY,
                untag_command(s)
            ),
        });
    };
    if to != target {
        return Err(Blocker::Other {
            message: format!(
                "an earlier run is moving the server to {to} ({strategy}), not to {target}; run the plan that moves it to {to} again to finish that move, or, if that move is abandoned, make sure the server is ACTIVE or SHUTOFF and pinned where it is, remove the tags (`{}`) and plan again",
                untag_command(s)
            ),
        });
    }
    // The server's state is the move's own doing; only what the caller and
    // the cloud allow still matters.
    let refused = match refusal(strategy, &rights_only(s), caps, true) {
        Some(r) => vec![refused_blocker(strategy, &r)],
        None => Vec::new(),
    };
    Ok(Choice {
        strategy,
        reason: format!(
            "continuing the {strategy} move an earlier run started (tagged `{}={to}`, server {}); a move under way is finished as it started",
            tags::MOVING_TO,
            s.status
        ),
        refused,
        in_progress: true,
    })
}

/// A copy of `s` in a state every strategy accepts, so that [`refusal`]
/// checks only the caller's rights and the cloud's microversion.
fn rights_only(s: &Server) -> Server {
    Server {
        status: "ACTIVE".into(),
        task_state: None,
        image_id: Some(String::new()),
        volumes_attached: Vec::new(),
        ..s.clone()
    }
}

/// `auto`: the first allowed strategy of the order, with why, and why the
/// ones before it were skipped.
fn choose_auto(e: &EntryCtx, s: &Server, caps: &Capabilities, stop: bool) -> Choice {
    let mut skipped: Vec<(Strategy, Refusal)> = Vec::new();
    for &candidate in &e.order {
        match refusal(candidate, s, caps, stop) {
            Some(r) => skipped.push((candidate, r)),
            None => {
                let mut reason = format!(
                    "auto ({}): {candidate} — {}",
                    auto_origin(e),
                    allowed_because(candidate, s, caps)
                );
                if !skipped.is_empty() {
                    reason.push_str("; skipped: ");
                    reason.push_str(&skipped_words(&skipped));
                }
                return Choice {
                    strategy: candidate,
                    reason,
                    refused: Vec::new(),
                    in_progress: false,
                };
            }
        }
    }
    // Nothing allowed: report the last resort of the order with every reason.
    let last = e.order.last().copied().unwrap_or(Strategy::Snapshot);
    let names: Vec<&str> = e.order.iter().map(|s| s.as_str()).collect();
    Choice {
        strategy: last,
        reason: format!(
            "auto ({}): none of {} is allowed",
            origin(e),
            names.join(", ")
        ),
        refused: vec![Blocker::StrategyUnsupported {
            strategy: Strategy::Auto,
            why: format!(
                "no strategy of `auto` ({}) can move this server: {}; bring the server to ACTIVE or SHUTOFF, or widen `strategies`",
                names.join(", "),
                skipped_words(&skipped)
            ),
        }],
        in_progress: false,
    }
}

/// Why `strategy` is allowed, for `auto`'s reason.
fn allowed_because(strategy: Strategy, s: &Server, caps: &Capabilities) -> String {
    let mv = caps.compute_microversion;
    match strategy {
        Strategy::Live => format!("admin, server ACTIVE, compute {mv}"),
        Strategy::Cold => format!("admin, server {}, compute {mv}", s.status),
        Strategy::Shelve => format!("server {}, compute {mv} unshelves into an AZ", s.status),
        Strategy::Snapshot | Strategy::Auto => format!("server {}, booted from an image", s.status),
    }
}

/// "live/cold need the admin role; shelve needs …": skipped strategies
/// grouped by reason, in the order they were tried.
fn skipped_words(skipped: &[(Strategy, Refusal)]) -> String {
    let mut groups: Vec<(Vec<Strategy>, &Refusal)> = Vec::new();
    for (s, r) in skipped {
        match groups.iter_mut().find(|(_, g)| *g == r) {
            Some((names, _)) => names.push(*s),
            None => groups.push((vec![*s], r)),
        }
    }
    groups
        .iter()
        .map(|(names, r)| {
            let verb = if names.len() == 1 { "needs" } else { "need" };
            let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            format!("{} {verb} {}", names.join("/"), r.needs)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a step list still has to bring the server into the target AZ
/// (so the target AZ must be able to take it).
pub(super) fn arrives(steps: &[Step]) -> bool {
    steps
        .iter()
        .any(|s| matches!(s, Step::Unshelve | Step::ColdMigrate | Step::LiveMigrate))
}

/// The steps of a fresh in-place move, as the apply engine expects them.
pub(super) fn fresh_steps(strategy: Strategy) -> Vec<Step> {
    match strategy {
        Strategy::Shelve => vec![
            Step::MarkMoving,
            Step::Shelve,
            Step::ShelveOffload,
            Step::Unshelve,
            Step::Verify,
            Step::RestorePowerState,
            Step::Finish,
        ],
        Strategy::Cold => vec![
            Step::MarkMoving,
            Step::Unpin,
            Step::ColdMigrate,
            Step::ConfirmMigration,
            Step::Verify,
            Step::Repin,
            Step::Finish,
        ],
        Strategy::Live => vec![
            Step::MarkMoving,
            Step::Unpin,
            Step::LiveMigrate,
            Step::Verify,
            Step::Repin,
            Step::Finish,
        ],
        Strategy::Snapshot | Strategy::Auto => Vec::new(),
    }
}

/// What remains of an in-place move an earlier run started, read from the
/// server (tagged `azmove_moving_to=<target>`). Steps already done are left
/// out; a step whose effect cannot be seen (restoring the power state of a
/// server that was running) stays, since each step is idempotent.
pub(super) fn remaining_steps(
    strategy: Strategy,
    s: &Server,
    target: &str,
) -> Result<Vec<Step>, Blocker> {
    let in_target = s.availability_zone.as_deref() == Some(target);
    let status = s.status.as_str();
    let settled = matches!(status, "ACTIVE" | "SHUTOFF");
    let repin_finish = || {
        let mut v = Vec::new();
        if s.pinned_availability_zone.as_deref() != Some(target) {
            v.push(Step::Repin);
        }
        v.push(Step::Finish);
        v
    };
    let unpin = || {
        s.pinned_availability_zone
            .as_ref()
            .map(|_| Step::Unpin)
            .into_iter()
    };
    let steps = match strategy {
        Strategy::Shelve => match status {
            "SHELVED_OFFLOADED" => {
                vec![
                    Step::Unshelve,
                    Step::Verify,
                    Step::RestorePowerState,
                    Step::Finish,
                ]
            }
            "SHELVED" => vec![
                Step::ShelveOffload,
                Step::Unshelve,
                Step::Verify,
                Step::RestorePowerState,
                Step::Finish,
            ],
            "SHUTOFF" if in_target && s.task_state.is_none() => vec![Step::Finish],
            _ if settled && in_target => vec![Step::RestorePowerState, Step::Finish],
            _ if settled => fresh_steps(Strategy::Shelve)[1..].to_vec(),
            _ => return Err(interrupted(strategy, s)),
        },
        Strategy::Cold => match status {
            "VERIFY_RESIZE" => {
                vec![
                    Step::ConfirmMigration,
                    Step::Verify,
                    Step::Repin,
                    Step::Finish,
                ]
            }
            "RESIZE" => vec![
                Step::ColdMigrate,
                Step::ConfirmMigration,
                Step::Verify,
                Step::Repin,
                Step::Finish,
            ],
            _ if settled && in_target => repin_finish(),
            _ if settled => unpin()
                .chain([
                    Step::ColdMigrate,
                    Step::ConfirmMigration,
                    Step::Verify,
                    Step::Repin,
                    Step::Finish,
                ])
                .collect(),
            _ => return Err(interrupted(strategy, s)),
        },
        Strategy::Live => match status {
            "MIGRATING" => vec![Step::LiveMigrate, Step::Verify, Step::Repin, Step::Finish],
            _ if settled && in_target => repin_finish(),
            "ACTIVE" => unpin()
                .chain([Step::LiveMigrate, Step::Verify, Step::Repin, Step::Finish])
                .collect(),
            _ => return Err(interrupted(strategy, s)),
        },
        Strategy::Snapshot | Strategy::Auto => Vec::new(),
    };
    Ok(steps)
}

/// A tagged server in a state its move cannot go on from.
fn interrupted(strategy: Strategy, s: &Server) -> Blocker {
    let fault = s
        .fault
        .as_deref()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    let start = if strategy == Strategy::Live && s.status == "SHUTOFF" {
        format!(
            "start it (`openstack server start {}`) to let the live migration go on, or ",
            s.id
        )
    } else {
        String::new()
    };
    Blocker::Other {
        message: format!(
            "the {strategy} move an earlier run started stopped with the server {}{fault} in {}; {start}repair the server, pin it to the AZ it is in, remove the tags (`{}`) and plan again",
            s.status,
            s.availability_zone.as_deref().unwrap_or("an unknown AZ"),
            untag_command(s)
        ),
    }
}
