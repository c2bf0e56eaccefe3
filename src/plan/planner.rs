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

use std::collections::{BTreeMap, BTreeSet, HashMap};

use globset::{Glob, GlobMatcher};

use super::changeset::{
    Action, Blocker, BootSpec, CHANGESET_FORMAT, Changeset, Effects, Existing, Fingerprint,
    PlannedMove, ServerSpec, Step, Summary, short_digest, user_data_digest,
};
use super::file::{Effective, MoveEntry, PlanFile, SourceAfter, Strategy};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::graph::DependencyGraph;
use super::inventory::{
    Address, AvailabilityZone, Flavor, Image, Inventory, Network, Port, Server, tags,
};
use super::quota::{Admission, Need};

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

/// Lookups over the inventory, built once.
struct Index<'a> {
    by_id: HashMap<&'a str, &'a Server>,
    /// Servers not made by azmove, by name.
    sources_by_name: HashMap<&'a str, Vec<&'a Server>>,
    /// Servers made by azmove, by the source id they replace.
    replacements: HashMap<&'a str, Vec<&'a Server>>,
    /// Servers made by azmove, by the source name they replace.
    replacements_by_name: HashMap<&'a str, Vec<&'a Server>>,
    /// azmove snapshots, by source id.
    snapshots: HashMap<&'a str, Vec<&'a Image>>,
    flavors_by_id: HashMap<&'a str, &'a Flavor>,
    flavors_by_name: HashMap<&'a str, Vec<&'a Flavor>>,
    azs: BTreeMap<&'a str, &'a AvailabilityZone>,
    networks_by_name: HashMap<&'a str, Vec<&'a Network>>,
    is_admin: bool,
}

fn made_by_azmove(s: &Server) -> bool {
    s.metadata.contains_key(tags::SOURCE)
}

impl<'a> Index<'a> {
    fn new(inv: &'a Inventory) -> Self {
        let mut idx = Index {
            by_id: HashMap::with_capacity(inv.servers.len()),
            sources_by_name: HashMap::with_capacity(inv.servers.len()),
            replacements: HashMap::new(),
            replacements_by_name: HashMap::new(),
            snapshots: HashMap::new(),
            flavors_by_id: HashMap::new(),
            flavors_by_name: HashMap::new(),
            azs: BTreeMap::new(),
            networks_by_name: HashMap::new(),
            is_admin: inv.capabilities.is_admin,
        };
        for s in &inv.servers {
            idx.by_id.insert(&s.id, s);
            match s.metadata.get(tags::SOURCE) {
                Some(src) => {
                    idx.replacements.entry(src).or_default().push(s);
                    if let Some(n) = s.metadata.get(tags::SOURCE_NAME) {
                        idx.replacements_by_name.entry(n).or_default().push(s);
                    }
                }
                None => idx.sources_by_name.entry(&s.name).or_default().push(s),
            }
        }
        for i in &inv.images {
            if let Some(src) = i.properties.get(tags::SOURCE) {
                idx.snapshots.entry(src).or_default().push(i);
            }
        }
        for f in &inv.flavors {
            idx.flavors_by_id.insert(&f.id, f);
            idx.flavors_by_name.entry(&f.name).or_default().push(f);
        }
        for az in &inv.availability_zones {
            idx.azs.insert(&az.name, az);
        }
        for n in &inv.networks {
            idx.networks_by_name.entry(&n.name).or_default().push(n);
        }
        idx
    }

    /// Replacements of `source` made for `target`, best first (ACTIVE, then
    /// BUILD, then anything else; newest first within each).
    fn replacements_of(&self, source: &str, target: &str) -> Vec<&'a Server> {
        let mut v: Vec<&Server> = self
            .replacements
            .get(source)
            .into_iter()
            .flatten()
            .filter(|s| s.metadata.get(tags::TARGET).map(String::as_str) == Some(target))
            .copied()
            .collect();
        v.sort_by(|a, b| {
            server_rank(a)
                .cmp(&server_rank(b))
                .then_with(|| b.created.cmp(&a.created))
                .then_with(|| a.id.cmp(&b.id))
        });
        v
    }

    /// The snapshot of `source` for `target` to continue with: an `active`
    /// one, else one still uploading, else a `killed` one; newest first.
    fn snapshot_of(&self, source: &str, target: &str) -> Option<&'a Image> {
        self.snapshots
            .get(source)
            .into_iter()
            .flatten()
            .filter(|i| i.properties.get(tags::TARGET).map(String::as_str) == Some(target))
            .filter(|i| image_rank(i).is_some())
            .min_by(|a, b| {
                image_rank(a)
                    .cmp(&image_rank(b))
                    .then_with(|| b.created_at.cmp(&a.created_at))
                    .then_with(|| a.id.cmp(&b.id))
            })
            .copied()
    }
}

fn server_rank(s: &Server) -> u8 {
    match s.status.as_str() {
        "ACTIVE" => 0,
        "BUILD" => 1,
        _ => 2,
    }
}

/// Glance statuses worth continuing from; `None` for deleted/deactivated images.
fn image_rank(i: &Image) -> Option<u8> {
    match i.status.as_str() {
        "active" => Some(0),
        "queued" | "saving" | "uploading" | "importing" => Some(1),
        "killed" => Some(2),
        _ => None,
    }
}

/// One plan entry with everything that holds for all its servers.
struct EntryCtx<'f> {
    index: usize,
    key: String,
    entry: &'f MoveEntry,
    settings: Effective,
    /// The strategy the plan asks for (`auto` is decided per server).
    requested: Strategy,
    /// `defaults.strategy` is set (for the reason text).
    explicit_default: bool,
    /// The order `auto` tries strategies in.
    order: Vec<Strategy>,
    /// `defaults.strategies` is set (for the reason text).
    explicit_default_order: bool,
    /// Problems of the entry itself (cycle, unknown `after`, bad selector).
    entry_blockers: Vec<Blocker>,
    /// Problems of the target AZ; they matter only when a server still boots.
    az_blockers: Vec<Blocker>,
    /// Indexes of the entries this one comes after (known, not on a cycle).
    after: Vec<usize>,
}

impl EntryCtx<'_> {
    /// The strategy shown for an entry's outcome that moves no server (no
    /// server found, already in place): what the plan asks for, with `auto`
    /// shown as the first strategy of its order.
    fn placeholder_strategy(&self) -> Strategy {
        match self.requested {
            Strategy::Auto => self.order.first().copied().unwrap_or(Strategy::Snapshot),
            other => other,
        }
    }

    fn placeholder_reason(&self) -> String {
        match self.requested {
            Strategy::Auto => "auto: decided per server when one is moved".to_string(),
            other => format!("`{other}` as the plan says"),
        }
    }
}

fn entry_contexts<'f>(file: &'f PlanFile, inv: &Inventory, idx: &Index) -> Vec<EntryCtx<'f>> {
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
    let edges: Vec<Vec<usize>> = file
        .moves
        .iter()
        .map(|e| e.after.iter().filter_map(|a| first_with_key(a)).collect())
        .collect();
    let cycles = cycles_through(&keys, &edges);
    let mut on_cycle: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, path) in &cycles {
        on_cycle
            .entry(keys[*i].as_str())
            .or_insert_with(|| path.clone());
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

/// For every entry on a cycle of `after`, the shortest cycle through it, as
/// keys from the entry back to itself. `edges[b]` lists the entries `b`
/// comes after. Every member of a strongly connected component is on a
/// cycle, so each is reported with a path it can recognise.
fn cycles_through(keys: &[String], edges: &[Vec<usize>]) -> BTreeMap<usize, Vec<String>> {
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..keys.len()).map(|i| g.add_node(i)).collect();
    for (b, afters) in edges.iter().enumerate() {
        for &a in afters {
            g.update_edge(nodes[a], nodes[b], ());
        }
    }
    let mut out = BTreeMap::new();
    for scc in tarjan_scc(&g) {
        let cyclic = scc.len() > 1 || scc.first().is_some_and(|n| g.contains_edge(*n, *n));
        if !cyclic {
            continue;
        }
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        for &start in &scc {
            // Breadth-first from `start` inside the component until it comes back.
            let mut prev: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut closing = None;
            while let Some(n) = queue.pop_front() {
                let mut succ: Vec<NodeIndex> =
                    g.neighbors(n).filter(|s| members.contains(s)).collect();
                succ.sort();
                for s in succ {
                    if s == start {
                        closing = Some(n);
                        break;
                    }
                    if let std::collections::btree_map::Entry::Vacant(v) = prev.entry(s) {
                        v.insert(n);
                        queue.push_back(s);
                    }
                }
                if closing.is_some() {
                    break;
                }
            }
            let Some(mut cur) = closing else { continue };
            let mut back = vec![cur];
            while cur != start {
                match prev.get(&cur) {
                    Some(&p) => {
                        cur = p;
                        back.push(cur);
                    }
                    None => break,
                }
            }
            back.reverse();
            let mut path: Vec<String> = back.iter().map(|n| keys[g[*n]].clone()).collect();
            path.push(keys[g[start]].clone());
            out.insert(g[start], path);
        }
    }
    out
}

fn az_blockers(az: &str, idx: &Index, known: &[String]) -> Vec<Blocker> {
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

enum Resolution<'a> {
    Servers(Vec<&'a Server>),
    /// A named source no longer exists, and its replacement says it moved.
    Done {
        source_id: String,
        reason: String,
    },
    Blocked(Vec<Blocker>),
}

fn resolve<'a>(e: &EntryCtx, idx: &Index<'a>, inv: &'a Inventory) -> Resolution<'a> {
    if let Some(reference) = &e.entry.server {
        if let Some(s) = idx.by_id.get(reference.as_str()) {
            return Resolution::Servers(vec![s]);
        }
        match idx
            .sources_by_name
            .get(reference.as_str())
            .map(Vec::as_slice)
        {
            Some([one]) => return Resolution::Servers(vec![one]),
            Some(many) if many.len() > 1 => {
                let mut ids: Vec<String> = many.iter().map(|s| s.id.clone()).collect();
                ids.sort();
                return Resolution::Blocked(vec![Blocker::Ambiguous {
                    name: reference.clone(),
                    ids,
                }]);
            }
            _ => {}
        }
        return gone_source(reference, &e.entry.to, idx);
    }
    let Some(sel) = &e.entry.select else {
        return Resolution::Servers(Vec::new());
    };
    if !e.entry_blockers.is_empty() {
        return Resolution::Servers(Vec::new());
    }
    let glob: Option<GlobMatcher> = match &sel.name {
        Some(p) => match Glob::new(p) {
            Ok(g) => Some(g.compile_matcher()),
            Err(_) => return Resolution::Servers(Vec::new()),
        },
        None => None,
    };
    let mut found: Vec<&Server> = inv
        .servers
        .iter()
        .filter(|s| !made_by_azmove(s))
        .filter(|s| glob.as_ref().is_none_or(|g| g.is_match(&s.name)))
        .filter(|s| sel.availability_zone.is_none() || s.availability_zone == sel.availability_zone)
        .filter(|s| sel.host.is_none() || s.host == sel.host)
        .filter(|s| {
            sel.metadata
                .iter()
                .all(|(k, v)| s.metadata.get(k) == Some(v))
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Resolution::Servers(found)
}

/// A `server:` reference that matches no server: done if a replacement for
/// that name or id is ACTIVE (the source was deleted after the move).
fn gone_source<'a>(reference: &str, target: &str, idx: &Index<'a>) -> Resolution<'a> {
    let mut candidates: Vec<&Server> = idx
        .replacements
        .get(reference)
        .into_iter()
        .chain(idx.replacements_by_name.get(reference))
        .flatten()
        .filter(|s| s.metadata.get(tags::TARGET).map(String::as_str) == Some(target))
        .copied()
        .collect();
    candidates.sort_by(|a, b| {
        server_rank(a)
            .cmp(&server_rank(b))
            .then_with(|| a.id.cmp(&b.id))
    });
    candidates.dedup_by(|a, b| a.id == b.id);
    match candidates.first() {
        Some(r) if r.status == "ACTIVE" => Resolution::Done {
            source_id: r
                .metadata
                .get(tags::SOURCE)
                .cloned()
                .unwrap_or_else(|| reference.to_string()),
            reason: format!(
                "moved (replacement {} in {target}; the source was deleted)",
                r.id
            ),
        },
        Some(r) => Resolution::Blocked(vec![Blocker::Other {
            message: format!(
                "the source `{reference}` no longer exists and its replacement {} is {}; check it with `openstack server show {}` — start or delete it, then plan again",
                r.id, r.status, r.id
            ),
        }]),
        None => Resolution::Blocked(vec![Blocker::NotFound {
            reference: reference.to_string(),
        }]),
    }
}

/// A move being planned; becomes a [`PlannedMove`] once blocking is settled.
struct Draft {
    key: String,
    entry_key: String,
    entry_index: usize,
    /// Entries this server belongs to (more than one only when blocked for it).
    members: Vec<usize>,
    source: Option<ServerSpec>,
    target_az: String,
    strategy: Strategy,
    strategy_reason: String,
    settings: Effective,
    /// The decided outcome when it is not a move (no change, or blocked by
    /// the entry); moves keep `None` here.
    outcome: Option<Action>,
    /// Blockers found while planning; `Some` turns the move into Blocked.
    blocked: Option<Vec<Blocker>>,
    steps: Vec<Step>,
    boot: Option<BootSpec>,
    existing: Existing,
    fingerprint: Option<Fingerprint>,
    need: Option<Need>,
}

impl Draft {
    fn bare(key: String, e: &EntryCtx, action: Action) -> Draft {
        Draft {
            key,
            entry_key: e.key.clone(),
            entry_index: e.index,
            members: vec![e.index],
            source: None,
            target_az: e.entry.to.clone(),
            strategy: e.placeholder_strategy(),
            strategy_reason: e.placeholder_reason(),
            settings: e.settings.clone(),
            outcome: Some(action),
            blocked: None,
            steps: Vec::new(),
            boot: None,
            existing: Existing::default(),
            fingerprint: None,
            need: None,
        }
    }

    fn is_move(&self) -> bool {
        self.blocked.is_none() && self.outcome.is_none()
    }

    fn is_blocked(&self) -> bool {
        self.blocked.is_some() || matches!(self.outcome, Some(Action::Blocked { .. }))
    }

    /// Add a reason (once: blocking is settled in more than one pass).
    fn block(&mut self, reason: Blocker) {
        let push = |v: &mut Vec<Blocker>| {
            if !v.contains(&reason) {
                v.push(reason.clone());
            }
        };
        match (&mut self.blocked, &mut self.outcome) {
            (_, Some(Action::Blocked { reasons })) => push(reasons),
            (_, Some(_)) => {}
            (Some(v), None) => push(v),
            (b @ None, None) => *b = Some(vec![reason]),
        }
    }

    fn finish(self, after: Vec<String>) -> PlannedMove {
        let (action, steps) = match (self.outcome, self.blocked) {
            (Some(a), _) => (a, Vec::new()),
            (None, Some(reasons)) => (Action::Blocked { reasons }, Vec::new()),
            (None, None) => (Action::Move, self.steps),
        };
        let effects = Effects::of_move(self.strategy, self.source.as_ref());
        PlannedMove {
            key: self.key,
            entry: self.entry_key,
            source: self.source,
            target_az: self.target_az,
            action,
            strategy: self.strategy,
            strategy_reason: self.strategy_reason,
            steps,
            after,
            settings: self.settings,
            boot: self.boot,
            existing: self.existing,
            fingerprint: self.fingerprint,
            effects,
        }
    }
}

fn plan_server(e: &EntryCtx, s: &Server, idx: &Index, inv: &Inventory, digest: &str) -> Draft {
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

enum Progress {
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
fn progress(e: &EntryCtx, s: &Server, idx: &Index) -> Progress {
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
fn state_blocker(s: &Server, settings: &Effective) -> Option<Blocker> {
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

struct FlavorChoice<'a> {
    id: String,
    flavor: Option<&'a Flavor>,
}

/// The flavor to boot with: by id (before compute 2.47), else by the
/// embedded `original_name` looked up in the flavor list.
fn resolve_flavor<'a>(
    s: &Server,
    idx: &Index<'a>,
    target: &str,
) -> Result<FlavorChoice<'a>, Blocker> {
    if let Some(id) = &s.flavor.id {
        return Ok(FlavorChoice {
            id: id.clone(),
            flavor: idx.flavors_by_id.get(id.as_str()).copied(),
        });
    }
    let name = s.flavor.original_name.clone().unwrap_or_default();
    let not_usable = |why: String| Blocker::FlavorNotUsable {
        flavor: name.clone(),
        az: target.to_string(),
        why,
    };
    if name.is_empty() {
        return Err(not_usable(
            "the server's flavor has neither id nor name in the API response".into(),
        ));
    }
    match idx.flavors_by_name.get(name.as_str()).map(Vec::as_slice) {
        Some([one]) => Ok(FlavorChoice {
            id: one.id.clone(),
            flavor: Some(one),
        }),
        Some(many) if many.len() > 1 => {
            let mut ids: Vec<&str> = many.iter().map(|f| f.id.as_str()).collect();
            ids.sort();
            Err(not_usable(format!(
                "several flavors are named `{name}` ({}), so the one the server uses is unknown; rename or remove the extra ones",
                ids.join(", ")
            )))
        }
        _ => Err(not_usable(format!(
            "no flavor named `{name}` is visible to this project (deleted, or private to another project); create it again or grant the project access"
        ))),
    }
}

/// Whether the flavor's `aggregate_instance_extra_specs:availability_zone`
/// extra spec (if any) lets it land in `target`. Understands a plain value,
/// `s== value`, `<in> part` and `<or> a <or> b`, as the Nova filter does.
fn flavor_az_blocker(f: &Flavor, target: &str) -> Option<Blocker> {
    let spec = f.extra_specs.get(FLAVOR_AZ_SPEC)?;
    if extra_spec_matches(spec, target) {
        return None;
    }
    Some(Blocker::FlavorNotUsable {
        flavor: f.name.clone(),
        az: target.to_string(),
        why: format!(
            "its extra spec `{FLAVOR_AZ_SPEC}={spec}` keeps it out of `{target}`; use a flavor allowed there, or change the extra spec"
        ),
    })
}

fn extra_spec_matches(spec: &str, value: &str) -> bool {
    let words: Vec<&str> = spec.split_whitespace().collect();
    match words.as_slice() {
        ["<or>", ..] => words.iter().filter(|w| **w != "<or>").any(|w| *w == value),
        ["<in>", rest @ ..] => value.contains(rest.join(" ").as_str()),
        ["s==" | "=" | "==", rest @ ..] => rest.join(" ") == value,
        _ => spec.trim() == value,
    }
}

/// Network ids for the boot request: from the server's ports when observed,
/// else from the network names in `addresses` through the network list.
/// One network id per port of the source, so that a server with two ports
/// on one network gets two again (Nova boots one port per `networks` entry,
/// and accepts the same network twice).
fn resolve_networks(s: &Server, idx: &Index) -> Result<Vec<String>, Blocker> {
    let networks = networks_in_nic_order(s);
    if !s.ports.is_empty() {
        // Neutron lists ports in no particular order: put them in the order
        // of the MACs in `addresses` (stable: unknown MACs keep their place)
        let macs: Vec<&str> = networks
            .iter()
            .flat_map(|(_, addrs)| addrs.iter())
            .filter(|a| a.kind.as_deref() != Some("floating"))
            .filter_map(|a| a.mac.as_deref())
            .collect();
        let mut ports: Vec<&Port> = s.ports.iter().collect();
        ports.sort_by_key(|p| {
            p.mac_address
                .as_deref()
                .and_then(|m| macs.iter().position(|x| *x == m))
                .unwrap_or(usize::MAX)
        });
        return Ok(ports.iter().map(|p| p.network_id.clone()).collect());
    }
    let mut ids = Vec::new();
    for (name, addrs) in networks {
        match idx.networks_by_name.get(name).map(Vec::as_slice) {
            Some([one]) => ids.extend(std::iter::repeat_n(one.id.clone(), ports_behind(addrs))),
            Some(many) if many.len() > 1 => {
                return Err(Blocker::Other {
                    message: format!(
                        "several networks are named `{name}`, so the one the server is on is unknown; rename one of them, or plan again so azmove reads the server's ports"
                    ),
                });
            }
            _ => {
                return Err(Blocker::Other {
                    message: format!(
                        "the server is on network `{name}`, which this project cannot see, so the replacement could not be attached to it; share the network with the project or detach the server from it"
                    ),
                });
            }
        }
    }
    Ok(ids)
}

/// The server's networks in the order of its NICs (as Nova listed them in
/// `addresses`; any not in `network_order` follow by name), so that the
/// replacement's first NIC is on the network of the source's first NIC.
fn networks_in_nic_order(s: &Server) -> Vec<(&str, &[Address])> {
    let mut out: Vec<(&str, &[Address])> = Vec::new();
    let names = s
        .network_order
        .iter()
        .map(String::as_str)
        .chain(s.addresses.keys().map(String::as_str));
    for name in names {
        if let Some(addrs) = s.addresses.get(name)
            && !out.iter().any(|(n, _)| *n == name)
        {
            out.push((name, addrs.as_slice()));
        }
    }
    out
}

/// How many ports one network's `addresses` entries stand for: one per MAC
/// address among the fixed addresses (a port with an IPv4 and an IPv6
/// address is listed twice with one MAC, and a floating IP repeats the MAC
/// of the port it points to); one when Nova gives no MACs.
fn ports_behind(addrs: &[Address]) -> usize {
    let macs: BTreeSet<&str> = addrs
        .iter()
        .filter(|a| a.kind.as_deref() != Some("floating"))
        .filter_map(|a| a.mac.as_deref())
        .collect();
    macs.len().max(1)
}

fn boot_spec(
    e: &EntryCtx,
    s: &Server,
    flavor_id: String,
    networks: Vec<String>,
    inv: &Inventory,
    digest: &str,
) -> BootSpec {
    let to = e.entry.to.as_str();
    let mut tagset: BTreeMap<String, String> = BTreeMap::new();
    tagset.insert(tags::SOURCE.into(), s.id.clone());
    tagset.insert(tags::SOURCE_NAME.into(), s.name.clone());
    tagset.insert(tags::PLAN.into(), short_digest(digest).to_string());
    tagset.insert(tags::TARGET.into(), to.to_string());
    let mut metadata: BTreeMap<String, String> = s
        .metadata
        .iter()
        .filter(|(k, _)| !k.starts_with("azmove_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    metadata.extend(tagset.clone());
    let mut security_groups: Vec<String> = Vec::new();
    for g in &s.security_groups {
        if !security_groups.contains(g) {
            security_groups.push(g.clone());
        }
    }
    let user_data = if inv.capabilities.is_admin {
        s.user_data.clone()
    } else {
        None
    };
    BootSpec {
        name: render_template(&e.settings.server_name, s, to),
        flavor_id,
        networks,
        security_groups,
        key_name: s.key_name.clone(),
        metadata,
        user_data_sha256: user_data.as_deref().map(user_data_digest),
        user_data,
        snapshot_name: render_template(&e.settings.snapshot_name, s, to),
        snapshot_properties: tagset,
    }
}

/// Fill `{name}`, `{id}`, `{short_id}` (first 8 characters of the id),
/// `{from}` (current AZ, empty when unknown) and `{to}`.
pub fn render_template(template: &str, s: &Server, to: &str) -> String {
    let short: String = s.id.chars().take(8).collect();
    template
        .replace("{name}", &s.name)
        .replace("{short_id}", &short)
        .replace("{id}", &s.id)
        .replace("{from}", s.availability_zone.as_deref().unwrap_or(""))
        .replace("{to}", to)
}

/// The review view of a server.
pub fn server_spec(s: &Server) -> ServerSpec {
    let networks = s
        .addresses
        .iter()
        .map(|(net, addrs)| {
            let v = addrs
                .iter()
                .map(|a| match a.kind.as_deref() {
                    Some("floating") => format!("{} (floating)", a.addr),
                    _ => a.addr.clone(),
                })
                .collect();
            (net.clone(), v)
        })
        .collect();
    let mut security_groups: Vec<String> = Vec::new();
    for g in &s.security_groups {
        if !security_groups.contains(g) {
            security_groups.push(g.clone());
        }
    }
    ServerSpec {
        id: s.id.clone(),
        name: s.name.clone(),
        status: s.status.clone(),
        availability_zone: s.availability_zone.clone(),
        host: s.host.clone(),
        flavor: s
            .flavor
            .original_name
            .clone()
            .or_else(|| s.flavor.id.clone())
            .unwrap_or_else(|| "?".into()),
        image: s.image_id.clone(),
        networks,
        security_groups,
        key_name: s.key_name.clone(),
        metadata: s.metadata.clone(),
    }
}

/// Every move's entry comes after the entries in its `after`; a blocked
/// prerequisite blocks every move of the entries that come after it, in
/// topological order so the blocking travels down the chain.
fn propagate_prerequisites(moves: &mut [Draft], entries: &[EntryCtx]) {
    let mut blocked = vec![false; entries.len()];
    for m in moves.iter() {
        if m.is_blocked() {
            for &i in &m.members {
                blocked[i] = true;
            }
        }
    }
    let mut by_entry: Vec<Vec<usize>> = vec![Vec::new(); entries.len()];
    for (i, m) in moves.iter().enumerate() {
        by_entry[m.entry_index].push(i);
    }
    for ei in entry_order(entries) {
        let bad: Vec<&str> = entries[ei]
            .after
            .iter()
            .filter(|a| blocked[**a])
            .map(|a| entries[*a].key.as_str())
            .collect();
        if bad.is_empty() {
            continue;
        }
        for &mi in &by_entry[ei] {
            let m = &mut moves[mi];
            if matches!(m.outcome, Some(Action::NoChange { .. })) {
                continue;
            }
            for b in &bad {
                m.block(Blocker::PrerequisiteBlocked {
                    entry: b.to_string(),
                });
            }
            blocked[ei] = true;
        }
    }
}

/// Entries in an order where every entry follows those in its `after`.
fn entry_order(entries: &[EntryCtx]) -> Vec<usize> {
    let names: Vec<(String, Vec<String>)> = entries
        .iter()
        .map(|e| {
            (
                format!("{}", e.index),
                e.after.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect();
    let (g, _) = DependencyGraph::build(names.iter().map(|(n, a)| (n.as_str(), a.as_slice())));
    g.levels()
        .into_iter()
        .flatten()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Topological order of the moves selected by `include` (indexes into
/// `moves`), by levels. Each entry gets one barrier node between its moves
/// and the moves that come after it, so the graph stays linear in size even
/// when large selections depend on each other.
fn layered(
    moves: &[Draft],
    entries: &[EntryCtx],
    include: impl Fn(&Draft) -> bool,
) -> Vec<Vec<usize>> {
    let mut members: Vec<Vec<String>> = vec![Vec::new(); entries.len()];
    let chosen: Vec<usize> = (0..moves.len()).filter(|i| include(&moves[*i])).collect();
    for &i in &chosen {
        members[moves[i].entry_index].push(format!("m{i}"));
    }
    let mut nodes: Vec<(String, Vec<String>)> = Vec::with_capacity(chosen.len() + entries.len());
    for &i in &chosen {
        let after = entries[moves[i].entry_index]
            .after
            .iter()
            .filter(|a| !members[**a].is_empty())
            .map(|a| format!("e{a}"))
            .collect();
        nodes.push((format!("m{i}"), after));
    }
    for (i, mem) in members.into_iter().enumerate() {
        if !mem.is_empty() {
            nodes.push((format!("e{i}"), mem));
        }
    }
    let (g, _) = DependencyGraph::build(nodes.iter().map(|(n, a)| (n.as_str(), a.as_slice())));
    g.levels()
        .into_iter()
        .map(|lvl| {
            lvl.iter()
                .filter_map(|n| n.strip_prefix('m').and_then(|k| k.parse().ok()))
                .collect::<Vec<usize>>()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

fn topological(
    moves: &[Draft],
    entries: &[EntryCtx],
    include: impl Fn(&Draft) -> bool,
) -> Vec<usize> {
    let mut order: Vec<usize> = layered(moves, entries, include)
        .into_iter()
        .flatten()
        .collect();
    // Anything a cycle kept out (none: cyclic entries have no edges) goes last.
    let mut seen = vec![false; moves.len()];
    for &i in &order {
        seen[i] = true;
    }
    order.extend((0..moves.len()).filter(|i| !seen[*i]));
    order
}

fn levels_of(moves: &[Draft], entries: &[EntryCtx]) -> Vec<Vec<usize>> {
    layered(moves, entries, Draft::is_move)
}

#[path = "strategy.rs"]
mod strategy;

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "planner_props.rs"]
mod props;
