//! One plan entry with everything that holds for all its servers: its key,
//! settings, strategy order, and the problems of the entry itself (cycles and
//! unknown references in `after`, bad selectors, a missing target AZ).

use std::collections::BTreeMap;

use globset::Glob;

use super::index::Index;
use crate::plan::changeset::Blocker;
use crate::plan::file::{Effective, MoveEntry, PlanFile, Strategy};
use crate::plan::graph::DependencyGraph;
use crate::plan::inventory::Inventory;

/// One plan entry with everything that holds for all its servers.
pub(super) struct EntryCtx<'f> {
    pub(super) index: usize,
    pub(super) key: String,
    pub(super) entry: &'f MoveEntry,
    pub(super) settings: Effective,
    /// The strategy the plan asks for (`auto` is decided per server).
    pub(super) requested: Strategy,
    /// `defaults.strategy` is set (for the reason text).
    pub(super) explicit_default: bool,
    /// The order `auto` tries strategies in.
    pub(super) order: Vec<Strategy>,
    /// `defaults.strategies` is set (for the reason text).
    pub(super) explicit_default_order: bool,
    /// Problems of the entry itself (cycle, unknown `after`, bad selector).
    pub(super) entry_blockers: Vec<Blocker>,
    /// Problems of the target AZ; they matter only when a server still boots.
    pub(super) az_blockers: Vec<Blocker>,
    /// Indexes of the entries this one comes after (known, not on a cycle).
    pub(super) after: Vec<usize>,
}

impl EntryCtx<'_> {
    /// The strategy shown for an entry's outcome that moves no server (no
    /// server found, already in place): what the plan asks for, with `auto`
    /// shown as the first strategy of its order.
    pub(super) fn placeholder_strategy(&self) -> Strategy {
        match self.requested {
            Strategy::Auto => self.order.first().copied().unwrap_or(Strategy::Snapshot),
            other => other,
        }
    }

    pub(super) fn placeholder_reason(&self) -> String {
        match self.requested {
            Strategy::Auto => "auto: decided per server when one is moved".to_string(),
            other => format!("`{other}` as the plan says"),
        }
    }
}

pub(super) fn entry_contexts<'f>(
    file: &'f PlanFile,
    inv: &Inventory,
    idx: &Index,
) -> Vec<EntryCtx<'f>> {
    let keys: Vec<String> = file
        .moves
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.key()
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{}", i + 1))
        })
        .collect();
    let first_with_key = |k: &str| keys.iter().position(|x| x == k);
    // One node per entry; an `after` names the first entry with that key.
    let (graph, _) = DependencyGraph::build(file.moves.iter().enumerate().map(|(i, e)| {
        let after: Vec<usize> = e.after.iter().filter_map(|a| first_with_key(a)).collect();
        (i, after)
    }));
    let mut on_cycle: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, path) in graph.shortest_cycles() {
        on_cycle
            .entry(keys[i].as_str())
            .or_insert_with(|| path.iter().map(|n| keys[*n].clone()).collect());
    }
    let mut unknown: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, e) in file.moves.iter().enumerate() {
        for a in e.after.iter().filter(|a| first_with_key(a).is_none()) {
            unknown.entry(keys[i].as_str()).or_default().push(a.clone());
        }
    }

    let mut known_azs: Vec<String> = inv
        .availability_zones
        .iter()
        .filter(|a| a.name != "internal")
        .map(|a| a.name.clone())
        .collect();
    known_azs.sort();

    file.moves
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let settings = file.effective(e);
            let mut entry_blockers = Vec::new();
            if let Some(path) = on_cycle.get(keys[i].as_str()) {
                entry_blockers.push(Blocker::Cycle { path: path.clone() });
            }
            for m in unknown.get(keys[i].as_str()).into_iter().flatten() {
                entry_blockers.push(Blocker::UnknownPrerequisite { entry: m.clone() });
            }
            if e.server.is_none() && e.select.is_none() {
                entry_blockers.push(Blocker::Other {
                    message: "the entry names no server: give it `server:` or `select:`".into(),
                });
            }
            if let Some(sel) = &e.select {
                if sel.host.is_some() && !idx.is_admin {
                    entry_blockers.push(Blocker::Other {
                        message: "selecting by `host` needs admin rights: compute hosts are hidden from project members; select by name, availability_zone or metadata instead".into(),
                    });
                }
                if let Some(pat) = &sel.name
                    && let Err(err) = Glob::new(pat)
                {
                    entry_blockers.push(Blocker::Other {
                        message: format!("the name pattern `{pat}` is not a valid glob ({err}); fix it, e.g. `web-*`"),
                    });
                }
            }
            let az_blockers = az_blockers(&e.to, idx, &known_azs);
            if az_blockers.iter().any(|b| matches!(b, Blocker::TargetAzMissing { .. })) {
                entry_blockers.extend(az_blockers.iter().cloned());
            }
            let after = if on_cycle.contains_key(keys[i].as_str()) {
                Vec::new()
            } else {
                for a in e.after.iter().filter(|a| on_cycle.contains_key(a.as_str())) {
                    entry_blockers.push(Blocker::PrerequisiteBlocked { entry: a.clone() });
                }
                e.after
                    .iter()
                    .filter_map(|a| keys.iter().position(|k| k == a))
                    .filter(|j| !on_cycle.contains_key(keys[*j].as_str()))
                    .collect()
            };
            EntryCtx {
                index: i,
                key: keys[i].clone(),
                entry: e,
                requested: settings.strategy,
                explicit_default: file.defaults.strategy.is_some(),
                order: settings.strategies.clone(),
                explicit_default_order: file.defaults.strategies.is_some(),
                settings,
                entry_blockers,
                az_blockers,
                after,
            }
        })
        .collect()
}

pub(super) fn az_blockers(az: &str, idx: &Index, known: &[String]) -> Vec<Blocker> {
    let Some(zone) = idx.azs.get(az) else {
        return vec![Blocker::TargetAzMissing {
            az: az.to_string(),
            known: known.to_vec(),
        }];
    };
    let mut out = Vec::new();
    if !zone.available {
        out.push(Blocker::TargetAzUnavailable { az: az.to_string() });
    }
    if let Some(hosts) = &zone.hosts
        && !hosts.iter().any(|h| h.enabled && h.up)
    {
        out.push(Blocker::TargetAzNoHost { az: az.to_string() });
    }
    out
}
