//! Inventories and plan entries built in code, for tests of the pure core.

use std::collections::BTreeMap;

use crate::plan::file::{Limits, MoveEntry, Options, PlanFile, Selector, Strategy};
use crate::plan::inventory::{
    Address, AvailabilityZone, Capabilities, Flavor, FlavorRef, Host, Image, Inventory,
    Microversion, Network, Server, tags,
};

pub const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub fn server(id: &str, name: &str, az: &str) -> Server {
    let mut addresses = BTreeMap::new();
    addresses.insert(
        "private".to_string(),
        vec![Address {
            addr: "10.0.0.5".into(),
            kind: Some("fixed".into()),
            mac: None,
        }],
    );
    Server {
        id: id.into(),
        name: name.into(),
        status: "ACTIVE".into(),
        availability_zone: Some(az.into()),
        host: Some("node-1".into()),
        flavor: FlavorRef {
            id: None,
            original_name: Some("m1.small".into()),
            vcpus: Some(1),
            ram_mb: Some(2048),
            disk_gb: Some(20),
        },
        image_id: Some("img-base".into()),
        addresses,
        security_groups: vec!["default".into(), "default".into()],
        key_name: Some("ops".into()),
        metadata: BTreeMap::from([("role".to_string(), "web".to_string())]),
        updated: "2026-01-01T00:00:00Z".into(),
        created: "2025-01-01T00:00:00Z".into(),
        ..Default::default()
    }
}

pub fn inventory(servers: Vec<Server>) -> Inventory {
    let host = |n: &str| Host {
        name: n.into(),
        enabled: true,
        up: true,
    };
    Inventory {
        servers,
        availability_zones: vec![
            AvailabilityZone {
                name: "nova".into(),
                available: true,
                hosts: Some(vec![host("node-1")]),
            },
            AvailabilityZone {
                name: "nova2".into(),
                available: true,
                hosts: Some(vec![host("node-31")]),
            },
        ],
        flavors: vec![Flavor {
            id: "f-small".into(),
            name: "m1.small".into(),
            vcpus: 1,
            ram_mb: 2048,
            disk_gb: 20,
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
            id: "net-private".into(),
            name: "private".into(),
        }],
    }
}

pub fn entry(server: &str, to: &str) -> MoveEntry {
    MoveEntry {
        id: None,
        server: Some(server.into()),
        select: None,
        to: to.into(),
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

pub fn select(id: Option<&str>, sel: Selector, to: &str) -> MoveEntry {
    MoveEntry {
        id: id.map(Into::into),
        server: None,
        select: Some(sel),
        ..entry("x", to)
    }
}

/// A plan with `defaults.strategy: snapshot`: most tests are about that
/// procedure, and the fixture cloud (admin, 2.104) would otherwise have
/// `auto` choose live. Tests of `auto` clear it.
pub fn file(moves: Vec<MoveEntry>) -> PlanFile {
    PlanFile {
        version: 1,
        cloud: None,
        region: None,
        defaults: Options {
            strategy: Some(Strategy::Snapshot),
            ..Options::default()
        },
        limits: Limits::default(),
        moves,
    }
}

pub fn image(id: &str, source: &str, to: &str, status: &str) -> Image {
    Image {
        id: id.into(),
        name: format!("snap-{id}"),
        status: status.into(),
        properties: BTreeMap::from([
            (tags::SOURCE.to_string(), source.to_string()),
            (tags::TARGET.to_string(), to.to_string()),
        ]),
        size: None,
        created_at: "2026-01-02T00:00:00Z".into(),
        updated_at: "2026-01-02T00:00:00Z".into(),
    }
}

pub fn replacement(id: &str, source: &Server, to: &str, status: &str) -> Server {
    let mut r = server(id, &source.name, to);
    r.status = status.into();
    r.metadata.insert(tags::SOURCE.into(), source.id.clone());
    r.metadata
        .insert(tags::SOURCE_NAME.into(), source.name.clone());
    r.metadata.insert(tags::TARGET.into(), to.into());
    r
}
