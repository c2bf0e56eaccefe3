//! Lookups over the observed inventory, built once per plan: servers by id
//! and name, azmove's replacements and snapshots by the source they belong
//! to, flavors, zones and networks.

use std::collections::{BTreeMap, HashMap};

use crate::plan::inventory::{AvailabilityZone, Flavor, Image, Inventory, Network, Server, tags};

/// Lookups over the inventory, built once.
pub(super) struct Index<'a> {
    pub(super) by_id: HashMap<&'a str, &'a Server>,
    /// Servers not made by azmove, by name.
    pub(super) sources_by_name: HashMap<&'a str, Vec<&'a Server>>,
    /// Servers made by azmove, by the source id they replace.
    pub(super) replacements: HashMap<&'a str, Vec<&'a Server>>,
    /// Servers made by azmove, by the source name they replace.
    pub(super) replacements_by_name: HashMap<&'a str, Vec<&'a Server>>,
    /// azmove snapshots, by source id.
    pub(super) snapshots: HashMap<&'a str, Vec<&'a Image>>,
    pub(super) flavors_by_id: HashMap<&'a str, &'a Flavor>,
    pub(super) flavors_by_name: HashMap<&'a str, Vec<&'a Flavor>>,
    pub(super) azs: BTreeMap<&'a str, &'a AvailabilityZone>,
    pub(super) networks_by_name: HashMap<&'a str, Vec<&'a Network>>,
    pub(super) is_admin: bool,
}

pub(super) fn made_by_azmove(s: &Server) -> bool {
    s.metadata.contains_key(tags::SOURCE)
}

impl<'a> Index<'a> {
    pub(super) fn new(inv: &'a Inventory) -> Self {
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
    pub(super) fn replacements_of(&self, source: &str, target: &str) -> Vec<&'a Server> {
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
    pub(super) fn snapshot_of(&self, source: &str, target: &str) -> Option<&'a Image> {
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

pub(super) fn server_rank(s: &Server) -> u8 {
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
