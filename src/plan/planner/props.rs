//! Properties of the planner over random plans and clouds: the order honours
//! every `after`, planning is deterministic, and planning again after apply
//! did some or all of the steps continues exactly where it stopped, for
//! every strategy (snapshot, and shelve, cold and live, which move the server
//! itself), and a complete apply leaves one server per move in its target.

use proptest::prelude::{Just, ProptestConfig, Strategy as Gen, any, prop};
use proptest::{prop_assert, prop_assert_eq, prop_oneof, proptest};

use super::tests::{entry, file, inventory, select, server};
use super::*;
use crate::plan::file::Selector;
use crate::plan::file::Strategy;
use crate::plan::inventory::{Image, Microversion, tags};

/// What apply's steps do to the cloud, as far as the planner can see it.
pub(crate) fn apply_steps(inv: &mut Inventory, m: &PlannedMove, n: usize) {
    if m.boot.is_none() {
        return apply_in_place_steps(inv, m, n);
    }
    let boot = m.boot.clone().expect("a move has a boot spec");
    let rep_id = m
        .existing
        .replacement_id
        .clone()
        .unwrap_or_else(|| format!("rep-{}", m.key));
    let mut snap_id = match m.existing.snapshot_status.as_deref() {
        Some("killed") | None => format!("snap-{}", m.key),
        Some(_) => m.existing.snapshot_id.clone().unwrap_or_default(),
    };
    for step in &m.steps[..n] {
        match step {
            Step::StopSource => {
                let s = inv
                    .servers
                    .iter_mut()
                    .find(|s| s.id == m.key)
                    .expect("source");
                s.status = "SHUTOFF".into();
                s.metadata.insert(tags::STOPPED_BY.into(), "1".into());
                s.updated = "2026-02-01T00:00:00Z".into();
            }
            Step::Snapshot => {
                if m.existing.snapshot_status.as_deref() == Some("killed") {
                    let killed = m.existing.snapshot_id.clone();
                    inv.images.retain(|i| Some(&i.id) != killed.as_ref());
                }
                snap_id = format!("snap-{}", m.key);
                inv.images.push(Image {
                    id: snap_id.clone(),
                    name: boot.snapshot_name.clone(),
                    status: "queued".into(),
                    properties: boot.snapshot_properties.clone(),
                    size: None,
                    created_at: "2026-02-01T00:00:00Z".into(),
                    updated_at: "2026-02-01T00:00:00Z".into(),
                });
            }
            Step::WaitImage => {
                let i = inv
                    .images
                    .iter_mut()
                    .find(|i| i.id == snap_id)
                    .expect("snapshot");
                i.status = "active".into();
            }
            Step::Boot => {
                let src = inv
                    .servers
                    .iter()
                    .find(|s| s.id == m.key)
                    .expect("source")
                    .clone();
                inv.servers.push(Server {
                    id: rep_id.clone(),
                    name: boot.name.clone(),
                    status: "BUILD".into(),
                    availability_zone: Some(m.target_az.clone()),
                    metadata: boot.metadata.clone(),
                    image_id: Some(snap_id.clone()),
                    host: None,
                    ..src
                });
            }
            Step::WaitActive => {
                let r = inv
                    .servers
                    .iter_mut()
                    .find(|s| s.id == rep_id)
                    .expect("replacement");
                r.status = "ACTIVE".into();
            }
            Step::Verify => {}
            Step::DeleteSnapshot => inv.images.retain(|i| i.id != snap_id),
            Step::HandleSource => match m.settings.source_after {
                SourceAfter::Delete => inv.servers.retain(|s| s.id != m.key),
                other => {
                    let s = inv
                        .servers
                        .iter_mut()
                        .find(|s| s.id == m.key)
                        .expect("source");
                    if other == SourceAfter::Stop {
                        s.status = "SHUTOFF".into();
                    }
                    s.metadata.insert(tags::MOVED_TO.into(), rep_id.clone());
                }
            },
            other => panic!("{other:?} is not a step of the snapshot strategy"),
        }
    }
}

/// What the steps of a move that keeps the server (shelve, cold, live) do
/// to it, as Nova does them and as far as the planner can see it.
fn apply_in_place_steps(inv: &mut Inventory, m: &PlannedMove, n: usize) {
    let s = inv
        .servers
        .iter_mut()
        .find(|s| s.id == m.key)
        .expect("the server moved in place");
    let target = m.target_az.clone();
    let was_shutoff = |s: &Server| s.metadata.contains_key(tags::WAS_SHUTOFF);
    for step in &m.steps[..n] {
        match step {
            Step::MarkMoving => {
                s.metadata.insert(tags::MOVING_TO.into(), target.clone());
                s.metadata
                    .insert(tags::STRATEGY.into(), m.strategy.as_str().into());
                if s.status == "SHUTOFF" {
                    s.metadata.insert(tags::WAS_SHUTOFF.into(), "1".into());
                }
            }
            Step::Shelve => s.status = "SHELVED".into(),
            Step::ShelveOffload => {
                s.status = "SHELVED_OFFLOADED".into();
                s.host = None;
            }
            // unshelve with an AZ boots the server there and pins it to it
            Step::Unshelve => {
                s.status = "ACTIVE".into();
                s.availability_zone = Some(target.clone());
                s.pinned_availability_zone = Some(target.clone());
                s.host = Some("node-31".into());
            }
            Step::Unpin => s.pinned_availability_zone = None,
            Step::ColdMigrate => {
                s.status = "VERIFY_RESIZE".into();
                s.availability_zone = Some(target.clone());
                s.host = Some("node-31".into());
            }
            // a cold migration keeps the power state the server had
            Step::ConfirmMigration => {
                s.status = if was_shutoff(s) { "SHUTOFF" } else { "ACTIVE" }.into();
            }
            Step::LiveMigrate => {
                s.availability_zone = Some(target.clone());
                s.host = Some("node-31".into());
            }
            Step::Verify => {}
            Step::Repin => s.pinned_availability_zone = s.availability_zone.clone(),
            Step::RestorePowerState => {
                if was_shutoff(s) {
                    s.status = "SHUTOFF".into();
                }
            }
            Step::Finish => {
                for t in [tags::MOVING_TO, tags::STRATEGY, tags::WAS_SHUTOFF] {
                    s.metadata.remove(t);
                }
            }
            other => panic!("{other:?} is not a step of an in-place strategy"),
        }
        s.updated = "2026-02-01T00:00:00Z".into();
    }
}

#[derive(Debug, Clone)]
struct Case {
    servers: Vec<(u8, bool, bool)>,
    entries: Vec<(EntryKind, Vec<usize>, u8, bool, bool, u8)>,
    /// The caller has the admin role.
    admin: bool,
    /// The compute microversion is 2.<minor>.
    minor: u16,
}

/// Strategies an entry may ask for (`None`: the default, `auto`).
const STRATEGIES: [Option<Strategy>; 6] = [
    None,
    Some(Strategy::Snapshot),
    Some(Strategy::Shelve),
    Some(Strategy::Cold),
    Some(Strategy::Live),
    Some(Strategy::Auto),
];

#[derive(Debug, Clone)]
enum EntryKind {
    Server(u8),
    Group(u8),
}

fn case() -> impl Gen<Value = Case> {
    let servers = prop::collection::vec((0u8..4, any::<bool>(), any::<bool>()), 1..10);
    let entry = (
        prop_oneof![
            (0u8..12).prop_map(EntryKind::Server),
            (0u8..4).prop_map(EntryKind::Group)
        ],
        prop::collection::vec(0usize..6, 0..3),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        0u8..STRATEGIES.len() as u8,
    );
    let minor = prop_oneof![Just(60u16), Just(77u16), Just(104u16)];
    (
        servers,
        prop::collection::vec(entry, 1..6),
        any::<bool>(),
        minor,
    )
        .prop_map(|(servers, entries, admin, minor)| Case {
            servers,
            entries,
            admin,
            minor,
        })
}

/// Server `i` is `vm{i}` in group `g{group}`; groups are selected by name glob.
fn build(c: &Case) -> (PlanFile, Inventory) {
    let servers = c
        .servers
        .iter()
        .enumerate()
        .map(|(i, (group, shutoff, in_target))| {
            let mut s = server(
                &format!("id-{i}"),
                &format!("g{group}-vm{i}"),
                if *in_target { "nova2" } else { "nova" },
            );
            if *shutoff {
                s.status = "SHUTOFF".into();
            }
            // booted into an AZ, so pinned to it
            s.pinned_availability_zone = s.availability_zone.clone();
            s
        })
        .collect();
    let n = c.entries.len();
    let moves = c
        .entries
        .iter()
        .enumerate()
        .map(|(i, (kind, after, source_after, keep, stop, strategy))| {
            let mut e = match kind {
                EntryKind::Server(k) => {
                    let name = c
                        .servers
                        .get(*k as usize)
                        .map(|(g, _, _)| format!("g{g}-vm{k}"))
                        .unwrap_or_else(|| format!("missing{k}"));
                    let mut e = entry(&name, "nova2");
                    e.id = Some(format!("e{i}"));
                    e
                }
                EntryKind::Group(g) => {
                    let sel = Selector {
                        name: Some(format!("g{g}-*")),
                        ..Default::default()
                    };
                    select(Some(&format!("e{i}")), sel, "nova2")
                }
            };
            e.after = after
                .iter()
                .filter(|a| **a < n)
                .map(|a| format!("e{a}"))
                .collect();
            e.source_after = Some(
                [SourceAfter::Keep, SourceAfter::Stop, SourceAfter::Delete][*source_after as usize],
            );
            e.keep_snapshot = Some(*keep);
            e.stop_before_snapshot = Some(*stop);
            e.strategy = STRATEGIES[usize::from(*strategy)];
            e
        })
        .collect();
    let mut f = file(moves);
    f.defaults.strategy = None;
    let mut inv = inventory(servers);
    inv.capabilities.is_admin = c.admin;
    inv.capabilities.compute_microversion = Microversion::new(2, c.minor);
    (f, inv)
}

/// Steps whose effect a plan cannot tell apart from not having run them:
/// restoring the power state of a server that was running. A re-plan may
/// list it again; it then does nothing.
fn observable(steps: &[Step], was_running: bool) -> Vec<Step> {
    steps
        .iter()
        .copied()
        .filter(|s| !(was_running && *s == Step::RestorePowerState))
        .collect()
}

fn replan(f: &PlanFile, inv: &Inventory) -> Changeset {
    plan(f, "plan.yaml", "feedfacefeedfacefeed", inv)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn order_respects_every_after_edge(c in case()) {
        let (f, inv) = build(&c);
        let cs = replan(&f, &inv);
        let pos: BTreeMap<&str, usize> = cs.moves.iter().enumerate().map(|(i, m)| (m.key.as_str(), i)).collect();
        let level: BTreeMap<&str, usize> = cs.levels.iter().enumerate()
            .flat_map(|(l, keys)| keys.iter().map(move |k| (k.as_str(), l))).collect();
        for m in &cs.moves {
            for a in &m.after {
                prop_assert!(pos[a.as_str()] < pos[m.key.as_str()], "{} before {}", a, m.key);
                prop_assert!(level[a.as_str()] < level[m.key.as_str()]);
                prop_assert!(cs.get(a).is_some_and(PlannedMove::is_move));
            }
        }
        // Entry-level: every server of B comes after every server of A.
        let entry_of: BTreeMap<&str, &str> = cs.moves.iter().map(|m| (m.key.as_str(), m.entry.as_str())).collect();
        for (i, e) in f.moves.iter().enumerate() {
            for a in &e.after {
                let b = format!("e{i}");
                let firsts = cs.moves.iter().filter(|m| entry_of[m.key.as_str()] == b && m.is_move());
                for m in firsts {
                    for p in cs.moves.iter().filter(|p| &p.entry == a && p.is_move()) {
                        prop_assert!(pos[p.key.as_str()] < pos[m.key.as_str()]);
                        prop_assert!(m.after.contains(&p.key));
                    }
                }
            }
        }
        // Every move with work is in exactly one level.
        let in_levels: usize = cs.levels.iter().map(Vec::len).sum();
        prop_assert_eq!(in_levels, cs.summary.to_move);
    }

    #[test]
    fn planning_is_deterministic(c in case()) {
        let (f, inv) = build(&c);
        let a = replan(&f, &inv);
        let mut shuffled = inv.clone();
        shuffled.servers.reverse();
        let b = replan(&f, &shuffled);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.to_json(), b.to_json());
    }

    #[test]
    fn planning_after_a_complete_apply_has_no_changes(c in case()) {
        let (f, mut inv) = build(&c);
        let cs = replan(&f, &inv);
        for m in cs.moves.iter().filter(|m| m.is_move()) {
            apply_steps(&mut inv, m, m.steps.len());
        }
        let again = replan(&f, &inv);
        prop_assert_eq!(again.summary.to_move, 0, "{:#?}", again.moves);
        prop_assert!(again.summary.blocked <= cs.summary.blocked);
    }

    #[test]
    fn planning_after_a_partial_apply_continues_where_it_stopped(c in case(), cut in 0usize..8) {
        let (f, mut inv) = build(&c);
        let cs = replan(&f, &inv);
        let moving: Vec<&PlannedMove> = cs.moves.iter().filter(|m| m.is_move()).collect();
        let mut expected: BTreeMap<String, (Strategy, Vec<Step>, bool)> = BTreeMap::new();
        for m in &moving {
            let k = cut.min(m.steps.len() - 1);
            let was_running = m.source.as_ref().is_some_and(|s| s.status != "SHUTOFF");
            apply_steps(&mut inv, m, k);
            let mut rest = m.steps[k..].to_vec();
            // A server (or replacement) found ACTIVE in its target AZ is already verified.
            if rest.first() == Some(&Step::Verify) {
                rest.remove(0);
            }
            expected.insert(m.key.clone(), (m.strategy, rest, was_running));
        }
        let again = replan(&f, &inv);
        for (key, (strategy, rest, was_running)) in expected {
            let m = again.get(&key);
            prop_assert!(m.is_some(), "{} vanished", key);
            let m = m.unwrap();
            prop_assert_eq!(&m.action, &Action::Move, "{}", key);
            // a move under way goes on with the strategy it started with
            prop_assert_eq!(m.strategy, strategy, "{}", key);
            prop_assert_eq!(
                observable(&m.steps, was_running),
                observable(&rest, was_running),
                "{} ({})",
                key,
                strategy
            );
        }
    }

    #[test]
    fn every_server_ends_in_its_target_once_and_keeps_its_id_when_moved_in_place(c in case()) {
        let (f, mut inv) = build(&c);
        let cs = replan(&f, &inv);
        for m in cs.moves.iter().filter(|m| m.is_move()) {
            apply_steps(&mut inv, m, m.steps.len());
        }
        for m in cs.moves.iter().filter(|m| m.is_move()) {
            let in_target: Vec<&Server> = inv
                .servers
                .iter()
                .filter(|s| s.availability_zone.as_deref() == Some(m.target_az.as_str()))
                .filter(|s| s.id == m.key || s.metadata.get(tags::SOURCE) == Some(&m.key))
                .collect();
            prop_assert_eq!(in_target.len(), 1, "{} ({}): {:?}", &m.key, m.strategy, in_target);
            let moved = in_target[0];
            prop_assert_eq!(moved.id == m.key, m.effects.keeps_uuid, "{}", &m.key);
            if m.effects.keeps_uuid {
                prop_assert!(moved.metadata.keys().all(|k| k != tags::MOVING_TO && k != tags::STRATEGY));
                prop_assert_eq!(moved.pinned_availability_zone.as_deref(), Some(m.target_az.as_str()));
                let was = m.source.as_ref().map(|s| s.status.as_str());
                prop_assert_eq!(Some(moved.status.as_str()), was, "{} keeps its power state", &m.key);
            }
        }
    }
}
