//! Unit tests of the pure planner, on inventories built in code.

use super::*;
use crate::plan::changeset::user_data_digest;
use crate::plan::file::Selector;
use crate::plan::file::{MoveEntry, Strategy};
pub(crate) use crate::plan::fixtures::*;
use crate::plan::inventory::{
    Address, AvailabilityZone, Flavor, FlavorRef, Host, Microversion, Port, Quota, QuotaUse, tags,
};

fn run(f: &PlanFile, inv: &Inventory) -> Changeset {
    plan(f, "plan.yaml", DIGEST, inv)
}

fn only(cs: &Changeset) -> &PlannedMove {
    assert_eq!(cs.moves.len(), 1, "{:#?}", cs.moves);
    &cs.moves[0]
}

fn reasons(m: &PlannedMove) -> &[Blocker] {
    match &m.action {
        Action::Blocked { reasons } => reasons,
        other => panic!("expected blocked, got {other:?} for {}", m.key),
    }
}

fn no_change_reason(m: &PlannedMove) -> &str {
    match &m.action {
        Action::NoChange { reason } => reason,
        other => panic!("expected no change, got {other:?} for {}", m.key),
    }
}

const FULL: [Step; 8] = [
    Step::StopSource,
    Step::Snapshot,
    Step::WaitImage,
    Step::Boot,
    Step::WaitActive,
    Step::Verify,
    Step::DeleteSnapshot,
    Step::HandleSource,
];

// ----- the basic move -----

#[test]
fn a_fresh_move_has_every_step_and_a_tagged_boot_spec() {
    let s = server("aaaaaaaa-1111", "vm01", "nova");
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
    let m = only(&cs);
    assert_eq!(m.action, Action::Move);
    assert_eq!(m.steps, FULL);
    assert_eq!(m.strategy, Strategy::Snapshot);
    let b = m.boot.as_ref().unwrap();
    assert_eq!(b.name, "vm01");
    assert_eq!(b.flavor_id, "f-small");
    assert_eq!(b.networks, vec!["net-private"]);
    assert_eq!(b.security_groups, vec!["default"]);
    assert_eq!(b.key_name.as_deref(), Some("ops"));
    assert_eq!(b.metadata.get("role").map(String::as_str), Some("web"));
    assert_eq!(
        b.metadata.get(tags::SOURCE).map(String::as_str),
        Some("aaaaaaaa-1111")
    );
    assert_eq!(
        b.metadata.get(tags::PLAN).map(String::as_str),
        Some("0123456789ab")
    );
    assert_eq!(
        b.metadata.get(tags::TARGET).map(String::as_str),
        Some("nova2")
    );
    assert_eq!(b.snapshot_name, "vm01-azmove-aaaaaaaa");
    assert_eq!(
        b.snapshot_properties.get(tags::SOURCE).map(String::as_str),
        Some("aaaaaaaa-1111")
    );
    assert_eq!(m.fingerprint.as_ref().unwrap().status, "ACTIVE");
    assert_eq!(
        cs.summary,
        Summary {
            to_move: 1,
            unchanged: 0,
            blocked: 0
        }
    );
    assert_eq!(cs.levels, vec![vec!["aaaaaaaa-1111".to_string()]]);
}

#[test]
fn options_shape_the_steps() {
    let mut s = server("s1", "vm01", "nova");
    s.status = "SHUTOFF".into();
    let mut e = entry("vm01", "nova2");
    e.keep_snapshot = Some(true);
    let cs = run(&file(vec![e]), &inventory(vec![s.clone()]));
    assert_eq!(
        only(&cs).steps,
        [
            Step::Snapshot,
            Step::WaitImage,
            Step::Boot,
            Step::WaitActive,
            Step::Verify,
            Step::HandleSource
        ]
    );
    s.status = "ACTIVE".into();
    let mut e = entry("vm01", "nova2");
    e.stop_before_snapshot = Some(false);
    let cs = run(&file(vec![e]), &inventory(vec![s]));
    assert_eq!(only(&cs).steps[0], Step::Snapshot);
}

#[test]
fn name_templates_are_filled() {
    let s = server("abcdef0123456789", "db", "nova");
    let mut e = entry("db", "nova2");
    e.server_name = Some("{name}-{to}".into());
    e.snapshot_name = Some("{from}-{short_id}-{id}".into());
    let cs = run(&file(vec![e]), &inventory(vec![s]));
    let b = only(&cs).boot.clone().unwrap();
    assert_eq!(b.name, "db-nova2");
    assert_eq!(b.snapshot_name, "nova-abcdef01-abcdef0123456789");
}

#[test]
fn flavor_id_from_old_microversions_is_used_directly() {
    let mut s = server("s1", "vm01", "nova");
    s.flavor = FlavorRef {
        id: Some("42".into()),
        ..Default::default()
    };
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
    assert_eq!(only(&cs).boot.as_ref().unwrap().flavor_id, "42");
}

#[test]
fn ports_give_network_ids_when_observed() {
    let mut s = server("s1", "vm01", "nova");
    s.ports = vec![
        Port {
            id: "p1".into(),
            network_id: "net-b".into(),
            mac_address: None,
            fixed_ips: vec![],
            security_group_ids: vec![],
        },
        Port {
            id: "p2".into(),
            network_id: "net-a".into(),
            mac_address: None,
            fixed_ips: vec![],
            security_group_ids: vec![],
        },
        Port {
            id: "p3".into(),
            network_id: "net-b".into(),
            mac_address: None,
            fixed_ips: vec![],
            security_group_ids: vec![],
        },
    ];
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
    // one entry per port: two ports on net-b give the replacement two again
    assert_eq!(
        only(&cs).boot.as_ref().unwrap().networks,
        vec!["net-b", "net-a", "net-b"]
    );
}

/// `addresses` of a server booted with two NICs on net1, a dual-stack port
/// on net2 and a floating IP, as real Nova 34 (2.100) sends them
/// (tests/it/real_cloud/end_to_end.rs boots such a server): one entry per address, ports
/// told apart by `OS-EXT-IPS-MAC:mac_addr`.
#[test]
fn every_port_of_the_source_gets_a_port_on_the_replacement() {
    let addresses: BTreeMap<String, Vec<Address>> = serde_json::from_str::<
        BTreeMap<String, Vec<serde_json::Value>>,
    >(
        r#"{
        "net1": [
          {"version": 4, "addr": "10.0.0.145", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:97:cc:e0"},
          {"version": 4, "addr": "10.0.0.46", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:6e:dd:4c"},
          {"version": 4, "addr": "172.24.4.9", "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:97:cc:e0"}
        ],
        "net2": [
          {"version": 4, "addr": "10.1.0.7", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:11:22:33"},
          {"version": 6, "addr": "fd00::7", "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:11:22:33"}
        ]}"#,
    )
    .unwrap()
    .into_iter()
    .map(|(net, list)| {
        let list = list
            .iter()
            .map(|a| Address {
                addr: a["addr"].as_str().unwrap().into(),
                kind: a["OS-EXT-IPS:type"].as_str().map(Into::into),
                mac: a["OS-EXT-IPS-MAC:mac_addr"].as_str().map(Into::into),
            })
            .collect();
        (net, list)
    })
    .collect();
    let mut s = server("s1", "vm01", "nova");
    s.addresses = addresses;
    let mut inv = inventory(vec![s.clone()]);
    inv.networks = vec![
        Network {
            id: "id-net1".into(),
            name: "net1".into(),
        },
        Network {
            id: "id-net2".into(),
            name: "net2".into(),
        },
    ];
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    assert_eq!(
        only(&cs).boot.as_ref().unwrap().networks,
        vec!["id-net1", "id-net1", "id-net2"]
    );

    // without MACs (no OS-EXT-IPS-MAC) each network counts as one port
    for list in s.addresses.values_mut() {
        for a in list.iter_mut() {
            a.mac = None;
        }
    }
    inv.servers = vec![s];
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    assert_eq!(
        only(&cs).boot.as_ref().unwrap().networks,
        vec!["id-net1", "id-net2"]
    );
}

/// Real Nova lists `addresses` in NIC order (a server booted with NICs on
/// `net1`, then `aaa-probe`, is listed in that order); the replacement's
/// first NIC must be on the network of the source's first NIC, whether the
/// networks come from `addresses` or from Neutron's (unordered) ports.
#[test]
fn networks_keep_the_order_of_the_nics() {
    let addr = |ip: &str, mac: &str| Address {
        addr: ip.into(),
        kind: Some("fixed".into()),
        mac: Some(mac.into()),
    };
    let mut s = server("s1", "vm01", "nova");
    s.addresses = BTreeMap::from([
        ("aaa-probe".to_string(), vec![addr("10.9.0.244", "mac-2")]),
        ("net1".to_string(), vec![addr("10.0.0.221", "mac-1")]),
    ]);
    s.network_order = vec!["net1".into(), "aaa-probe".into()];
    let mut inv = inventory(vec![s.clone()]);
    inv.networks = vec![
        Network {
            id: "id-aaa".into(),
            name: "aaa-probe".into(),
        },
        Network {
            id: "id-net1".into(),
            name: "net1".into(),
        },
    ];
    let networks = |inv: &Inventory| {
        run(&file(vec![entry("vm01", "nova2")]), inv).moves[0]
            .boot
            .as_ref()
            .expect("boot spec")
            .networks
            .clone()
    };
    assert_eq!(networks(&inv), ["id-net1", "id-aaa"]);

    let port = |id: &str, net: &str, mac: &str| Port {
        id: id.into(),
        network_id: net.into(),
        mac_address: Some(mac.into()),
        fixed_ips: vec![],
        security_group_ids: vec![],
    };
    s.ports = vec![
        port("p-aaa", "id-aaa", "mac-2"),
        port("p-net1", "id-net1", "mac-1"),
    ];
    inv.servers = vec![s.clone()];
    assert_eq!(networks(&inv), ["id-net1", "id-aaa"]);

    // without a recorded order (an inventory saved by an older version),
    // networks follow by name as before
    s.network_order.clear();
    s.ports.clear();
    inv.servers = vec![s];
    assert_eq!(networks(&inv), ["id-aaa", "id-net1"]);
}

#[test]
fn user_data_is_copied_only_when_visible_and_digested() {
    let mut s = server("s1", "vm01", "nova");
    s.user_data = Some("I2Nsb3VkLWNvbmZpZw==".into());
    let cs = run(
        &file(vec![entry("vm01", "nova2")]),
        &inventory(vec![s.clone()]),
    );
    let b = only(&cs).boot.clone().unwrap();
    assert_eq!(b.user_data.as_deref(), Some("I2Nsb3VkLWNvbmZpZw=="));
    assert_eq!(
        b.user_data_sha256,
        Some(user_data_digest("I2Nsb3VkLWNvbmZpZw=="))
    );
    let mut inv = inventory(vec![s]);
    inv.capabilities.is_admin = false;
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    assert_eq!(only(&cs).boot.as_ref().unwrap().user_data, None);
}

#[test]
fn source_azmove_tags_are_not_copied_to_the_replacement() {
    let mut s = server("s1", "vm01", "nova");
    s.metadata.insert(tags::STOPPED_BY.into(), "x".into());
    s.metadata.insert("azmove_other".into(), "y".into());
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
    let md = &only(&cs).boot.as_ref().unwrap().metadata;
    assert!(!md.contains_key(tags::STOPPED_BY));
    assert!(!md.contains_key("azmove_other"));
}

#[test]
fn strategy_reasons_name_where_the_strategy_came_from() {
    let s = server("s1", "vm01", "nova");
    let mut f = file(vec![entry("vm01", "nova2")]);
    f.defaults.strategy = None;
    let cs = run(&f, &inventory(vec![s.clone()]));
    assert!(
        only(&cs)
            .strategy_reason
            .starts_with("auto (the default): live"),
        "{}",
        only(&cs).strategy_reason
    );
    let cs = run(
        &file(vec![entry("vm01", "nova2")]),
        &inventory(vec![s.clone()]),
    );
    assert!(only(&cs).strategy_reason.starts_with("set in defaults"));
    let mut f = file(vec![entry("vm01", "nova2")]);
    f.defaults.strategy = Some(Strategy::Auto);
    let cs = run(&f, &inventory(vec![s]));
    let m = only(&cs);
    assert_eq!(m.strategy, Strategy::Live);
    assert!(
        m.strategy_reason
            .starts_with("auto (set in defaults): live"),
        "{}",
        m.strategy_reason
    );
}

// ----- selection -----

#[test]
fn select_needs_every_condition_and_skips_azmove_servers() {
    let a = server("a", "web-1", "nova");
    let mut b = server("b", "web-2", "nova");
    b.metadata.insert("tier".into(), "front".into());
    let mut c = server("c", "web-3", "nova");
    c.metadata.insert("tier".into(), "front".into());
    c.host = Some("node-2".into());
    let mut d = server("d", "web-4", "nova2");
    d.metadata.insert("tier".into(), "front".into());
    let made = replacement("e", &b, "nova3", "ACTIVE");
    let sel = Selector {
        name: Some("web-*".into()),
        availability_zone: Some("nova".into()),
        host: Some("node-1".into()),
        metadata: BTreeMap::from([("tier".to_string(), "front".to_string())]),
    };
    let cs = run(
        &file(vec![select(Some("front"), sel, "nova2")]),
        &inventory(vec![a, b, c, d, made]),
    );
    let keys: Vec<&str> = cs.moves.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, vec!["b"]);
    assert_eq!(cs.moves[0].entry, "front");
}

#[test]
fn select_matching_nothing_is_unchanged_and_said_so() {
    let sel = Selector {
        name: Some("nothing-*".into()),
        ..Default::default()
    };
    let cs = run(
        &file(vec![select(None, sel, "nova2")]),
        &inventory(vec![server("a", "web", "nova")]),
    );
    let m = only(&cs);
    assert_eq!(m.key, "entry:#1");
    assert!(no_change_reason(m).contains("no server matches"));
}

#[test]
fn selecting_by_host_as_member_is_blocked() {
    let mut inv = inventory(vec![server("a", "web", "nova")]);
    inv.capabilities.is_admin = false;
    let sel = Selector {
        host: Some("node-1".into()),
        ..Default::default()
    };
    let cs = run(&file(vec![select(Some("h"), sel, "nova2")]), &inv);
    assert!(
        reasons(only(&cs))[0]
            .to_string()
            .contains("needs admin rights")
    );
}

#[test]
fn azmove_servers_are_not_matched_by_name_but_are_by_uuid() {
    let src = server("src", "vm01", "nova");
    let mut made = replacement("rep", &src, "nova2", "ACTIVE");
    made.name = "only-made".into();
    let cs = run(
        &file(vec![entry("only-made", "nova3")]),
        &inventory(vec![made.clone()]),
    );
    assert!(matches!(reasons(only(&cs))[0], Blocker::NotFound { .. }));
    let mut inv = inventory(vec![made]);
    inv.availability_zones.push(AvailabilityZone {
        name: "nova3".into(),
        available: true,
        hosts: None,
    });
    let cs = run(&file(vec![entry("rep", "nova3")]), &inv);
    assert_eq!(only(&cs).action, Action::Move);
}

#[test]
fn a_server_matched_by_two_entries_is_blocked_once() {
    let s = server("s1", "web-1", "nova");
    let other = server("s2", "db", "nova");
    let sel = Selector {
        name: Some("web-*".into()),
        ..Default::default()
    };
    let cs = run(
        &file(vec![
            entry("web-1", "nova2"),
            select(Some("webs"), sel, "nova2"),
            entry("db", "nova2"),
        ]),
        &inventory(vec![s, other]),
    );
    assert_eq!(cs.moves.len(), 2);
    let m = cs.get("s1").unwrap();
    assert_eq!(
        reasons(m),
        &[Blocker::MatchedByEntries {
            entries: vec!["web-1".into(), "webs".into()]
        }]
    );
    assert_eq!(cs.get("s2").unwrap().action, Action::Move);
}

// ----- convergence -----

#[test]
fn already_in_target_is_no_change() {
    let cs = run(
        &file(vec![entry("vm01", "nova2")]),
        &inventory(vec![server("s1", "vm01", "nova2")]),
    );
    assert_eq!(no_change_reason(only(&cs)), "already in nova2");
    assert!(!cs.summary.has_changes());
}

#[test]
fn active_snapshot_resumes_at_boot() {
    let s = server("s1", "vm01", "nova");
    let mut inv = inventory(vec![s]);
    inv.images = vec![image("i1", "s1", "nova2", "active")];
    let m = run(&file(vec![entry("vm01", "nova2")]), &inv)
        .moves
        .remove(0);
    assert_eq!(
        m.steps,
        [
            Step::Boot,
            Step::WaitActive,
            Step::Verify,
            Step::DeleteSnapshot,
            Step::HandleSource
        ]
    );
    assert_eq!(m.existing.snapshot_id.as_deref(), Some("i1"));
}

#[test]
fn uploading_snapshot_resumes_at_wait_image_even_though_the_source_is_busy() {
    let mut s = server("s1", "vm01", "nova");
    s.task_state = Some("image_uploading".into());
    let mut inv = inventory(vec![s]);
    inv.images = vec![image("i1", "s1", "nova2", "saving")];
    let m = run(&file(vec![entry("vm01", "nova2")]), &inv)
        .moves
        .remove(0);
    assert_eq!(m.action, Action::Move);
    assert_eq!(m.steps[0], Step::WaitImage);
}

#[test]
fn killed_snapshot_restarts_at_snapshot_and_is_named_for_deletion() {
    let mut s = server("s1", "vm01", "nova");
    s.status = "SHUTOFF".into();
    let mut inv = inventory(vec![s]);
    inv.images = vec![image("i1", "s1", "nova2", "killed")];
    let m = run(&file(vec![entry("vm01", "nova2")]), &inv)
        .moves
        .remove(0);
    assert_eq!(m.steps[0], Step::Snapshot);
    assert_eq!(m.existing.snapshot_status.as_deref(), Some("killed"));
    assert_eq!(m.existing.snapshot_id.as_deref(), Some("i1"));
}

#[test]
fn active_snapshot_wins_over_killed_and_other_targets_are_ignored() {
    let s = server("s1", "vm01", "nova");
    let mut inv = inventory(vec![s]);
    inv.images = vec![
        image("i0", "s1", "nova9", "active"),
        image("i1", "s1", "nova2", "killed"),
        image("i2", "s1", "nova2", "active"),
    ];
    let m = run(&file(vec![entry("vm01", "nova2")]), &inv)
        .moves
        .remove(0);
    assert_eq!(m.existing.snapshot_id.as_deref(), Some("i2"));
    assert_eq!(m.steps[0], Step::Boot);
}

#[test]
fn replacement_in_build_resumes_at_wait_active() {
    let s = server("s1", "vm01", "nova");
    let r = replacement("r1", &s, "nova2", "BUILD");
    let mut inv = inventory(vec![s, r]);
    inv.images = vec![image("i1", "s1", "nova2", "active")];
    let m = run(&file(vec![entry("vm01", "nova2")]), &inv)
        .moves
        .remove(0);
    assert_eq!(
        m.steps,
        [
            Step::WaitActive,
            Step::Verify,
            Step::DeleteSnapshot,
            Step::HandleSource
        ]
    );
    assert_eq!(m.existing.replacement_id.as_deref(), Some("r1"));
}

#[test]
fn verified_replacement_leaves_only_cleanup_and_the_source() {
    let s = server("s1", "vm01", "nova");
    let r = replacement("r1", &s, "nova2", "ACTIVE");
    let mut inv = inventory(vec![s.clone(), r.clone()]);
    inv.images = vec![image("i1", "s1", "nova2", "active")];
    let m = run(&file(vec![entry("vm01", "nova2")]), &inv)
        .moves
        .remove(0);
    assert_eq!(m.steps, [Step::DeleteSnapshot, Step::HandleSource]);
    // Without the snapshot only the source remains to be handled.
    let inv = inventory(vec![s, r]);
    let m = run(&file(vec![entry("vm01", "nova2")]), &inv)
        .moves
        .remove(0);
    assert_eq!(m.steps, [Step::HandleSource]);
    assert_eq!(m.existing.snapshot_id, None);
}

#[test]
fn replacement_active_without_visible_az_is_verified_again() {
    let s = server("s1", "vm01", "nova");
    let mut r = replacement("r1", &s, "nova2", "ACTIVE");
    r.availability_zone = None;
    let m = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s, r]))
        .moves
        .remove(0);
    assert_eq!(m.steps, [Step::Verify, Step::HandleSource]);
}

#[test]
fn source_tagged_moved_is_done() {
    let mut s = server("s1", "vm01", "nova");
    let r = replacement("r1", &s, "nova2", "ACTIVE");
    s.metadata.insert(tags::MOVED_TO.into(), "r1".into());
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s, r]));
    assert_eq!(
        no_change_reason(only(&cs)),
        "moved (replacement r1 in nova2)"
    );
    assert_eq!(
        cs.summary.line(),
        "Plan: 0 to move, 1 unchanged, 0 blocked."
    );
}

/// Seen on the real cloud: after `vm01` was moved to nova2 (source kept),
/// the plan was changed to another AZ and `plan` said "No changes. The cloud
/// already matches the plan".
#[test]
fn source_moved_to_another_az_than_the_plan_says_is_blocked() {
    let mut s = server("s1", "vm01", "nova");
    let r = replacement("r1", &s, "nova2", "ACTIVE");
    s.metadata.insert(tags::MOVED_TO.into(), "r1".into());
    let cs = run(
        &file(vec![entry("vm01", "nova3")]),
        &inventory(vec![s.clone(), r.clone()]),
    );
    let why = reasons(only(&cs))[0].to_string();
    assert!(why.contains("already moved to nova2"), "{why}");
    assert!(why.contains("`server: r1`"), "{why}");
    assert_eq!(
        cs.summary.line(),
        "Plan: 0 to move, 0 unchanged, 1 blocked."
    );

    // a replacement without the target tag is judged by the AZ it is in
    let mut untagged = r;
    untagged.metadata.remove(tags::TARGET);
    let cs = run(
        &file(vec![entry("vm01", "nova3")]),
        &inventory(vec![s.clone(), untagged.clone()]),
    );
    assert!(
        reasons(only(&cs))[0]
            .to_string()
            .contains("already moved to nova2")
    );
    let cs = run(
        &file(vec![entry("vm01", "nova2")]),
        &inventory(vec![s, untagged]),
    );
    assert_eq!(
        no_change_reason(only(&cs)),
        "moved (replacement r1 in nova2)"
    );
}

#[test]
fn deleted_source_with_active_replacement_is_done_by_name_and_by_uuid() {
    let s = server("s1", "vm01", "nova");
    let r = replacement("r1", &s, "nova2", "ACTIVE");
    for reference in ["vm01", "s1"] {
        let cs = run(
            &file(vec![entry(reference, "nova2")]),
            &inventory(vec![r.clone()]),
        );
        let m = only(&cs);
        assert_eq!(m.key, "s1");
        assert!(
            no_change_reason(m).starts_with("moved (replacement r1"),
            "{reference}"
        );
    }
}

#[test]
fn moved_tag_pointing_nowhere_is_blocked_with_the_way_out() {
    let mut s = server("s1", "vm01", "nova");
    s.metadata.insert(tags::MOVED_TO.into(), "gone".into());
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
    assert!(
        reasons(only(&cs))[0]
            .to_string()
            .contains("unset --property azmove_moved_to")
    );
}

#[test]
fn failed_replacement_with_a_snapshot_boots_again() {
    let s = server("s1", "vm01", "nova");
    let mut bad = replacement("r1", &s, "nova2", "ERROR");
    bad.fault = Some("No valid host was found".into());
    let mut inv = inventory(vec![s, bad]);
    inv.images = vec![image("i1", "s1", "nova2", "active")];
    let m = run(&file(vec![entry("vm01", "nova2")]), &inv)
        .moves
        .remove(0);
    assert_eq!(m.action, Action::Move);
    assert_eq!(m.steps[0], Step::Boot);
    assert_eq!(m.existing.replacement_status.as_deref(), Some("ERROR"));
}

#[test]
fn failed_replacement_without_snapshot_or_duplicates_block_with_their_ids() {
    let s = server("s1", "vm01", "nova");
    let mut bad = replacement("r1", &s, "nova2", "ERROR");
    bad.fault = Some("No valid host was found".into());
    let cs = run(
        &file(vec![entry("vm01", "nova2")]),
        &inventory(vec![s.clone(), bad.clone()]),
    );
    let text = reasons(only(&cs))[0].to_string();
    assert!(
        text.contains("r1 is ERROR (No valid host was found)"),
        "{text}"
    );
    assert!(text.contains("openstack server delete r1"), "{text}");
    let good = replacement("r2", &s, "nova2", "ACTIVE");
    let cs = run(
        &file(vec![entry("vm01", "nova2")]),
        &inventory(vec![s, bad, good]),
    );
    let text = reasons(only(&cs))[0].to_string();
    assert!(
        text.contains("2 replacements") && text.contains("r1") && text.contains("r2"),
        "{text}"
    );
}

// ----- blockers -----

#[test]
fn server_not_found() {
    let cs = run(&file(vec![entry("ghost", "nova2")]), &inventory(vec![]));
    let m = only(&cs);
    assert_eq!(m.key, "entry:ghost");
    assert_eq!(
        reasons(m),
        &[Blocker::NotFound {
            reference: "ghost".into()
        }]
    );
    assert!(
        reasons(m)[0]
            .to_string()
            .contains("openstack server list --name 'ghost'")
    );
}

#[test]
fn ambiguous_name_lists_the_ids() {
    let cs = run(
        &file(vec![entry("web", "nova2")]),
        &inventory(vec![server("b", "web", "nova"), server("a", "web", "nova")]),
    );
    assert_eq!(
        reasons(only(&cs)),
        &[Blocker::Ambiguous {
            name: "web".into(),
            ids: vec!["a".into(), "b".into()]
        }]
    );
}

#[test]
fn missing_target_az_lists_known_zones() {
    let cs = run(
        &file(vec![entry("vm01", "nova3")]),
        &inventory(vec![server("s1", "vm01", "nova")]),
    );
    assert!(reasons(only(&cs)).contains(&Blocker::TargetAzMissing {
        az: "nova3".into(),
        known: vec!["nova".into(), "nova2".into()]
    }));
}

#[test]
fn unavailable_target_az_and_no_enabled_host() {
    let mut inv = inventory(vec![server("s1", "vm01", "nova")]);
    inv.availability_zones[1].available = false;
    inv.availability_zones[1].hosts = Some(vec![Host {
        name: "node-31".into(),
        enabled: false,
        up: true,
    }]);
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    let r = reasons(only(&cs));
    assert!(r.contains(&Blocker::TargetAzUnavailable { az: "nova2".into() }));
    assert!(r.contains(&Blocker::TargetAzNoHost { az: "nova2".into() }));
    // Members cannot see hosts: no host blocker without evidence.
    inv.availability_zones[1].available = true;
    inv.availability_zones[1].hosts = None;
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    assert_eq!(only(&cs).action, Action::Move);
}

#[test]
fn servers_that_cannot_be_snapshotted() {
    for (status, task) in [
        ("ERROR", None),
        ("ACTIVE", Some("rebooting")),
        ("SHELVED_OFFLOADED", None),
        ("PAUSED", None),
    ] {
        let mut s = server("s1", "vm01", "nova");
        s.status = status.into();
        s.task_state = task.map(Into::into);
        let cs = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
        assert_eq!(
            reasons(only(&cs)),
            &[Blocker::BadState {
                status: status.into(),
                task_state: task.map(Into::into)
            }],
            "{status}"
        );
    }
    let mut s = server("s1", "vm01", "nova");
    s.status = "PAUSED".into();
    let mut e = entry("vm01", "nova2");
    e.stop_before_snapshot = Some(false);
    let cs = run(&file(vec![e]), &inventory(vec![s]));
    assert_eq!(only(&cs).action, Action::Move);
}

#[test]
fn locked_server_blocks_members_only() {
    let mut s = server("s1", "vm01", "nova");
    s.locked = true;
    let mut inv = inventory(vec![s]);
    assert_eq!(
        run(&file(vec![entry("vm01", "nova2")]), &inv).moves[0].action,
        Action::Move
    );
    inv.capabilities.is_admin = false;
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    assert!(reasons(only(&cs))[0].to_string().contains("locked"));
}

#[test]
fn flavor_restricted_to_other_zones() {
    let mut inv = inventory(vec![server("s1", "vm01", "nova")]);
    inv.flavors[0]
        .extra_specs
        .insert(FLAVOR_AZ_SPEC.into(), "nova".into());
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    let r = reasons(only(&cs));
    assert!(
        matches!(&r[0], Blocker::FlavorNotUsable { flavor, az, .. } if flavor == "m1.small" && az == "nova2")
    );
    for ok in ["nova2", "<or> nova <or> nova2", "s== nova2", "<in> nova2"] {
        inv.flavors[0]
            .extra_specs
            .insert(FLAVOR_AZ_SPEC.into(), ok.into());
        assert_eq!(
            run(&file(vec![entry("vm01", "nova2")]), &inv).moves[0].action,
            Action::Move,
            "{ok}"
        );
    }
}

#[test]
fn flavor_not_visible_or_ambiguous() {
    let mut inv = inventory(vec![server("s1", "vm01", "nova")]);
    inv.flavors.clear();
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    assert!(
        reasons(only(&cs))[0]
            .to_string()
            .contains("no flavor named `m1.small` is visible")
    );
    let f = inventory(vec![]).flavors[0].clone();
    inv.flavors = vec![
        f.clone(),
        Flavor {
            id: "f-other".into(),
            ..f
        },
    ];
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    assert!(
        reasons(only(&cs))[0]
            .to_string()
            .contains("several flavors")
    );
}

#[test]
fn unknown_or_ambiguous_network_blocks() {
    let mut inv = inventory(vec![server("s1", "vm01", "nova")]);
    inv.networks.clear();
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    assert!(reasons(only(&cs))[0].to_string().contains("cannot see"));
    inv.networks = vec![
        Network {
            id: "n1".into(),
            name: "private".into(),
        },
        Network {
            id: "n2".into(),
            name: "private".into(),
        },
    ];
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inv);
    assert!(
        reasons(only(&cs))[0]
            .to_string()
            .contains("several networks")
    );
}

#[test]
fn volumes_are_not_supported_yet() {
    let mut s = server("s1", "vm01", "nova");
    s.image_id = None;
    s.volumes_attached = vec!["v-root".into()];
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
    assert_eq!(reasons(only(&cs)), &[Blocker::VolumeBacked]);
    assert!(
        reasons(only(&cs))[0]
            .to_string()
            .contains("not supported yet")
    );
    let mut s = server("s1", "vm01", "nova");
    s.volumes_attached = vec!["v-data".into()];
    let cs = run(&file(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
    assert_eq!(
        reasons(only(&cs)),
        &[Blocker::VolumesAttached {
            volumes: vec!["v-data".into()]
        }]
    );
}

// ----- in-place strategies: shelve, cold, live -----

const SHELVE: [Step; 7] = [
    Step::MarkMoving,
    Step::Shelve,
    Step::ShelveOffload,
    Step::Unshelve,
    Step::Verify,
    Step::RestorePowerState,
    Step::Finish,
];
const COLD: [Step; 7] = [
    Step::MarkMoving,
    Step::Unpin,
    Step::ColdMigrate,
    Step::ConfirmMigration,
    Step::Verify,
    Step::Repin,
    Step::Finish,
];
const LIVE: [Step; 6] = [
    Step::MarkMoving,
    Step::Unpin,
    Step::LiveMigrate,
    Step::Verify,
    Step::Repin,
    Step::Finish,
];

fn with_strategy(strategy: Strategy) -> PlanFile {
    let mut e = entry("vm01", "nova2");
    e.strategy = Some(strategy);
    file(vec![e])
}

/// A server an earlier run started to move in place to `to`.
fn tagged(mut s: Server, to: &str, strategy: &str) -> Server {
    s.metadata.insert(tags::MOVING_TO.into(), to.into());
    s.metadata.insert(tags::STRATEGY.into(), strategy.into());
    s
}

fn member(mut inv: Inventory) -> Inventory {
    inv.capabilities.is_admin = false;
    inv
}

fn at_microversion(mut inv: Inventory, minor: u16) -> Inventory {
    inv.capabilities.compute_microversion = Microversion::new(2, minor);
    inv
}

fn refusal(m: &PlannedMove) -> String {
    match reasons(m) {
        [Blocker::StrategyUnsupported { why, .. }] => why.clone(),
        other => panic!("expected one refusal, got {other:?}"),
    }
}

#[test]
fn explicit_in_place_strategies_have_their_steps_and_no_boot() {
    for (strategy, steps) in [
        (Strategy::Shelve, SHELVE.to_vec()),
        (Strategy::Cold, COLD.to_vec()),
        (Strategy::Live, LIVE.to_vec()),
    ] {
        let cs = run(
            &with_strategy(strategy),
            &inventory(vec![server("s1", "vm01", "nova")]),
        );
        let m = only(&cs);
        assert_eq!(m.action, Action::Move, "{strategy}");
        assert_eq!(m.strategy, strategy);
        assert_eq!(m.steps, steps, "{strategy}");
        assert_eq!(m.boot, None);
        assert!(!m.creates_replacement() && !m.deletes_source());
        assert!(m.effects.keeps_uuid && m.effects.keeps_ips && m.effects.keeps_mac);
        assert!(
            m.strategy_reason.starts_with("set on this entry")
                && m.strategy_reason.contains("same UUID"),
            "{}",
            m.strategy_reason
        );
    }
}

#[test]
fn each_in_place_strategy_has_its_downtime_class() {
    use crate::plan::changeset::Downtime;
    let downtime = |strategy| {
        let cs = run(
            &with_strategy(strategy),
            &inventory(vec![server("s1", "vm01", "nova")]),
        );
        only(&cs).effects.downtime
    };
    assert_eq!(downtime(Strategy::Live), Downtime::None);
    assert_eq!(downtime(Strategy::Cold), Downtime::ColdMigration);
    assert_eq!(downtime(Strategy::Shelve), Downtime::ShelveUnshelve);
    assert_eq!(downtime(Strategy::Snapshot), Downtime::SnapshotBoot);
}

#[test]
fn a_shutoff_server_can_be_shelved_or_cold_migrated_but_not_live_migrated() {
    let mut s = server("s1", "vm01", "nova");
    s.status = "SHUTOFF".into();
    let inv = inventory(vec![s]);
    for (strategy, steps) in [(Strategy::Shelve, SHELVE), (Strategy::Cold, COLD)] {
        let cs = run(&with_strategy(strategy), &inv);
        assert_eq!(only(&cs).steps, steps);
        // it serves nothing before, and ends SHUTOFF again
        assert_eq!(
            only(&cs).effects.downtime,
            crate::plan::changeset::Downtime::NotRunning
        );
    }
    let why = refusal(only(&run(&with_strategy(Strategy::Live), &inv)));
    assert!(
        why.contains("needs an ACTIVE server (this one is SHUTOFF)")
            && why.contains("strategy: cold"),
        "{why}"
    );
}

#[test]
fn cold_and_live_need_the_admin_role_shelve_does_not() {
    let inv = member(inventory(vec![server("s1", "vm01", "nova")]));
    for strategy in [Strategy::Cold, Strategy::Live] {
        let why = refusal(only(&run(&with_strategy(strategy), &inv)));
        assert!(
            why.contains(&format!("strategy `{strategy}` needs the admin role"))
                && why.contains("strategy: shelve"),
            "{why}"
        );
    }
    assert_eq!(
        only(&run(&with_strategy(Strategy::Shelve), &inv)).steps,
        SHELVE
    );
}

#[test]
fn old_compute_microversions_refuse_the_strategies_that_need_newer_ones() {
    let inv = |minor| at_microversion(inventory(vec![server("s1", "vm01", "nova")]), minor);
    let why = refusal(only(&run(&with_strategy(Strategy::Shelve), &inv(76))));
    assert!(
        why.contains("compute API 2.77") && why.contains("offers 2.76"),
        "{why}"
    );
    assert_eq!(
        only(&run(&with_strategy(Strategy::Shelve), &inv(77))).action,
        Action::Move
    );
    for strategy in [Strategy::Cold, Strategy::Live] {
        let why = refusal(only(&run(&with_strategy(strategy), &inv(103))));
        assert!(
            why.contains("compute API 2.104") && why.contains("offers 2.103"),
            "{why}"
        );
    }
}

#[test]
fn servers_in_states_that_cannot_move_in_place_are_refused() {
    for (status, task) in [
        ("ERROR", None),
        ("SHELVED_OFFLOADED", None),
        ("PAUSED", None),
        ("ACTIVE", Some("rebooting")),
    ] {
        let mut s = server("s1", "vm01", "nova");
        s.status = status.into();
        s.task_state = task.map(Into::into);
        let inv = inventory(vec![s]);
        for strategy in [Strategy::Shelve, Strategy::Cold] {
            let why = refusal(only(&run(&with_strategy(strategy), &inv)));
            let expected = match task {
                Some(t) => format!("busy: task `{t}`"),
                None => format!("(this one is {status}"),
            };
            assert!(why.contains(&expected), "{strategy} {status}: {why}");
            if status == "SHELVED_OFFLOADED" && strategy == Strategy::Shelve {
                assert!(
                    why.contains("openstack server unshelve --availability-zone"),
                    "{why}"
                );
            }
        }
    }
}

#[test]
fn in_place_moves_need_no_image_and_no_quota() {
    let mut s = server("s1", "vm01", "nova");
    s.image_id = None;
    s.volumes_attached = vec!["v-data".into()];
    let mut inv = inventory(vec![s]);
    inv.quota = Some(Quota {
        instances: QuotaUse {
            limit: Some(1),
            used: 1,
        },
        cores: QuotaUse {
            limit: Some(1),
            used: 1,
        },
        ram_mb: QuotaUse {
            limit: None,
            used: 0,
        },
    });
    for strategy in [Strategy::Shelve, Strategy::Cold, Strategy::Live] {
        assert_eq!(
            only(&run(&with_strategy(strategy), &inv)).action,
            Action::Move,
            "{strategy}"
        );
    }
}

#[test]
fn in_place_moves_need_a_target_az_that_can_take_the_server() {
    let mut inv = inventory(vec![server("s1", "vm01", "nova")]);
    inv.availability_zones[1].hosts = Some(vec![Host {
        name: "node-31".into(),
        enabled: false,
        up: true,
    }]);
    inv.flavors[0]
        .extra_specs
        .insert(FLAVOR_AZ_SPEC.into(), "nova".into());
    let r = reasons(only(&run(&with_strategy(Strategy::Live), &inv))).to_vec();
    assert!(
        r.contains(&Blocker::TargetAzNoHost { az: "nova2".into() }),
        "{r:?}"
    );
    assert!(
        r.iter()
            .any(|b| matches!(b, Blocker::FlavorNotUsable { .. })),
        "{r:?}"
    );
}

#[test]
fn a_locked_server_cannot_be_shelved_by_a_member() {
    let mut s = server("s1", "vm01", "nova");
    s.locked = true;
    let cs = run(
        &with_strategy(Strategy::Shelve),
        &member(inventory(vec![s])),
    );
    let r = reasons(only(&cs));
    assert!(
        r[0].to_string()
            .contains("locked, so a project member cannot shelve it")
    );
}

#[test]
fn a_shelve_move_under_way_continues_from_where_the_server_is() {
    let s = |status: &str, az: &str| {
        let mut s = tagged(server("s1", "vm01", az), "nova2", "shelve");
        s.status = status.into();
        s
    };
    let cases: [(Server, &[Step]); 6] = [
        (s("ACTIVE", "nova"), &SHELVE[1..]),
        (s("SHELVED", "nova"), &SHELVE[2..]),
        (s("SHELVED_OFFLOADED", "nova"), &SHELVE[3..]),
        (
            s("ACTIVE", "nova2"),
            &[Step::RestorePowerState, Step::Finish],
        ),
        (s("SHUTOFF", "nova2"), &[Step::Finish]),
        (
            {
                let mut x = s("SHELVED_OFFLOADED", "nova");
                x.task_state = Some("unshelving".into());
                x
            },
            &SHELVE[3..],
        ),
    ];
    for (server, rest) in cases {
        let what = format!("{} in {:?}", server.status, server.availability_zone);
        // whatever the plan now says: a move under way finishes as it started
        let cs = run(&with_strategy(Strategy::Snapshot), &inventory(vec![server]));
        let m = only(&cs);
        assert_eq!(m.action, Action::Move, "{what}");
        assert_eq!(m.strategy, Strategy::Shelve, "{what}");
        assert_eq!(m.steps, rest, "{what}");
        assert!(
            m.strategy_reason.starts_with("continuing the shelve move"),
            "{}",
            m.strategy_reason
        );
    }
}

#[test]
fn a_cold_or_live_move_under_way_continues_from_where_the_server_is() {
    let s = |strategy: &str, status: &str, az: &str, pinned: Option<&str>| {
        let mut s = tagged(server("s1", "vm01", az), "nova2", strategy);
        s.status = status.into();
        s.pinned_availability_zone = pinned.map(Into::into);
        s
    };
    let cases: [(Server, &[Step]); 9] = [
        (s("cold", "ACTIVE", "nova", Some("nova")), &COLD[1..]),
        (s("cold", "SHUTOFF", "nova", None), &COLD[2..]),
        (s("cold", "RESIZE", "nova", None), &COLD[2..]),
        (s("cold", "VERIFY_RESIZE", "nova2", None), &COLD[3..]),
        (
            s("cold", "ACTIVE", "nova2", None),
            &[Step::Repin, Step::Finish],
        ),
        (
            s("cold", "SHUTOFF", "nova2", Some("nova2")),
            &[Step::Finish],
        ),
        (s("live", "ACTIVE", "nova", None), &LIVE[2..]),
        (s("live", "MIGRATING", "nova", None), &LIVE[2..]),
        (
            s("live", "ACTIVE", "nova2", Some("nova")),
            &[Step::Repin, Step::Finish],
        ),
    ];
    for (server, rest) in cases {
        let what = format!(
            "{:?} {} in {:?}",
            server.metadata.get(tags::STRATEGY),
            server.status,
            server.availability_zone
        );
        let cs = run(
            &file(vec![entry("vm01", "nova2")]),
            &inventory(vec![server]),
        );
        let m = only(&cs);
        assert_eq!(m.action, Action::Move, "{what}");
        assert_eq!(m.steps, rest, "{what}");
    }
}

#[test]
fn a_finished_in_place_move_is_unchanged() {
    let mut s = server("s1", "vm01", "nova2");
    s.pinned_availability_zone = Some("nova2".into());
    let cs = run(&with_strategy(Strategy::Cold), &inventory(vec![s]));
    assert_eq!(no_change_reason(only(&cs)), "already in nova2");
}

#[test]
fn a_move_under_way_that_cannot_go_on_says_how_to_get_out() {
    // to another AZ than the plan names
    let s = tagged(server("s1", "vm01", "nova"), "nova3", "cold");
    let r = reasons(only(&run(
        &with_strategy(Strategy::Cold),
        &inventory(vec![s]),
    )))
    .to_vec();
    let text = r[0].to_string();
    assert!(
        text.contains("moving the server to nova3") && text.contains("openstack server unset"),
        "{text}"
    );
    // without a known strategy
    let s = tagged(server("s1", "vm01", "nova"), "nova2", "teleport");
    let text = reasons(only(&run(
        &with_strategy(Strategy::Cold),
        &inventory(vec![s]),
    )))[0]
        .to_string();
    assert!(
        text.contains(tags::STRATEGY) && text.contains("missing or unknown"),
        "{text}"
    );
    // in a state the move does not lead through
    let mut s = tagged(server("s1", "vm01", "nova"), "nova2", "live");
    s.status = "ERROR".into();
    s.fault = Some("migration failed".into());
    let text = reasons(only(&run(
        &with_strategy(Strategy::Live),
        &inventory(vec![s]),
    )))[0]
        .to_string();
    assert!(
        text.contains("ERROR (migration failed) in nova") && text.contains("pin it"),
        "{text}"
    );
    // the caller lost the rights the move needs
    let s = tagged(server("s1", "vm01", "nova"), "nova2", "cold");
    let why = refusal(only(&run(
        &with_strategy(Strategy::Cold),
        &member(inventory(vec![s])),
    )));
    assert!(why.contains("admin role"), "{why}");
}

#[test]
fn a_snapshot_move_under_way_is_not_switched_to_another_strategy() {
    let s = server("s1", "vm01", "nova");
    let r = replacement("r1", &s, "nova2", "BUILD");
    let cs = run(
        &with_strategy(Strategy::Live),
        &inventory(vec![s.clone(), r]),
    );
    let m = cs.get("s1").unwrap();
    assert_eq!(m.strategy, Strategy::Snapshot);
    assert_eq!(m.steps[0], Step::WaitActive);
    assert!(
        m.strategy_reason.contains("replacement exists"),
        "{}",
        m.strategy_reason
    );

    let mut inv = inventory(vec![s.clone()]);
    inv.images.push(image("i1", "s1", "nova2", "saving"));
    assert_eq!(
        only(&run(&with_strategy(Strategy::Shelve), &inv)).steps[0],
        Step::WaitImage
    );

    let mut stopped = s;
    stopped.status = "SHUTOFF".into();
    stopped.metadata.insert(tags::STOPPED_BY.into(), "1".into());
    let m = run(&with_strategy(Strategy::Cold), &inventory(vec![stopped]));
    assert_eq!(only(&m).strategy, Strategy::Snapshot);
    // an already moved server stays unchanged whatever the plan now says
    for strategy in [Strategy::Shelve, Strategy::Cold, Strategy::Live] {
        let cs = run(
            &with_strategy(strategy),
            &inventory(vec![server("s1", "vm01", "nova2")]),
        );
        assert!(matches!(only(&cs).action, Action::NoChange { .. }));
    }
}

// ----- auto -----

/// A plan that leaves the strategy to `auto`, the default.
fn auto(moves: Vec<MoveEntry>) -> PlanFile {
    let mut f = file(moves);
    f.defaults.strategy = None;
    f
}

fn fleet() -> Vec<Server> {
    let mut stopped = server("s2", "db", "nova");
    stopped.status = "SHUTOFF".into();
    vec![server("s1", "web", "nova"), stopped]
}

fn fleet_plan() -> PlanFile {
    let sel = Selector {
        availability_zone: Some("nova".into()),
        ..Default::default()
    };
    auto(vec![select(Some("all"), sel, "nova2")])
}

#[test]
fn auto_is_the_default_and_gives_an_admin_live_and_cold() {
    let cs = run(&fleet_plan(), &inventory(fleet()));
    let web = cs.get("s1").unwrap();
    assert_eq!(web.strategy, Strategy::Live);
    assert_eq!(web.steps, LIVE);
    assert_eq!(
        web.strategy_reason,
        "auto (the default): live — admin, server ACTIVE, compute 2.104"
    );
    let db = cs.get("s2").unwrap();
    assert_eq!(db.strategy, Strategy::Cold);
    assert_eq!(db.steps, COLD);
    assert!(
        db.strategy_reason
            .ends_with("; skipped: live needs an ACTIVE server (this one is SHUTOFF)"),
        "{}",
        db.strategy_reason
    );
    assert_eq!(cs.summary.to_move, 2);
}

#[test]
fn auto_gives_a_member_shelve_on_the_same_plan() {
    let cs = run(&fleet_plan(), &member(inventory(fleet())));
    for key in ["s1", "s2"] {
        let m = cs.get(key).unwrap();
        assert_eq!(m.strategy, Strategy::Shelve, "{key}");
        assert_eq!(m.steps, SHELVE);
        assert!(
            m.strategy_reason
                .ends_with("; skipped: live/cold need the admin role"),
            "{}",
            m.strategy_reason
        );
    }
}

#[test]
fn auto_falls_back_to_snapshot_on_an_old_cloud_and_says_why() {
    let inv = at_microversion(member(inventory(vec![server("s1", "vm01", "nova")])), 60);
    let cs = run(&auto(vec![entry("vm01", "nova2")]), &inv);
    let m = only(&cs);
    assert_eq!(m.strategy, Strategy::Snapshot);
    assert_eq!(m.steps, FULL);
    assert!(m.boot.is_some());
    assert!(
        m.strategy_reason.contains(
            "skipped: live/cold need the admin role; shelve needs compute API 2.77 to unshelve into an AZ (this cloud offers 2.60)"
        ),
        "{}",
        m.strategy_reason
    );
    assert!(!m.effects.keeps_uuid && m.effects.reruns_first_boot);
}

#[test]
fn auto_follows_the_order_the_plan_gives() {
    let mut f = auto(vec![entry("vm01", "nova2"), entry("other", "nova2")]);
    f.defaults.strategies = Some(vec![Strategy::Shelve, Strategy::Snapshot]);
    f.moves[1].strategies = Some(vec![Strategy::Snapshot]);
    let inv = inventory(vec![
        server("s1", "vm01", "nova"),
        server("s2", "other", "nova"),
    ]);
    let cs = run(&f, &inv);
    assert_eq!(cs.get("s1").unwrap().strategy, Strategy::Shelve);
    assert_eq!(cs.get("s2").unwrap().strategy, Strategy::Snapshot);
    assert!(
        cs.get("s1")
            .unwrap()
            .strategy_reason
            .starts_with("auto (the default; order shelve, snapshot set in defaults): shelve"),
        "{}",
        cs.get("s1").unwrap().strategy_reason
    );
    assert!(
        cs.get("s2")
            .unwrap()
            .strategy_reason
            .starts_with("auto (the default; order snapshot set on this entry): snapshot"),
        "{}",
        cs.get("s2").unwrap().strategy_reason
    );
    assert_eq!(
        cs.get("s1").unwrap().settings.strategies,
        [Strategy::Shelve, Strategy::Snapshot]
    );
}

#[test]
fn auto_blocks_when_nothing_in_its_order_is_allowed() {
    // a paused server cannot be moved in place nor stopped for a snapshot
    let mut s = server("s1", "vm01", "nova");
    s.status = "PAUSED".into();
    let cs = run(&auto(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
    let why = match reasons(only(&cs)) {
        [
            Blocker::StrategyUnsupported {
                strategy: Strategy::Auto,
                why,
            },
        ] => why.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        why.contains("live needs an ACTIVE server (this one is PAUSED)")
            && why.contains(
                "cold/shelve/snapshot need an ACTIVE or SHUTOFF server (this one is PAUSED)"
            ),
        "{why}"
    );
    // an order without snapshot leaves a member nothing on an old cloud
    let mut f = auto(vec![entry("vm01", "nova2")]);
    f.defaults.strategies = Some(vec![Strategy::Live, Strategy::Shelve]);
    let inv = at_microversion(member(inventory(vec![server("s1", "vm01", "nova")])), 70);
    assert!(matches!(
        reasons(only(&run(&f, &inv))),
        [Blocker::StrategyUnsupported {
            strategy: Strategy::Auto,
            ..
        }]
    ));
}

#[test]
fn auto_skips_snapshot_for_a_volume_backed_server_and_moves_it_in_place() {
    let mut s = server("s1", "vm01", "nova");
    s.image_id = None;
    let mut f = auto(vec![entry("vm01", "nova2")]);
    f.defaults.strategies = Some(vec![Strategy::Snapshot, Strategy::Shelve]);
    let m = run(&f, &inventory(vec![s]));
    let m = only(&m);
    assert_eq!(m.strategy, Strategy::Shelve);
    assert!(
        m.strategy_reason
            .contains("skipped: snapshot needs a server booted from an image"),
        "{}",
        m.strategy_reason
    );
}

#[test]
fn auto_does_not_decide_anew_for_a_move_under_way() {
    let mut s = tagged(server("s1", "vm01", "nova"), "nova2", "shelve");
    s.status = "SHELVED_OFFLOADED".into();
    let m = run(&auto(vec![entry("vm01", "nova2")]), &inventory(vec![s]));
    assert_eq!(only(&m).strategy, Strategy::Shelve);
    assert_eq!(only(&m).steps, &SHELVE[3..]);
}

#[test]
fn quota_short_for_kept_sources() {
    let servers: Vec<Server> = (0..4)
        .map(|i| server(&format!("s{i}"), &format!("vm{i}"), "nova"))
        .collect();
    let mut inv = inventory(servers);
    inv.quota = Some(Quota {
        instances: QuotaUse {
            limit: Some(10),
            used: 4,
        },
        cores: QuotaUse {
            limit: Some(6),
            used: 4,
        },
        ram_mb: QuotaUse {
            limit: None,
            used: 0,
        },
    });
    let sel = Selector {
        name: Some("vm*".into()),
        ..Default::default()
    };
    let cs = run(&file(vec![select(Some("all"), sel.clone(), "nova2")]), &inv);
    assert_eq!(
        cs.summary,
        Summary {
            to_move: 2,
            unchanged: 0,
            blocked: 2
        }
    );
    assert_eq!(
        reasons(cs.get("s2").unwrap()),
        &[Blocker::QuotaShort {
            resource: "cores".into(),
            needed: 3,
            available: 2
        }]
    );
    // Deleting sources with concurrency 2 frees quota as moves finish.
    let mut e = select(Some("all"), sel, "nova2");
    e.source_after = Some(SourceAfter::Delete);
    let mut f = file(vec![e]);
    f.limits.concurrency = 2;
    assert_eq!(run(&f, &inv).summary.blocked, 0);
}

#[test]
fn quota_ignores_moves_that_no_longer_boot() {
    let s = server("s1", "vm01", "nova");
    let r = replacement("r1", &s, "nova2", "BUILD");
    let mut inv = inventory(vec![s, r]);
    inv.quota = Some(Quota {
        instances: QuotaUse {
            limit: Some(2),
            used: 2,
        },
        cores: QuotaUse {
            limit: Some(2),
            used: 2,
        },
        ram_mb: QuotaUse {
            limit: None,
            used: 0,
        },
    });
    assert_eq!(
        run(&file(vec![entry("vm01", "nova2")]), &inv).moves[0].action,
        Action::Move
    );
}

// ----- ordering -----

#[test]
fn after_orders_every_server_of_one_entry_after_every_server_of_the_other() {
    let servers = vec![
        server("w1", "web-1", "nova"),
        server("w2", "web-2", "nova"),
        server("d1", "db-1", "nova"),
        server("d2", "db-2", "nova"),
        server("x", "misc", "nova"),
    ];
    let mut webs = select(
        Some("webs"),
        Selector {
            name: Some("web-*".into()),
            ..Default::default()
        },
        "nova2",
    );
    webs.after = vec!["dbs".into()];
    let dbs = select(
        Some("dbs"),
        Selector {
            name: Some("db-*".into()),
            ..Default::default()
        },
        "nova2",
    );
    let cs = run(
        &file(vec![webs, dbs, entry("misc", "nova2")]),
        &inventory(servers),
    );
    let keys: Vec<&str> = cs.moves.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, vec!["d1", "d2", "x", "w1", "w2"]);
    assert_eq!(cs.get("w1").unwrap().after, vec!["d1", "d2"]);
    assert!(cs.get("d1").unwrap().after.is_empty());
    assert_eq!(cs.levels, vec![vec!["d1", "d2", "x"], vec!["w1", "w2"]]);
}

#[test]
fn finished_prerequisites_do_not_hold_anything_back() {
    let mut app = entry("app", "nova2");
    app.after = vec!["db".into()];
    let cs = run(
        &file(vec![app, entry("db", "nova2")]),
        &inventory(vec![server("a", "app", "nova"), server("d", "db", "nova2")]),
    );
    assert!(cs.get("a").unwrap().after.is_empty());
    assert_eq!(cs.levels, vec![vec!["a"]]);
}

#[test]
fn cycle_blocks_its_entries_and_what_follows_but_not_the_rest() {
    let mut a = entry("a", "nova2");
    a.after = vec!["b".into()];
    let mut b = entry("b", "nova2");
    b.after = vec!["a".into()];
    let mut c = entry("c", "nova2");
    c.after = vec!["a".into()];
    let servers = vec![
        server("sa", "a", "nova"),
        server("sb", "b", "nova"),
        server("sc", "c", "nova"),
        server("sd", "d", "nova"),
    ];
    let cs = run(
        &file(vec![a, b, c, entry("d", "nova2")]),
        &inventory(servers),
    );
    assert_eq!(
        reasons(cs.get("sa").unwrap()),
        &[Blocker::Cycle {
            path: vec!["a".into(), "b".into(), "a".into()]
        }]
    );
    assert!(matches!(
        reasons(cs.get("sb").unwrap())[0],
        Blocker::Cycle { .. }
    ));
    assert_eq!(
        reasons(cs.get("sc").unwrap()),
        &[Blocker::PrerequisiteBlocked { entry: "a".into() }]
    );
    assert_eq!(cs.get("sd").unwrap().action, Action::Move);
}

#[test]
fn a_blocked_prerequisite_blocks_dependents_transitively_only() {
    let mut app = entry("app", "nova2");
    app.after = vec!["db".into()];
    let mut web = entry("web", "nova2");
    web.after = vec!["app".into()];
    let servers = vec![
        server("a", "app", "nova"),
        server("w", "web", "nova"),
        server("o", "other", "nova"),
    ];
    let cs = run(
        &file(vec![
            web,
            app,
            entry("db", "nova2"),
            entry("other", "nova2"),
        ]),
        &inventory(servers),
    );
    assert!(matches!(
        reasons(cs.get("entry:db").unwrap())[0],
        Blocker::NotFound { .. }
    ));
    assert_eq!(
        reasons(cs.get("a").unwrap()),
        &[Blocker::PrerequisiteBlocked { entry: "db".into() }]
    );
    assert_eq!(
        reasons(cs.get("w").unwrap()),
        &[Blocker::PrerequisiteBlocked {
            entry: "app".into()
        }]
    );
    assert_eq!(cs.get("o").unwrap().action, Action::Move);
    assert_eq!(
        cs.summary,
        Summary {
            to_move: 1,
            unchanged: 0,
            blocked: 3
        }
    );
}

#[test]
fn unknown_after_reference_is_blocked() {
    let mut app = entry("app", "nova2");
    app.after = vec!["nope".into()];
    let cs = run(
        &file(vec![app]),
        &inventory(vec![server("a", "app", "nova")]),
    );
    assert_eq!(
        reasons(only(&cs)),
        &[Blocker::UnknownPrerequisite {
            entry: "nope".into()
        }]
    );
}

#[test]
fn planning_is_deterministic_whatever_the_inventory_order() {
    let mut servers: Vec<Server> = (0..20)
        .map(|i| server(&format!("s{i:02}"), &format!("web-{}", i % 7), "nova"))
        .collect();
    let sel = Selector {
        name: Some("web-*".into()),
        ..Default::default()
    };
    let f = file(vec![select(Some("w"), sel, "nova2")]);
    let a = run(&f, &inventory(servers.clone()));
    servers.reverse();
    let b = run(&f, &inventory(servers));
    assert_eq!(a, b);
}

#[test]
fn every_entry_of_a_cycle_is_blocked_even_behind_a_self_reference() {
    // e0 after itself, and e0 → e1 → e3 → e0: all three are on cycles.
    let mut e0 = entry("a", "nova2");
    e0.after = vec!["d".into(), "a".into()];
    let mut e1 = entry("b", "nova2");
    e1.after = vec!["a".into()];
    let mut e3 = entry("d", "nova2");
    e3.after = vec!["d".into(), "b".into()];
    let servers = vec![
        server("sa", "a", "nova"),
        server("sb", "b", "nova"),
        server("sc", "c", "nova"),
        server("sd", "d", "nova"),
    ];
    let cs = run(
        &file(vec![e0, e1, entry("c", "nova2"), e3]),
        &inventory(servers),
    );
    assert_eq!(
        reasons(cs.get("sa").unwrap()),
        &[Blocker::Cycle {
            path: vec!["a".into(), "a".into()]
        }]
    );
    assert_eq!(
        reasons(cs.get("sb").unwrap()),
        &[Blocker::Cycle {
            path: vec!["b".into(), "d".into(), "a".into(), "b".into()]
        }]
    );
    assert_eq!(
        reasons(cs.get("sd").unwrap()),
        &[Blocker::Cycle {
            path: vec!["d".into(), "d".into()]
        }]
    );
    assert_eq!(cs.get("sc").unwrap().action, Action::Move);
    assert!(cs.moves.iter().all(|m| m.after.is_empty()));
}

#[test]
fn planned_sources_and_port_needs() {
    let a = server("a", "web-1", "nova");
    let b = server("b", "db", "nova");
    let c = server("c", "other", "nova");
    let inv = inventory(vec![a.clone(), b, c]);
    let sel = Selector {
        name: Some("web-*".into()),
        ..Default::default()
    };
    let f = file(vec![
        select(None, sel, "nova2"),
        entry("db", "nova2"),
        entry("web-1", "nova2"),
    ]);
    let ids: Vec<&str> = planned_sources(&f, &inv)
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(ids, vec!["a", "b"]);
    assert!(!needs_ports(&a, &inv.networks));
    let twice = vec![
        inv.networks[0].clone(),
        Network {
            id: "n2".into(),
            name: "private".into(),
        },
    ];
    assert!(needs_ports(&a, &twice));
    assert!(needs_ports(&a, &[]));
}

#[test]
fn blocking_passes_list_each_reason_once() {
    // The quota check makes a second blocking pass; reasons stay unique.
    let mut inv = inventory(vec![server("a", "app", "nova")]);
    let unlimited = QuotaUse {
        limit: None,
        used: 0,
    };
    inv.quota = Some(Quota {
        instances: unlimited,
        cores: unlimited,
        ram_mb: unlimited,
    });
    let mut app = entry("app", "nova2");
    app.after = vec!["db".into()];
    let cs = run(&file(vec![app, entry("db", "nova2")]), &inv);
    assert_eq!(
        reasons(cs.get("a").unwrap()),
        &[Blocker::PrerequisiteBlocked { entry: "db".into() }]
    );
}
