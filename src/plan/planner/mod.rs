//! The planner: (plan file, observed cloud) → changeset. Pure: no I/O, no
//! clock, no environment, so the same inputs always give the same plan.
//!
//! For every server it decides what remains to be done, reading progress
//! from the cloud itself (azmove's tags, see [`crate::plan::inventory::tags`]):
//!
//! | observed | remaining steps |
//! |---|---|
//! | source already in the target AZ | none: "already in <az>" |
//! | source tagged `azmove_moved_to` and that server exists | none: "moved" (blocked if it was moved to another AZ) |
//! | replacement ACTIVE in the target AZ | delete snapshot (if any), handle source |
//! | replacement ACTIVE, AZ not visible | verify, … |
//! | replacement BUILD | wait ACTIVE, verify, … |
//! | snapshot `active` | boot, … |
//! | snapshot queued/saving/uploading/importing | wait image, boot, … |
//! | snapshot `killed`, or nothing | (stop,) snapshot, … (apply deletes the killed image) |
//!
//! That table is the snapshot strategy's. A server moved in place (shelve,
//! cold, live) is tagged `azmove_moving_to=<target>` from the first step to
//! the last, and its remaining steps are read from its status, AZ and pinned
//! AZ; which strategy a server gets is decided in `strategy.rs`.
//!
//! A replacement is a server whose metadata has `azmove_source=<source id>`
//! and `azmove_target=<target AZ>`; a snapshot is an image with the same two
//! properties. Servers made by azmove are never taken as sources by name or
//! selection (only by explicit UUID), so a kept source and its replacement,
//! which share a name, are never confused.

mod boot_spec;
mod draft;
mod entry;
mod index;
mod order;
mod progress;
mod resolve;
mod server;
mod strategy;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;

use std::collections::{BTreeMap, BTreeSet};

use super::changeset::{Action, Blocker, CHANGESET_FORMAT, Changeset, PlannedMove, Step, Summary};
use super::file::{PlanFile, SourceAfter};
use super::inventory::{Inventory, Network, Server};
use super::quota::Admission;

pub use boot_spec::{render_template, server_spec};
use draft::Draft;
use entry::entry_contexts;
use index::Index;
use order::{levels_of, propagate_prerequisites, topological};
use resolve::{Resolution, resolve};
use server::plan_server;

/// The flavor extra spec that ties a flavor to availability zones (the
/// AggregateInstanceExtraSpecsFilter matches it against the `availability_zone`
/// metadata of host aggregates, which is what an AZ is).
pub const FLAVOR_AZ_SPEC: &str = "aggregate_instance_extra_specs:availability_zone";

/// Plan every entry of `file` against what was observed.
///
/// `plan_digest` is the sha256 (hex) of the plan file bytes; its first 12
/// digits go into the `azmove_plan` tag of everything apply creates.
pub fn plan(
    file: &PlanFile,
    plan_path: &str,
    plan_digest: &str,
    inventory: &Inventory,
) -> Changeset {
    let idx = Index::new(inventory);
    let entries = entry_contexts(file, inventory, &idx);

    // Resolve entries to servers; a server claimed twice is planned once.
    let mut resolved: Vec<Resolution> = entries
        .iter()
        .map(|e| resolve(e, &idx, inventory))
        .collect();
    let mut claims: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in resolved.iter().enumerate() {
        if let Resolution::Servers(servers) = r {
            for s in servers {
                claims.entry(s.id.as_str()).or_default().push(i);
            }
        }
    }

    let mut moves: Vec<Draft> = Vec::new();
    let mut seen_keys: BTreeSet<String> = BTreeSet::new();
    for (i, entry) in entries.iter().enumerate() {
        match std::mem::replace(&mut resolved[i], Resolution::Servers(Vec::new())) {
            Resolution::Servers(servers) if servers.is_empty() => {
                let action = if entry.entry_blockers.is_empty() {
                    Action::NoChange {
                        reason: "no server matches this selection (servers azmove created are never selected)"
                            .to_string(),
                    }
                } else {
                    Action::Blocked {
                        reasons: entry.entry_blockers.clone(),
                    }
                };
                let key = unique_key(&mut seen_keys, format!("entry:{}", entry.key));
                moves.push(Draft::bare(key, entry, action));
            }
            Resolution::Servers(servers) => {
                for s in servers {
                    let Some(owners) = claims.get(s.id.as_str()) else {
                        continue;
                    };
                    if owners.first() != Some(&i) {
                        continue;
                    }
                    let mut m = plan_server(entry, s, &idx, inventory, plan_digest);
                    if owners.len() > 1 {
                        let names = owners.iter().map(|o| entries[*o].key.clone()).collect();
                        m.outcome = Some(Action::Blocked {
                            reasons: vec![Blocker::MatchedByEntries { entries: names }],
                        });
                        m.blocked = None;
                        m.steps.clear();
                        m.members = owners.clone();
                    }
                    seen_keys.insert(m.key.clone());
                    moves.push(m);
                }
            }
            Resolution::Done { source_id, reason } => {
                let key = unique_key(&mut seen_keys, source_id);
                moves.push(Draft::bare(key, entry, Action::NoChange { reason }));
            }
            Resolution::Blocked(mut reasons) => {
                reasons.extend(entry.entry_blockers.iter().cloned());
                let key = unique_key(&mut seen_keys, format!("entry:{}", entry.key));
                moves.push(Draft::bare(key, entry, Action::Blocked { reasons }));
            }
        }
    }

    // Order everything by `after`, then settle blocking in that order.
    let order = topological(&moves, &entries, |_| true);
    let mut ordered: Vec<Draft> = Vec::with_capacity(moves.len());
    let mut slots: Vec<Option<Draft>> = moves.into_iter().map(Some).collect();
    for i in order {
        if let Some(m) = slots[i].take() {
            ordered.push(m);
        }
    }
    let mut moves = ordered;

    propagate_prerequisites(&mut moves, &entries);
    if let Some(quota) = &inventory.quota {
        let mut admission = Admission::new(quota, file.limits.concurrency);
        for m in moves.iter_mut() {
            if !m.is_move() || !m.steps.contains(&Step::Boot) {
                continue;
            }
            let Some(need) = m.need else { continue };
            let frees = m.settings.source_after == SourceAfter::Delete;
            if let Err(short) = admission.admit(need, frees) {
                m.blocked = Some(
                    short
                        .into_iter()
                        .map(|s| Blocker::QuotaShort {
                            resource: s.resource.to_string(),
                            needed: s.needed,
                            available: s.available,
                        })
                        .collect(),
                );
            }
        }
        propagate_prerequisites(&mut moves, &entries);
    }

    // `after` lists and levels over the moves that have work to do.
    let pending: BTreeMap<usize, Vec<String>> = {
        let mut by_entry: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for m in &moves {
            if m.is_move() {
                by_entry
                    .entry(m.entry_index)
                    .or_default()
                    .push(m.key.clone());
            }
        }
        by_entry
    };
    let levels = {
        let order_levels = levels_of(&moves, &entries);
        order_levels
            .into_iter()
            .map(|lvl| {
                lvl.into_iter()
                    .map(|i| moves[i].key.clone())
                    .collect::<Vec<_>>()
            })
            .filter(|l: &Vec<String>| !l.is_empty())
            .collect::<Vec<_>>()
    };

    let mut summary = Summary::default();
    let planned: Vec<PlannedMove> = moves
        .into_iter()
        .map(|m| {
            let after = if m.is_move() {
                entries[m.entry_index]
                    .after
                    .iter()
                    .flat_map(|a| pending.get(a).into_iter().flatten().cloned())
                    .collect()
            } else {
                Vec::new()
            };
            let pm = m.finish(after);
            match pm.action {
                Action::Move => summary.to_move += 1,
                Action::NoChange { .. } => summary.unchanged += 1,
                Action::Blocked { .. } => summary.blocked += 1,
            }
            pm
        })
        .collect();

    Changeset {
        format: CHANGESET_FORMAT,
        azmove_version: env!("CARGO_PKG_VERSION").to_string(),
        plan_path: plan_path.to_string(),
        plan_digest: plan_digest.to_string(),
        cloud: file.cloud.clone(),
        region: file.region.clone(),
        capabilities: inventory.capabilities.clone(),
        limits: file.limits.clone(),
        moves: planned,
        levels,
        summary,
    }
}

/// The servers the plan's entries resolve to as sources (whether or not
/// they still need to move). The observation edge uses it to fetch ports
/// only for servers of the plan.
pub fn planned_sources<'a>(file: &PlanFile, inventory: &'a Inventory) -> Vec<&'a Server> {
    let idx = Index::new(inventory);
    let entries = entry_contexts(file, inventory, &idx);
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for e in &entries {
        if let Resolution::Servers(servers) = resolve(e, &idx, inventory) {
            for s in servers {
                if seen.insert(&s.id) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// Whether the networks of `s` cannot all be told from the names in its
/// `addresses` (a name no visible network has, or several have), so that
/// its ports must be read to know the network ids.
pub fn needs_ports(s: &Server, networks: &[Network]) -> bool {
    s.addresses
        .keys()
        .any(|name| networks.iter().filter(|n| &n.name == name).take(2).count() != 1)
}

fn unique_key(seen: &mut BTreeSet<String>, key: String) -> String {
    let mut k = key.clone();
    let mut n = 2;
    while !seen.insert(k.clone()) {
        k = format!("{key}#{n}");
        n += 1;
    }
    k
}
