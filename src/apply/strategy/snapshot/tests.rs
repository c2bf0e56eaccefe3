use std::collections::BTreeMap;

use super::*;
use crate::plan::changeset::{Action, BootSpec, Existing, ServerSpec};
use crate::plan::file::{Options, Strategy};
use crate::plan::inventory::{Address, FlavorRef};

fn planned() -> PlannedMove {
    PlannedMove {
        key: "src".into(),
        entry: "vm".into(),
        source: Some(ServerSpec {
            id: "src".into(),
            name: "vm".into(),
            flavor: "m1.small".into(),
            networks: BTreeMap::from([("private".to_string(), vec!["10.0.0.5".to_string()])]),
            ..Default::default()
        }),
        target_az: "nova2".into(),
        action: Action::Move,
        strategy: Strategy::Snapshot,
        strategy_reason: String::new(),
        steps: vec![],
        after: vec![],
        settings: Options::default().resolve(),
        boot: Some(BootSpec {
            flavor_id: "2".into(),
            ..Default::default()
        }),
        existing: Existing::default(),
        fingerprint: None,
        effects: Default::default(),
    }
}

fn replacement() -> Server {
    Server {
        id: "new".into(),
        status: "ACTIVE".into(),
        availability_zone: Some("nova2".into()),
        host: Some("node-31".into()),
        flavor: FlavorRef {
            original_name: Some("m1.small".into()),
            ..Default::default()
        },
        addresses: BTreeMap::from([(
            "private".to_string(),
            vec![Address {
                addr: "10.0.0.9".into(),
                kind: Some("fixed".into()),
                mac: None,
            }],
        )]),
        ..Default::default()
    }
}

fn source() -> Server {
    Server {
        id: "src".into(),
        flavor: FlavorRef {
            original_name: Some("m1.small".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn a_good_replacement_passes() {
    let hosts = vec!["node-31".to_string(), "node-32".to_string()];
    assert!(
        check_replacement(&replacement(), &planned(), Some(&source()), Some(&hosts)).is_empty()
    );
    // Members see no hosts: the AZ is enough.
    let mut r = replacement();
    r.host = None;
    assert!(check_replacement(&r, &planned(), Some(&source()), None).is_empty());
}

#[test]
fn every_problem_is_named() {
    let mut r = replacement();
    r.status = "ERROR".into();
    r.availability_zone = Some("nova".into());
    r.host = Some("node-1".into());
    r.flavor.original_name = Some("m1.large".into());
    r.addresses.clear();
    let hosts = vec!["node-31".to_string()];
    let p = check_replacement(&r, &planned(), Some(&source()), Some(&hosts));
    assert_eq!(p.len(), 5, "{p:?}");
    assert!(p[0].contains("ERROR"));
    assert!(p[1].contains("availability zone nova, not nova2"));
    assert!(p[2].contains("node-1 is not a host of nova2"));
    assert!(p[3].contains("m1.large"));
    assert!(p[4].contains("expected private"));
}

#[test]
fn flavor_by_id_before_2_47() {
    let mut r = replacement();
    r.flavor = FlavorRef {
        id: Some("2".into()),
        ..Default::default()
    };
    let mut s = source();
    s.flavor = FlavorRef {
        id: Some("2".into()),
        ..Default::default()
    };
    assert!(check_replacement(&r, &planned(), Some(&s), None).is_empty());
    r.flavor.id = Some("3".into());
    assert_eq!(check_replacement(&r, &planned(), Some(&s), None).len(), 1);
}
