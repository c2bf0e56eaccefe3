//! Planning one server: the strategy it gets, the steps that remain, and
//! what blocks them.

use super::boot_spec::{
    boot_spec, flavor_az_blocker, resolve_flavor, resolve_networks, server_spec,
};
use super::draft::Draft;
use super::entry::EntryCtx;
use super::index::Index;
use super::progress::{Progress, progress, state_blocker};
use super::strategy;
use crate::plan::changeset::{Action, Blocker, Fingerprint, Step};
use crate::plan::file::Strategy;
use crate::plan::inventory::{Inventory, Server, tags};
use crate::plan::quota::Need;

pub(super) fn plan_server(
    e: &EntryCtx,
    s: &Server,
    idx: &Index,
    inv: &Inventory,
    digest: &str,
) -> Draft {
    let mut d = Draft::bare(s.id.clone(), e, Action::Move);
    d.outcome = None;
    d.source = Some(server_spec(s));
    d.fingerprint = Some(Fingerprint::of(s));
    let target = e.entry.to.as_str();

    // A server moved in place is done once it is in the target AZ and its
    // last step has removed azmove's tag.
    if s.availability_zone.as_deref() == Some(target) && !s.metadata.contains_key(tags::MOVING_TO) {
        d.outcome = Some(Action::NoChange {
            reason: format!("already in {target}"),
        });
        return d;
    }

    let choice = match strategy::choose(e, s, idx, &inv.capabilities) {
        Ok(c) => c,
        Err(stuck) => {
            d.blocked = Some(vec![stuck]);
            return d;
        }
    };
    d.strategy = choice.strategy;
    d.strategy_reason = choice.reason.clone();
    if e.requested == Strategy::Auto && !choice.in_progress && !choice.refused.is_empty() {
        // `auto` found nothing allowed: its reason already lists why, per strategy.
        let mut reasons = e.entry_blockers.clone();
        reasons.extend(choice.refused);
        d.blocked = Some(reasons);
        return d;
    }
    match choice.strategy {
        Strategy::Snapshot | Strategy::Auto => {
            plan_snapshot(&mut d, e, s, idx, inv, digest, choice.refused)
        }
        _ => plan_in_place(&mut d, e, s, idx, choice),
    }
    d
}

/// The steps and blockers of a move that keeps the server (shelve, cold, live).
fn plan_in_place(d: &mut Draft, e: &EntryCtx, s: &Server, idx: &Index, choice: strategy::Choice) {
    let target = e.entry.to.as_str();
    let steps = if choice.in_progress {
        match strategy::remaining_steps(choice.strategy, s, target) {
            Ok(steps) => steps,
            Err(stuck) => {
                d.blocked = Some(vec![stuck]);
                return;
            }
        }
    } else {
        strategy::fresh_steps(choice.strategy)
    };
    let mut reasons: Vec<Blocker> = e.entry_blockers.clone();
    reasons.extend(choice.refused);
    if !choice.in_progress && s.locked && !idx.is_admin {
        reasons.push(Blocker::Other {
            message: format!(
                "the server is locked, so a project member cannot {} it; unlock it (`openstack server unlock {}`) and plan again",
                choice.strategy,
                s.id
            ),
        });
    }
    if strategy::arrives(&steps) {
        for b in &e.az_blockers {
            if !reasons.contains(b) {
                reasons.push(b.clone());
            }
        }
        // The scheduler applies the flavor's AZ extra spec to a migration
        // and an unshelve as it does to a boot.
        if let Ok(fl) = resolve_flavor(s, idx, target)
            && let Some(b) = fl.flavor.and_then(|f| flavor_az_blocker(f, target))
        {
            reasons.push(b);
        }
    }
    d.steps = steps;
    if !reasons.is_empty() {
        d.blocked = Some(reasons);
    }
}

/// The steps and blockers of a move by snapshot → boot; `refused` are the
/// reasons an explicit choice was refused.
fn plan_snapshot(
    d: &mut Draft,
    e: &EntryCtx,
    s: &Server,
    idx: &Index,
    inv: &Inventory,
    digest: &str,
    refused: Vec<Blocker>,
) {
    let target = e.entry.to.as_str();
    let flavor = resolve_flavor(s, idx, target);
    let networks = resolve_networks(s, idx);
    if let (Ok(fl), Ok(nets)) = (&flavor, &networks) {
        d.boot = Some(boot_spec(e, s, fl.id.clone(), nets.clone(), inv, digest));
    }
    d.need = flavor.as_ref().ok().and_then(|fl| {
        Some(Need {
            instances: 1,
            cores: u64::from(s.flavor.vcpus.or(fl.flavor.map(|f| f.vcpus))?),
            ram_mb: s.flavor.ram_mb.or(fl.flavor.map(|f| f.ram_mb))?,
        })
    });

    match progress(e, s, idx) {
        Progress::Done(reason) => {
            d.outcome = Some(Action::NoChange { reason });
            return;
        }
        Progress::Stuck(b) => {
            d.blocked = Some(vec![b]);
            return;
        }
        Progress::Steps { steps, existing } => {
            d.steps = steps;
            d.existing = existing;
        }
    }

    let mut reasons: Vec<Blocker> = e.entry_blockers.clone();
    reasons.extend(refused);
    let touches_source = d
        .steps
        .iter()
        .any(|st| matches!(st, Step::StopSource | Step::Snapshot));
    if touches_source {
        if let Some(b) = state_blocker(s, &e.settings) {
            reasons.push(b);
        }
        if s.locked && !idx.is_admin {
            reasons.push(Blocker::Other {
                message: format!(
                    "the server is locked, so it cannot be stopped or snapshotted; unlock it (`openstack server unlock {}`) and plan again",
                    s.id
                ),
            });
        }
        if s.image_id.is_none() {
            reasons.push(Blocker::VolumeBacked);
        } else if !s.volumes_attached.is_empty() {
            reasons.push(Blocker::VolumesAttached {
                volumes: s.volumes_attached.clone(),
            });
        }
    }
    if d.steps.contains(&Step::Boot) {
        for b in &e.az_blockers {
            if !reasons.contains(b) {
                reasons.push(b.clone());
            }
        }
        match &flavor {
            Err(b) => reasons.push(b.clone()),
            Ok(fl) => {
                if let Some(b) = fl.flavor.and_then(|f| flavor_az_blocker(f, target)) {
                    reasons.push(b);
                }
            }
        }
        if let Err(b) = &networks {
            reasons.push(b.clone());
        }
    }
    if !reasons.is_empty() {
        d.blocked = Some(reasons);
    }
}
