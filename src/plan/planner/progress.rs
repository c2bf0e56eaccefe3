//! Where a half-done snapshot move stands, read from the cloud itself
//! (azmove's tags on servers and images; see the table in the module
//! documentation of the planner).

use super::entry::EntryCtx;
use super::index::Index;
use crate::plan::changeset::{Blocker, Existing, Step};
use crate::plan::file::Effective;
use crate::plan::inventory::{Server, tags};

pub(super) enum Progress {
    Done(String),
    Stuck(Blocker),
    Steps {
        steps: Vec<Step>,
        existing: Existing,
    },
}

/// Where an earlier move took a server: the target its replacement was
/// tagged with, else the AZ the replacement is in.
fn moved_to(replacement: &Server) -> Option<&str> {
    replacement
        .metadata
        .get(tags::TARGET)
        .map(String::as_str)
        .or(replacement.availability_zone.as_deref())
}

fn moved_elsewhere(replacement: &Server, target: &str) -> bool {
    moved_to(replacement).is_some_and(|az| az != target)
}

/// What remains for a source not yet in its target AZ (see the module table).
pub(super) fn progress(e: &EntryCtx, s: &Server, idx: &Index) -> Progress {
    let target = e.entry.to.as_str();
    let keep_snapshot = e.settings.keep_snapshot;
    let finish = |snapshot_exists: bool| -> Vec<Step> {
        let mut v = Vec::new();
        if snapshot_exists && !keep_snapshot {
            v.push(Step::DeleteSnapshot);
        }
        v.push(Step::HandleSource);
        v
    };

    if let Some(to) = s.metadata.get(tags::MOVED_TO) {
        return match idx.by_id.get(to.as_str()) {
            // moved earlier, but to another AZ than the plan now names: the
            // cloud does not match the plan, and moving the kept source again
            // would make a second replacement
            Some(r) if moved_elsewhere(r, target) => Progress::Stuck(Blocker::Other {
                message: format!(
                    "the server was already moved to {} (replacement {}), not to {target}; to move it on, name the replacement in the plan (`server: {}`) instead of this server",
                    moved_to(r).unwrap_or("another availability zone"),
                    r.id,
                    r.id
                ),
            }),
            Some(r) => Progress::Done(format!(
                "moved (replacement {} in {})",
                r.id,
                r.availability_zone.as_deref().unwrap_or(target)
            )),
            None => Progress::Stuck(Blocker::Other {
                message: format!(
                    "the server is tagged as moved to {to}, but that server no longer exists; to move it again remove the tag (`openstack server unset --property {} {}`) and plan again",
                    tags::MOVED_TO,
                    s.id
                ),
            }),
        };
    }

    let snapshot = idx.snapshot_of(&s.id, target);
    let mut existing = Existing {
        snapshot_id: snapshot.map(|i| i.id.clone()),
        snapshot_status: snapshot.map(|i| i.status.clone()),
        ..Existing::default()
    };
    let snapshot_live = snapshot.is_some_and(|i| i.status != "killed");

    let mut replacements = idx.replacements_of(&s.id, target);
    // A replacement that failed to boot is deleted by apply's boot step, as
    // long as there is a snapshot to boot again from.
    if snapshot_live && !replacements.is_empty() && replacements.iter().all(|r| r.status == "ERROR")
    {
        let failed = replacements[0];
        existing.replacement_id = Some(failed.id.clone());
        existing.replacement_status = Some(failed.status.clone());
        replacements.clear();
    }
    if replacements.len() > 1 {
        let ids: Vec<String> = replacements
            .iter()
            .map(|r| format!("{} ({})", r.id, r.status))
            .collect();
        return Progress::Stuck(Blocker::Other {
            message: format!(
                "{} replacements of this server exist in {target}: {}; keep the one you want, delete the others, and plan again",
                replacements.len(),
                ids.join(", ")
            ),
        });
    }
    if let Some(r) = replacements.first() {
        existing.replacement_id = Some(r.id.clone());
        existing.replacement_status = Some(r.status.clone());
        let mut steps = match (r.status.as_str(), r.availability_zone.as_deref()) {
            ("ACTIVE", Some(az)) if az == target => Vec::new(),
            ("ACTIVE", None) => vec![Step::Verify],
            ("ACTIVE", Some(az)) => {
                return Progress::Stuck(Blocker::Other {
                    message: format!(
                        "the replacement {} is ACTIVE but in {az}, not {target}; delete it (`openstack server delete {}`) and plan again",
                        r.id, r.id
                    ),
                });
            }
            ("BUILD", _) => vec![Step::WaitActive, Step::Verify],
            (status, _) => {
                let fault = r
                    .fault
                    .as_deref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default();
                return Progress::Stuck(Blocker::Other {
                    message: format!(
                        "the replacement {} is {status}{fault}, not ACTIVE; delete it (`openstack server delete {}`) and plan again",
                        r.id, r.id
                    ),
                });
            }
        };
        steps.extend(finish(snapshot_live));
        if !snapshot_live {
            existing.snapshot_id = None;
            existing.snapshot_status = None;
        }
        return Progress::Steps { steps, existing };
    }

    let mut steps = match snapshot.map(|i| i.status.as_str()) {
        Some("active") => vec![Step::Boot],
        Some("killed") | None => {
            let mut v = Vec::new();
            if e.settings.stop_before_snapshot && s.status != "SHUTOFF" {
                v.push(Step::StopSource);
            }
            v.extend([Step::Snapshot, Step::WaitImage, Step::Boot]);
            v
        }
        Some(_) => vec![Step::WaitImage, Step::Boot],
    };
    steps.extend([Step::WaitActive, Step::Verify]);
    steps.extend(finish(true));
    Progress::Steps { steps, existing }
}

/// Nova accepts `createImage` from ACTIVE, SHUTOFF, PAUSED and SUSPENDED with
/// no task running, and `os-stop` only from ACTIVE (and RESCUED/ERROR).
pub(super) fn state_blocker(s: &Server, settings: &Effective) -> Option<Blocker> {
    let bad = || {
        Some(Blocker::BadState {
            status: s.status.clone(),
            task_state: s.task_state.clone(),
        })
    };
    if s.task_state.is_some() {
        return bad();
    }
    match s.status.as_str() {
        "ACTIVE" | "SHUTOFF" => None,
        "PAUSED" | "SUSPENDED" if !settings.stop_before_snapshot => None,
        _ => bad(),
    }
}
