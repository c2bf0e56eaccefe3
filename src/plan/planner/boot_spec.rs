//! What the replacement is booted with: the flavor (by id, or by name on
//! newer compute APIs), the networks in NIC order, and the name, metadata and
//! tags that tie it to its source.

use std::collections::{BTreeMap, BTreeSet};

use super::FLAVOR_AZ_SPEC;
use super::entry::EntryCtx;
use super::index::Index;
use crate::plan::changeset::{Blocker, BootSpec, ServerSpec, short_digest, user_data_digest};
use crate::plan::inventory::{Address, Flavor, Inventory, Port, Server, tags};

pub(super) struct FlavorChoice<'a> {
    pub(super) id: String,
    pub(super) flavor: Option<&'a Flavor>,
}

/// The flavor to boot with: by id (before compute 2.47), else by the
/// embedded `original_name` looked up in the flavor list.
pub(super) fn resolve_flavor<'a>(
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
pub(super) fn flavor_az_blocker(f: &Flavor, target: &str) -> Option<Blocker> {
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
pub(super) fn resolve_networks(s: &Server, idx: &Index) -> Result<Vec<String>, Blocker> {
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

pub(super) fn boot_spec(
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
    let security_groups = security_groups(s);
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
    let security_groups = security_groups(s);
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

/// The server's security groups, each once (Nova lists a group once per port).
fn security_groups(s: &Server) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in &s.security_groups {
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    out
}
