//! `POST /servers`: the body checked the way Nova checks it, turned into
//! a [`BootRequest`].

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Mv, bad_request, forbidden_policy, id_from_ref, links, str_map};
use crate::sim::api::{AppState, json, parse_json, str_field, truthy};
use crate::sim::errors::ApiError;
use crate::sim::lifecycle::{BootRequest, BootVolume};
use crate::sim::model::{Caller, FlavorRec, Image, Model, NetRequest};

/// The whole body, checked in Nova's order: name, flavor, boot source,
/// placement, networks, security groups, key, scheduler hints, count.
fn parse_boot(m: &Model, body: &Value, caller: &Caller, mv: Mv) -> Result<BootRequest, ApiError> {
    let Some(s) = body.get("server").filter(|v| v.is_object()) else {
        return Err(bad_request(
            "Invalid input for field/attribute server. 'server' is a required property",
        ));
    };
    let name = str_field(s, "name")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            bad_request("Invalid input for field/attribute name. 'name' is a required property")
        })?
        .to_owned();
    let flavor = flavor(m, s, caller)?;
    let fl = &m.flavors[flavor];
    let (image, boot_volume) = boot_source(m, s, fl, caller)?;
    if let Some(img) = image {
        check_image_fits(&m.images[img], fl)?;
    }
    let (availability_zone, mut forced_host) = availability_zone(m, s, caller)?;
    if let Some(h) = requested_host(m, s, fl, caller, mv)? {
        forced_host = Some(h);
    }
    let networks = networks(m, s, caller, mv)?;
    let security_groups = security_groups(m, s, caller, !networks.is_empty())?;
    let key_name = key_name(m, s, caller)?;
    let (hints, group) = scheduler_hints(m, body)?;
    check_count(s)?;
    Ok(BootRequest {
        name,
        flavor,
        image,
        boot_volume,
        availability_zone,
        forced_host,
        networks,
        security_groups,
        key_name,
        metadata: str_map(s.get("metadata"), "metadata")?,
        user_data: str_field(s, "user_data").map(str::to_owned),
        config_drive: s.get("config_drive").is_some_and(|v| {
            v.as_bool() == Some(true) || v.as_str().is_some_and(|x| truthy(x) && !x.is_empty())
        }),
        description: if mv.at_least(19) {
            str_field(s, "description").map(str::to_owned)
        } else {
            None
        },
        tags: if mv.at_least(52) { tags(s) } else { Vec::new() },
        hints,
        group,
        disk_config: if str_field(s, "OS-DCF:diskConfig") == Some("AUTO") {
            "AUTO"
        } else {
            "MANUAL"
        },
        access_ipv4: str_field(s, "accessIPv4").unwrap_or("").to_owned(),
        access_ipv6: str_field(s, "accessIPv6").unwrap_or("").to_owned(),
    })
}

/// `flavorRef`, an id or an href; private flavors only for admins.
fn flavor(m: &Model, s: &Value, caller: &Caller) -> Result<usize, ApiError> {
    let flavor_ref = s
        .get("flavorRef")
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
        .ok_or_else(|| {
            bad_request(
                "Invalid input for field/attribute flavorRef. 'flavorRef' is a required property",
            )
        })?;
    let flavor_id = id_from_ref(&flavor_ref);
    m.flavor(flavor_id)
        .filter(|f| caller.is_admin || m.flavors[*f].public)
        .ok_or_else(|| bad_request(format!("Flavor {flavor_id} could not be found.")))
}

/// An image the caller sees and that is active.
fn find_image(m: &Model, id: &str, caller: &Caller) -> Result<usize, ApiError> {
    let idx = m
        .image(id)
        .filter(|i| m.image_visible(*i, caller))
        .ok_or_else(|| bad_request(format!("Image {id} could not be found.")))?;
    if m.images[idx].status != "active" {
        return Err(bad_request(format!("Image {id} is not active.")));
    }
    Ok(idx)
}

/// Boot source: an image, or a block device mapping with boot_index 0
/// (which may ask for a boot volume).
fn boot_source(
    m: &Model,
    s: &Value,
    fl: &FlavorRec,
    caller: &Caller,
) -> Result<(Option<usize>, Option<BootVolume>), ApiError> {
    let image_ref = str_field(s, "imageRef").unwrap_or("");
    let bdms = s
        .get("block_device_mapping_v2")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let boot_bdm = bdms.iter().find(|b| {
        b.get("boot_index")
            .is_some_and(|x| x.as_i64() == Some(0) || x.as_str() == Some("0"))
    });
    match boot_bdm {
        Some(b) if str_field(b, "destination_type") == Some("volume") => {
            Ok((None, Some(boot_volume(m, b, fl, caller)?)))
        }
        Some(b) => {
            let id = str_field(b, "uuid").unwrap_or(image_ref);
            Ok((Some(find_image(m, id, caller)?), None))
        }
        None if image_ref.is_empty() => Err(bad_request(
            "Block Device Mapping is Invalid: You specified more local devices than the limit allows",
        )),
        None => Ok((Some(find_image(m, id_from_ref(image_ref), caller)?), None)),
    }
}

/// The boot mapping with `destination_type: volume`: an existing volume,
/// or a new one from an image or blank.
fn boot_volume(
    m: &Model,
    b: &Value,
    fl: &FlavorRec,
    caller: &Caller,
) -> Result<BootVolume, ApiError> {
    let source = str_field(b, "source_type").unwrap_or("image");
    let uuid = str_field(b, "uuid").unwrap_or("");
    let delete = b
        .get("delete_on_termination")
        .is_some_and(|x| x.as_bool() == Some(true) || x.as_str().is_some_and(truthy));
    match source {
        "volume" => {
            let v = m
                .volumes
                .iter()
                .position(|x| x.id == uuid && x.status != "deleted")
                .ok_or_else(|| bad_request(format!("Volume {uuid} could not be found.")))?;
            if m.volumes[v].status != "available" {
                return Err(bad_request(format!(
                    "Invalid volume: volume '{uuid}' status must be 'available'. Currently in '{}'",
                    m.volumes[v].status
                )));
            }
            Ok(BootVolume::Existing {
                volume: v,
                delete_on_termination: delete,
            })
        }
        "image" | "blank" => {
            let image = if source == "image" {
                Some(find_image(m, uuid, caller)?)
            } else {
                None
            };
            let size_gb = b
                .get("volume_size")
                .and_then(Value::as_u64)
                .unwrap_or(fl.disk_gb.max(1));
            Ok(BootVolume::New {
                image,
                size_gb,
                delete_on_termination: delete,
            })
        }
        other => Err(bad_request(format!(
            "Invalid source_type {other} for a boot volume."
        ))),
    }
}

/// Nova's checks of an image against the flavor's disk and memory.
fn check_image_fits(im: &Image, fl: &FlavorRec) -> Result<(), ApiError> {
    let flavor_bytes = fl.disk_gb * 1024 * 1024 * 1024;
    if fl.disk_gb > 0 {
        if im.size.is_some_and(|sz| sz > flavor_bytes) {
            return Err(bad_request(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {flavor_bytes} bytes, image is {} bytes.",
                im.size.unwrap_or(0)
            )));
        }
        if im.min_disk > fl.disk_gb {
            return Err(bad_request(format!(
                "Flavor's disk is smaller than the minimum size specified in image metadata. Flavor disk is {flavor_bytes} bytes, minimum size is {} bytes.",
                im.min_disk * 1024 * 1024 * 1024
            )));
        }
    }
    if im.min_ram > fl.ram_mb {
        return Err(bad_request(
            "Flavor's memory is too small for requested image.",
        ));
    }
    Ok(())
}

/// `availability_zone`, possibly `az:host` (the host for admins only).
fn availability_zone(
    m: &Model,
    s: &Value,
    caller: &Caller,
) -> Result<(Option<String>, Option<usize>), ApiError> {
    let mut zone_asked = None;
    let mut forced_host = None;
    let Some(az) = str_field(s, "availability_zone").filter(|a| !a.is_empty()) else {
        return Ok((None, None));
    };
    let (zone, host) = match az.split_once(':') {
        Some((z, h)) => (z, Some(h.split(':').next().unwrap_or(h))),
        None => (az, None),
    };
    if !zone.is_empty() {
        if !m.azs.iter().any(|a| a == zone) {
            return Err(bad_request(
                "The requested availability zone is not available",
            ));
        }
        zone_asked = Some(zone.to_owned());
    }
    if let Some(h) = host.filter(|h| !h.is_empty()) {
        if !caller.is_admin {
            return Err(forbidden_policy(
                "os_compute_api:servers:create:forced_host",
            ));
        }
        let idx = m.hosts.iter().position(|x| x.name == h).ok_or_else(|| {
            bad_request(format!(
                "No valid host was found. Compute host {h} could not be found."
            ))
        })?;
        forced_host = Some(idx);
    }
    Ok((zone_asked, forced_host))
}

/// `host`/`hypervisor_hostname` (2.74, admins): a host the server must fit.
fn requested_host(
    m: &Model,
    s: &Value,
    fl: &FlavorRec,
    caller: &Caller,
    mv: Mv,
) -> Result<Option<usize>, ApiError> {
    if !mv.at_least(74) {
        return Ok(None);
    }
    let Some(h) = str_field(s, "host").or(str_field(s, "hypervisor_hostname")) else {
        return Ok(None);
    };
    if !caller.is_admin {
        return Err(forbidden_policy(
            "compute:servers:create:requested_destination",
        ));
    }
    let idx = m
        .hosts
        .iter()
        .position(|x| x.name == h)
        .ok_or_else(|| bad_request(format!("Compute host {h} could not be found.")))?;
    if !m.hosts[idx].fits(fl) {
        return Err(bad_request(format!(
            "Host {h} has no room for flavor {}.",
            fl.name
        )));
    }
    Ok(Some(idx))
}

/// `networks`: required from 2.37 (`auto`, `none` or a list of ports and
/// networks); before, absent means one network picked automatically.
fn networks(m: &Model, s: &Value, caller: &Caller, mv: Mv) -> Result<Vec<NetRequest>, ApiError> {
    match s.get("networks") {
        None => {
            if mv.at_least(37) {
                return Err(bad_request(
                    "Invalid input for field/attribute networks. 'networks' is a required property",
                ));
            }
            auto_network(m, caller)
        }
        Some(Value::String(x)) if x == "none" && mv.at_least(37) => Ok(Vec::new()),
        Some(Value::String(x)) if x == "auto" && mv.at_least(37) => auto_network(m, caller),
        Some(Value::Array(list)) => list.iter().map(|n| network(m, n, caller)).collect(),
        Some(other) => Err(bad_request(format!(
            "Invalid input for field/attribute networks. Value: {other}."
        ))),
    }
}

/// The one network Nova would allocate for the caller.
fn auto_network(m: &Model, caller: &Caller) -> Result<Vec<NetRequest>, ApiError> {
    let visible_nets: Vec<usize> = (0..m.networks.len())
        .filter(|n| m.network_visible(*n, caller) && !m.networks[*n].external)
        .collect();
    match visible_nets.as_slice() {
        [] => Err(bad_request(format!(
            "Unable to automatically allocate a network for project {}",
            caller.project_id
        ))),
        [one] => Ok(vec![NetRequest::Network(*one, None)]),
        many => {
            // Nova prefers the project's own network when several are visible.
            let own: Vec<_> = many
                .iter()
                .filter(|n| m.networks[**n].project_id == caller.project_id)
                .collect();
            if own.len() == 1 {
                Ok(vec![NetRequest::Network(*own[0], None)])
            } else {
                Err(ApiError::nova(
                    409,
                    "Multiple possible networks found, use a Network ID to be more specific.",
                ))
            }
        }
    }
}

/// One entry of `networks`: a free port of the caller's, or a network.
fn network(m: &Model, n: &Value, caller: &Caller) -> Result<NetRequest, ApiError> {
    if let Some(port) = str_field(n, "port") {
        let p = m
            .ports
            .get(port)
            .filter(|p| caller.is_admin || p.project_id == caller.project_id)
            .ok_or_else(|| bad_request(format!("Port {port} could not be found.")))?;
        if !p.device_id.is_empty() {
            return Err(ApiError::nova(409, format!("Port {port} is still in use.")));
        }
        Ok(NetRequest::Port(port.to_owned()))
    } else if let Some(uuid) = str_field(n, "uuid") {
        let net = m
            .networks
            .iter()
            .position(|x| x.id == uuid)
            .filter(|i| m.network_visible(*i, caller))
            .ok_or_else(|| bad_request(format!("Network {uuid} could not be found.")))?;
        Ok(NetRequest::Network(
            net,
            str_field(n, "fixed_ip").map(str::to_owned),
        ))
    } else {
        Err(bad_request(
            "Bad networks format: network uuid is not in proper format",
        ))
    }
}

/// Security group names (`default` when none are given); checked only
/// when the server gets ports.
fn security_groups(
    m: &Model,
    s: &Value,
    caller: &Caller,
    has_ports: bool,
) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> = match s.get("security_groups").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(|g| str_field(g, "name").map(str::to_owned))
            .collect(),
        None => vec!["default".to_owned()],
    };
    if has_ports {
        m.resolve_security_groups(&caller.project_id, &names)
            .map_err(|_| {
                bad_request(format!(
                    "Security group {} not found for project {}.",
                    names.join(", "),
                    caller.project_id
                ))
            })?;
    }
    Ok(names)
}

/// `key_name`: one of the caller's keypairs.
fn key_name(m: &Model, s: &Value, caller: &Caller) -> Result<Option<String>, ApiError> {
    let key_name = str_field(s, "key_name").map(str::to_owned);
    if let Some(k) = &key_name
        && !m
            .keypairs
            .iter()
            .any(|x| &x.name == k && x.user_id == caller.user_id)
    {
        return Err(bad_request("Invalid key_name provided."));
    }
    Ok(key_name)
}

/// Scheduler hints (kept as given) and the server group they name.
fn scheduler_hints(
    m: &Model,
    body: &Value,
) -> Result<(BTreeMap<String, Value>, Option<usize>), ApiError> {
    let hints = body
        .get("OS-SCH-HNT:scheduler_hints")
        .or(body.get("os:scheduler_hints"))
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    let group = match hints.get("group").and_then(Value::as_str) {
        Some(g) => Some(
            m.server_groups
                .iter()
                .position(|x| x.id == g)
                .ok_or_else(|| bad_request(format!("Server group {g} could not be found.")))?,
        ),
        None => None,
    };
    Ok((hints, group))
}

/// The simulator boots one server per request.
fn check_count(s: &Value) -> Result<(), ApiError> {
    let count = s
        .get("max_count")
        .or(s.get("min_count"))
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|x| x.parse().ok()))
        })
        .unwrap_or(1);
    if count != 1 {
        return Err(bad_request(
            "The simulated cloud boots one server per request (min_count/max_count 1).",
        ));
    }
    Ok(())
}

/// `tags` (2.52): the strings of the list.
fn tags(s: &Value) -> Vec<String> {
    s.get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn create_server(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let req = match parse_boot(&m, &body, &caller, mv) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let sgs = req.security_groups.clone();
    let i = match m.create_server(req, &caller, now, &sim.env) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let alphabet = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut seed = m.random_u64();
    let pass: String = (0..12)
        .map(|_| {
            let c = alphabet[(seed % alphabet.len() as u64) as usize] as char;
            seed /= alphabet.len() as u64;
            if seed == 0 {
                seed = 0x9E37_79B9_7F4A_7C15;
            }
            c
        })
        .collect();
    let s = &m.servers[i];
    let link = format!("{}/servers/{}", m.cfg.compute_url(), s.id);
    let body = json!({"server": {
        "id": s.id,
        "links": links(&m, "servers", &s.id),
        "OS-DCF:diskConfig": s.disk_config,
        "security_groups": sgs.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
        "adminPass": pass,
    }});
    drop(m);
    let mut resp = json(StatusCode::ACCEPTED, &body);
    if let Ok(v) = HeaderValue::from_str(&link) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
