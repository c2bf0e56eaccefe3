//! The checked-in changeset schema (`schemas/changeset.schema.json`, the
//! format of `plan --format json` and of saved plans) is the one generated
//! from the Rust types, and real changesets satisfy it.

use std::collections::BTreeMap;

use azmove::plan::file::{Limits, MoveEntry, Options, PlanFile, Selector};
use azmove::plan::inventory::{
    Address, AvailabilityZone, Capabilities, Flavor, FlavorRef, Host, Inventory, Microversion,
    Network, Server,
};
use azmove::plan::planner;
use azmove::render::json::{changeset_schema, changeset_schema_text, render};

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/changeset.schema.json");

#[test]
fn checked_in_schema_is_up_to_date() {
    let generated = changeset_schema_text();
    if std::env::var_os("AZMOVE_UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_PATH, &generated).expect("write schemas/changeset.schema.json");
        return;
    }
    let checked_in = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_default();
    assert!(
        checked_in == generated,
        "schemas/changeset.schema.json differs from the schema generated from src/plan/changeset.rs.\n\
         Regenerate it with:\n\n    AZMOVE_UPDATE_SCHEMA=1 cargo test --test it -- --exact plan_schema::checked_in_schema_is_up_to_date\n\n\
         and commit the result."
    );
}

fn server(id: &str, name: &str, status: &str) -> Server {
    Server {
        id: id.into(),
        name: name.into(),
        status: status.into(),
        availability_zone: Some("nova".into()),
        host: Some("node-1".into()),
        flavor: FlavorRef {
            original_name: Some("m1.tiny".into()),
            vcpus: Some(1),
            ram_mb: Some(512),
            ..Default::default()
        },
        image_id: Some("img".into()),
        addresses: BTreeMap::from([(
            "net1".to_string(),
            vec![Address {
                addr: "10.0.0.3".into(),
                kind: Some("fixed".into()),
                mac: None,
            }],
        )]),
        security_groups: vec!["default".into()],
        user_data: Some("c2VjcmV0".into()),
        updated: "2026-01-01T00:00:00Z".into(),
        ..Default::default()
    }
}

fn entry(server: Option<&str>, select: Option<Selector>) -> MoveEntry {
    MoveEntry {
        id: None,
        server: server.map(Into::into),
        select,
        to: "nova2".into(),
        after: vec![],
        strategy: None,
        strategies: None,
        stop_before_snapshot: None,
        source_after: None,
        keep_snapshot: None,
        server_name: None,
        snapshot_name: None,
        retries: None,
        timeouts: None,
    }
}

#[test]
fn every_kind_of_move_matches_the_schema() {
    let inventory = Inventory {
        servers: vec![
            server("a", "ok", "ACTIVE"),
            server("b", "bad", "ERROR"),
            server("c", "web-1", "SHUTOFF"),
            server("d", "calm", "ACTIVE"),
        ],
        availability_zones: vec![
            AvailabilityZone {
                name: "nova".into(),
                available: true,
                hosts: None,
            },
            AvailabilityZone {
                name: "nova2".into(),
                available: true,
                hosts: Some(vec![Host {
                    name: "n".into(),
                    enabled: true,
                    up: true,
                }]),
            },
        ],
        flavors: vec![Flavor {
            id: "1".into(),
            name: "m1.tiny".into(),
            vcpus: 1,
            ram_mb: 512,
            disk_gb: 1,
            is_public: true,
            extra_specs: BTreeMap::new(),
        }],
        images: vec![],
        quota: None,
        capabilities: Capabilities {
            compute_microversion: Microversion::new(2, 104),
            is_admin: true,
        },
        networks: vec![Network {
            id: "n1".into(),
            name: "net1".into(),
        }],
    };
    // `calm` moves by `auto` (live, as admin), the `web-*` servers by snapshot.
    let mut late = entry(Some("ok"), None);
    late.after = vec!["bad".into()];
    let mut web = entry(
        None,
        Some(Selector {
            name: Some("web-*".into()),
            ..Default::default()
        }),
    );
    web.strategy = Some(azmove::plan::file::Strategy::Snapshot);
    let plan = PlanFile {
        version: 1,
        cloud: Some("prod".into()),
        region: None,
        defaults: Options::default(),
        limits: Limits::default(),
        moves: vec![
            late,
            entry(Some("bad"), None),
            entry(Some("ghost"), None),
            entry(Some("calm"), None),
            web,
            entry(
                None,
                Some(Selector {
                    name: Some("none-*".into()),
                    ..Default::default()
                }),
            ),
        ],
    };
    let cs = planner::plan(&plan, "p.yaml", "00", &inventory);
    assert_eq!(cs.summary.blocked, 3, "{}", cs.summary.line());
    let strategies: Vec<_> = cs
        .moves
        .iter()
        .filter(|m| m.is_move())
        .map(|m| m.strategy)
        .collect();
    assert!(
        strategies.contains(&azmove::plan::file::Strategy::Live)
            && strategies.contains(&azmove::plan::file::Strategy::Snapshot),
        "{strategies:?}"
    );
    let value: serde_json::Value = serde_json::from_str(&render(&cs)).unwrap();
    let validator = jsonschema::validator_for(&changeset_schema()).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(
        !render(&cs).contains("c2VjcmV0"),
        "user data is never written"
    );
}
