//! Neutron v2.0: networks, subnets, ports (with Nova's ports on its
//! servers), security groups, floating IPs, availability zones and the
//! extension list clients probe. Lists accept Neutron's attribute filters
//! (repeat a key for "any of"), `fields`, and `limit`/`marker` paging.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{AppState, empty, json, parse_json, query_pairs, str_field};
use crate::sim::clock::iso_seconds;
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model, Port};

pub fn routes() -> Router<AppState> {
    let p = "/networking/v2.0";
    Router::new()
        .route("/networking", get(versions))
        .route("/networking/", get(versions))
        .route(p, get(root))
        .route(&format!("{p}/"), get(root))
        .route(&format!("{p}/extensions"), get(extensions))
        .route(&format!("{p}/extensions/{{alias}}"), get(extension))
        .route(&format!("{p}/availability_zones"), get(availability_zones))
        .route(&format!("{p}/networks"), get(networks))
        .route(&format!("{p}/networks/{{id}}"), get(network))
        .route(&format!("{p}/subnets"), get(subnets))
        .route(&format!("{p}/subnets/{{id}}"), get(subnet))
        .route(&format!("{p}/ports"), get(ports).post(create_port))
        .route(
            &format!("{p}/ports/{{id}}"),
            get(port).put(update_port).delete(delete_port),
        )
        .route(&format!("{p}/security-groups"), get(security_groups))
        .route(&format!("{p}/security-groups/{{id}}"), get(security_group))
        .route(&format!("{p}/floatingips"), get(floating_ips))
        .route(
            &format!("{p}/floatingips/{{id}}"),
            get(floating_ip).put(update_floating_ip),
        )
}

async fn versions(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    json(
        StatusCode::OK,
        &json!({"versions": [{
            "id": "v2.0",
            "links": [{"href": format!("{}/v2.0/", m.cfg.network_url()), "rel": "self"}],
            "status": "CURRENT"
        }]}),
    )
}

async fn root(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    let res: Vec<Value> = ["subnet", "network", "port", "security-group", "floatingip"]
        .iter()
        .map(|r| {
            let coll = if *r == "security-group" { "security-groups".to_owned() } else { format!("{r}s") };
            json!({"name": r, "collection": coll, "links": [{"href": format!("{}/v2.0/{coll}", m.cfg.network_url()), "rel": "self"}]})
        })
        .collect();
    json(StatusCode::OK, &json!({"resources": res}))
}

const EXTENSIONS: &[(&str, &str, &str)] = &[
    (
        "availability_zone",
        "Availability Zone",
        "The availability zone extension.",
    ),
    (
        "network_availability_zone",
        "Network Availability Zone",
        "Availability zone support for network.",
    ),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
    ),
    (
        "security-group",
        "security-group",
        "The security groups extension.",
    ),
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.",
    ),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    ("port-security", "Port Security", "Provides port security"),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "quotas",
        "Quota management support",
        "Expose functions for quotas management per project",
    ),
];

fn extension_json(alias: &str, name: &str, description: &str) -> Value {
    json!({"alias": alias, "name": name, "description": description, "updated": "2015-01-01T10:00:00-00:00", "links": []})
}

async fn extensions() -> Response {
    let list: Vec<Value> = EXTENSIONS
        .iter()
        .map(|(a, n, d)| extension_json(a, n, d))
        .collect();
    json(StatusCode::OK, &json!({"extensions": list}))
}

async fn extension(Path(alias): Path<String>) -> Response {
    match EXTENSIONS.iter().find(|(a, _, _)| *a == alias) {
        Some((a, n, d)) => json(
            StatusCode::OK,
            &json!({"extension": extension_json(a, n, d)}),
        ),
        None => ApiError::neutron(
            404,
            "ExtensionNotFound",
            format!("Extension with alias {alias} does not exist"),
        )
        .into_response(),
    }
}

async fn availability_zones(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    let mut list = Vec::new();
    for az in &m.azs {
        for resource in ["network", "router"] {
            list.push(json!({"name": az, "resource": resource, "state": "available"}));
        }
    }
    json(StatusCode::OK, &json!({"availability_zones": list}))
}

// ---- views ------------------------------------------------------------------

fn network_json(m: &Model, i: usize) -> Value {
    let n = &m.networks[i];
    json!({
        "id": n.id, "name": n.name, "status": "ACTIVE", "admin_state_up": true,
        "subnets": n.subnets.iter().map(|s| m.subnets[*s].id.clone()).collect::<Vec<_>>(),
        "shared": n.shared, "router:external": n.external,
        "project_id": n.project_id, "tenant_id": n.project_id,
        "mtu": 1450, "availability_zones": m.azs.first().map(|a| vec![a.clone()]).unwrap_or_default(),
        "availability_zone_hints": [], "port_security_enabled": true,
        "created_at": iso_seconds(n.created_at), "updated_at": iso_seconds(n.created_at),
        "revision_number": 1, "tags": [], "description": "",
        "ipv4_address_scope": null, "ipv6_address_scope": null,
        "l2_adjacency": true, "is_default": false,
    })
}

fn subnet_json(m: &Model, i: usize) -> Value {
    let s = &m.subnets[i];
    let (start, end) = s.pool();
    json!({
        "id": s.id, "name": s.name, "network_id": m.networks[s.network].id,
        "project_id": s.project_id, "tenant_id": s.project_id,
        "ip_version": 4, "cidr": s.cidr, "gateway_ip": s.gateway(),
        "allocation_pools": [{"start": start, "end": end}],
        "enable_dhcp": true, "dns_nameservers": [], "host_routes": [],
        "ipv6_address_mode": null, "ipv6_ra_mode": null, "segment_id": null,
        "subnetpool_id": null, "service_types": [], "dns_publish_fixed_ip": false,
        "created_at": iso_seconds(s.created_at), "updated_at": iso_seconds(s.created_at),
        "revision_number": 1, "tags": [], "description": "", "router:external": false,
    })
}

fn port_json(m: &Model, p: &Port, admin: bool) -> Value {
    let mut v = json!({
        "id": p.id, "name": p.name, "network_id": m.networks[p.network].id,
        "project_id": p.project_id, "tenant_id": p.project_id,
        "mac_address": p.mac,
        "fixed_ips": p.fixed_ips.iter().map(|(ip, s)| json!({"ip_address": ip, "subnet_id": m.subnets[*s].id})).collect::<Vec<_>>(),
        "device_id": p.device_id, "device_owner": p.device_owner,
        "status": p.status, "admin_state_up": true,
        "security_groups": p.security_groups.iter().map(|s| m.security_groups[*s].id.clone()).collect::<Vec<_>>(),
        "allowed_address_pairs": [], "extra_dhcp_opts": [],
        "port_security_enabled": true, "ip_allocation": "immediate",
        "dns_name": "", "dns_assignment": [],
        "binding:vnic_type": "normal",
        "created_at": iso_seconds(p.created_at), "updated_at": iso_seconds(p.updated_at),
        "revision_number": p.revision, "tags": [], "description": p.description,
        "propagate_uplink_status": false,
    });
    if admin {
        v["binding:host_id"] = json!(p.binding_host);
        v["binding:vif_type"] = json!(if p.binding_host.is_empty() {
            "unbound"
        } else {
            "ovs"
        });
        v["binding:profile"] = json!({});
        v["binding:vif_details"] = json!({});
    }
    v
}

fn security_group_json(m: &Model, i: usize) -> Value {
    let g = &m.security_groups[i];
    let t = iso_seconds(g.created_at);
    let rules: Vec<Value> = ["IPv4", "IPv6"]
        .iter()
        .zip(&g.rule_ids)
        .map(|(eth, id)| {
            json!({
                "id": id, "direction": "egress", "ethertype": eth, "protocol": null,
                "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null,
                "remote_group_id": null, "normalized_cidr": null, "remote_address_group_id": null,
                "security_group_id": g.id, "project_id": g.project_id, "tenant_id": g.project_id,
                "created_at": t, "updated_at": t, "revision_number": 0, "tags": [],
                "description": "", "belongs_to_default_sg": g.name == "default",
            })
        })
        .collect();
    json!({
        "id": g.id, "name": g.name, "description": g.description,
        "project_id": g.project_id, "tenant_id": g.project_id,
        "security_group_rules": rules, "stateful": true, "shared": false,
        "created_at": t, "updated_at": t, "revision_number": 1, "tags": [],
    })
}

fn floating_ip_json(m: &Model, i: usize) -> Value {
    let f = &m.floating_ips[i];
    let details = f.port_id.as_ref().and_then(|p| m.ports.get(p)).map(|p| {
        json!({
            "status": p.status, "name": p.name, "admin_state_up": true,
            "network_id": m.networks[p.network].id, "device_owner": p.device_owner,
            "mac_address": p.mac, "device_id": p.device_id,
        })
    });
    json!({
        "id": f.id, "floating_ip_address": f.address,
        "floating_network_id": m.networks[f.network].id,
        "router_id": null, "port_id": f.port_id, "fixed_ip_address": f.fixed_ip,
        "project_id": f.project_id, "tenant_id": f.project_id,
        "status": if f.port_id.is_some() { "ACTIVE" } else { "DOWN" },
        "description": "", "dns_domain": "", "dns_name": "",
        "port_details": details, "port_forwardings": [], "qos_policy_id": null,
        "created_at": iso_seconds(f.created_at), "updated_at": iso_seconds(f.updated_at),
        "revision_number": f.revision, "tags": [],
    })
}

// ---- generic listing --------------------------------------------------------

const NON_FILTERS: &[&str] = &[
    "limit",
    "marker",
    "fields",
    "sort_key",
    "sort_dir",
    "page_reverse",
];

fn value_matches(field: &Value, wanted: &[&str]) -> bool {
    let s = match field {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "".to_owned(),
        Value::Array(items) => {
            return items.iter().any(|x| value_matches(x, wanted));
        }
        Value::Object(_) => return true,
    };
    wanted.iter().any(|w| w.eq_ignore_ascii_case(&s))
}

/// Filter, page and trim a collection the way Neutron does.
fn collection(
    name: &str,
    items: Vec<Value>,
    q: &[(String, String)],
    base: &str,
) -> Result<Value, ApiError> {
    let mut keys: Vec<&str> = Vec::new();
    for (k, _) in q {
        if !NON_FILTERS.contains(&k.as_str()) && !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            keys.iter().all(|k| {
                let wanted: Vec<&str> = q
                    .iter()
                    .filter(|(x, _)| x == k)
                    .map(|(_, v)| v.as_str())
                    .collect();
                match item.get(*k) {
                    Some(field) => value_matches(field, &wanted),
                    // Filters on attributes the simulator does not model match nothing.
                    None => false,
                }
            })
        })
        .collect();
    items.sort_by(|a, b| str_field(a, "id").cmp(&str_field(b, "id")));
    if let Some((_, marker)) = q.iter().find(|(k, _)| k == "marker") {
        match items
            .iter()
            .position(|i| str_field(i, "id") == Some(marker.as_str()))
        {
            Some(p) => {
                items.drain(..=p);
            }
            None => {
                return Err(ApiError::neutron(
                    400,
                    "BadRequest",
                    format!("Bad {name} request: marker {marker} not found."),
                ));
            }
        }
    }
    let limit = match q.iter().find(|(k, _)| k == "limit") {
        Some((_, v)) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::neutron(
                400,
                "BadRequest",
                format!("Bad limit request: Limit must be an integer 0 or greater and not '{v}'."),
            )
        })?),
        None => None,
    };
    let more = limit.is_some_and(|l| l > 0 && items.len() > l);
    if let Some(l) = limit.filter(|l| *l > 0) {
        items.truncate(l);
    }
    let fields: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "fields")
        .map(|(_, v)| v.as_str())
        .collect();
    let next_marker = items
        .last()
        .and_then(|i| str_field(i, "id"))
        .map(str::to_owned);
    if !fields.is_empty() {
        for item in &mut items {
            if let Value::Object(o) = item {
                o.retain(|k, _| fields.contains(&k.as_str()));
            }
        }
    }
    let mut body = serde_json::Map::new();
    body.insert(name.to_owned(), Value::Array(items));
    if more && let Some(marker) = next_marker {
        let mut params: Vec<(String, String)> =
            q.iter().filter(|(k, _)| k != "marker").cloned().collect();
        params.push(("marker".to_owned(), marker));
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        body.insert(
            format!("{name}_links"),
            json!([{"href": format!("{base}?{qs}"), "rel": "next"}]),
        );
    }
    Ok(Value::Object(body))
}

fn respond(name: &str, items: Vec<Value>, raw: Option<String>, base: String) -> Response {
    let q = query_pairs(raw.as_deref());
    match collection(name, items, &q, &base) {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

fn owned_or_admin(caller: &Caller, project_id: &str) -> bool {
    caller.is_admin || caller.project_id == project_id
}

async fn networks(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let m = sim.lock();
    let items = (0..m.networks.len())
        .filter(|n| m.network_visible(*n, &caller))
        .map(|n| network_json(&m, n))
        .collect();
    respond(
        "networks",
        items,
        q,
        format!("{}/v2.0/networks", m.cfg.network_url()),
    )
}

async fn network(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .networks
        .iter()
        .position(|n| n.id == id)
        .filter(|n| m.network_visible(*n, &caller))
    {
        Some(n) => json(StatusCode::OK, &json!({"network": network_json(&m, n)})),
        None => ApiError::neutron(
            404,
            "NetworkNotFound",
            format!("Network {id} could not be found."),
        )
        .into_response(),
    }
}

async fn subnets(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let m = sim.lock();
    let items = (0..m.subnets.len())
        .filter(|s| m.network_visible(m.subnets[*s].network, &caller))
        .map(|s| subnet_json(&m, s))
        .collect();
    respond(
        "subnets",
        items,
        q,
        format!("{}/v2.0/subnets", m.cfg.network_url()),
    )
}

async fn subnet(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .subnets
        .iter()
        .position(|s| s.id == id)
        .filter(|s| m.network_visible(m.subnets[*s].network, &caller))
    {
        Some(s) => json(StatusCode::OK, &json!({"subnet": subnet_json(&m, s)})),
        None => ApiError::neutron(
            404,
            "SubnetNotFound",
            format!("Subnet {id} could not be found."),
        )
        .into_response(),
    }
}

async fn ports(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query_pairs(raw.as_deref());
    let m = sim.lock();
    // device_id is the common bulk filter; use the index instead of a scan.
    let devices: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "device_id")
        .map(|(_, v)| v.as_str())
        .collect();
    let candidates: Vec<&Port> = if devices.is_empty() || devices.contains(&"") {
        m.ports.values().collect()
    } else {
        devices.iter().flat_map(|d| m.ports_of(d)).collect()
    };
    let items = candidates
        .into_iter()
        .filter(|p| owned_or_admin(&caller, &p.project_id))
        .map(|p| port_json(&m, p, caller.is_admin))
        .collect();
    respond(
        "ports",
        items,
        raw,
        format!("{}/v2.0/ports", m.cfg.network_url()),
    )
}

fn port_not_found(id: &str) -> Response {
    ApiError::neutron(
        404,
        "PortNotFound",
        format!("Port {id} could not be found."),
    )
    .into_response()
}

async fn port(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .ports
        .get(&id)
        .filter(|p| owned_or_admin(&caller, &p.project_id))
    {
        Some(p) => json(
            StatusCode::OK,
            &json!({"port": port_json(&m, p, caller.is_admin)}),
        ),
        None => port_not_found(&id),
    }
}

async fn create_port(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return ApiError::neutron(400, "BadRequest", e).into_response(),
    };
    let Some(p) = body.get("port") else {
        return ApiError::neutron(400, "BadRequest", "Resource body required").into_response();
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let net_id = str_field(p, "network_id").unwrap_or("");
    let Some(net) = m
        .networks
        .iter()
        .position(|n| n.id == net_id)
        .filter(|n| m.network_visible(*n, &caller))
    else {
        return ApiError::neutron(
            404,
            "NetworkNotFound",
            format!("Network {net_id} could not be found."),
        )
        .into_response();
    };
    let fixed_ip = p
        .get("fixed_ips")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|f| str_field(f, "ip_address"))
        .map(str::to_owned);
    if let Some(ip) = &fixed_ip
        && m.ports
            .values()
            .any(|x| x.network == net && x.fixed_ips.iter().any(|(a, _)| a == ip))
    {
        return ApiError::neutron(
            409,
            "IpAddressAlreadyAllocated",
            format!("IP address {ip} already allocated in subnet"),
        )
        .into_response();
    }
    let sg_names: Vec<String> = match p.get("security_groups").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        None => vec!["default".to_owned()],
    };
    let sgs = match m.resolve_security_groups(&caller.project_id, &sg_names) {
        Ok(s) => s,
        Err(e) => return ApiError::neutron(404, "SecurityGroupNotFound", e).into_response(),
    };
    let id = match m.create_port(net, &caller.project_id, fixed_ip, sgs, now, None, false) {
        Ok(id) => id,
        Err(e) => return ApiError::neutron(409, "IpAddressGenerationFailure", e).into_response(),
    };
    if let Some(port) = m.ports.get_mut(&id) {
        port.name = str_field(p, "name").unwrap_or("").to_owned();
        port.description = str_field(p, "description").unwrap_or("").to_owned();
        if let Some(mac) = str_field(p, "mac_address") {
            port.mac = mac.to_owned();
        }
    }
    let name = m.ports.get(&id).map(|x| x.name.clone()).unwrap_or_default();
    sim.env
        .stats()
        .resource_created("port", &id, &name, iso_seconds(now));
    match m.ports.get(&id) {
        Some(port) => json(
            StatusCode::CREATED,
            &json!({"port": port_json(&m, port, caller.is_admin)}),
        ),
        None => port_not_found(&id),
    }
}

async fn update_port(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return ApiError::neutron(400, "BadRequest", e).into_response(),
    };
    let upd = body.get("port").cloned().unwrap_or(Value::Null);
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(project) = m
        .ports
        .get(&id)
        .filter(|p| owned_or_admin(&caller, &p.project_id))
        .map(|p| p.project_id.clone())
    else {
        return port_not_found(&id);
    };
    let sgs = match upd.get("security_groups").and_then(Value::as_array) {
        Some(list) => {
            let names: Vec<String> = list
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect();
            match m.resolve_security_groups(&project, &names) {
                Ok(s) => Some(s),
                Err(e) => {
                    return ApiError::neutron(404, "SecurityGroupNotFound", e).into_response();
                }
            }
        }
        None => None,
    };
    if let Some(p) = m.ports.get_mut(&id) {
        if let Some(n) = str_field(&upd, "name") {
            p.name = n.to_owned();
        }
        if let Some(d) = str_field(&upd, "description") {
            p.description = d.to_owned();
        }
        if let Some(s) = sgs {
            p.security_groups = s;
        }
        p.updated_at = now;
        p.revision += 1;
    }
    match m.ports.get(&id) {
        Some(p) => json(
            StatusCode::OK,
            &json!({"port": port_json(&m, p, caller.is_admin)}),
        ),
        None => port_not_found(&id),
    }
}

async fn delete_port(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    if !m
        .ports
        .get(&id)
        .is_some_and(|p| owned_or_admin(&caller, &p.project_id))
    {
        return port_not_found(&id);
    }
    if let Some(p) = m.delete_port(&id, now) {
        sim.env
            .stats()
            .resource_deleted("port", &p.id, &p.name, iso_seconds(now));
    }
    empty(StatusCode::NO_CONTENT)
}

async fn security_groups(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let m = sim.lock();
    let items = (0..m.security_groups.len())
        .filter(|g| owned_or_admin(&caller, &m.security_groups[*g].project_id))
        .map(|g| security_group_json(&m, g))
        .collect();
    respond(
        "security_groups",
        items,
        q,
        format!("{}/v2.0/security-groups", m.cfg.network_url()),
    )
}

async fn security_group(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .security_groups
        .iter()
        .position(|g| g.id == id)
        .filter(|g| owned_or_admin(&caller, &m.security_groups[*g].project_id))
    {
        Some(g) => json(
            StatusCode::OK,
            &json!({"security_group": security_group_json(&m, g)}),
        ),
        None => ApiError::neutron(
            404,
            "SecurityGroupNotFound",
            format!("Security group {id} does not exist"),
        )
        .into_response(),
    }
}

async fn floating_ips(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let m = sim.lock();
    let items = (0..m.floating_ips.len())
        .filter(|f| owned_or_admin(&caller, &m.floating_ips[*f].project_id))
        .map(|f| floating_ip_json(&m, f))
        .collect();
    respond(
        "floatingips",
        items,
        q,
        format!("{}/v2.0/floatingips", m.cfg.network_url()),
    )
}

fn fip_not_found(id: &str) -> Response {
    ApiError::neutron(
        404,
        "FloatingIPNotFound",
        format!("Floating IP {id} could not be found"),
    )
    .into_response()
}

async fn floating_ip(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .floating_ips
        .iter()
        .position(|f| f.id == id)
        .filter(|f| owned_or_admin(&caller, &m.floating_ips[*f].project_id))
    {
        Some(f) => json(
            StatusCode::OK,
            &json!({"floatingip": floating_ip_json(&m, f)}),
        ),
        None => fip_not_found(&id),
    }
}

async fn update_floating_ip(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return ApiError::neutron(400, "BadRequest", e).into_response(),
    };
    let Some(upd) = body.get("floatingip") else {
        return ApiError::neutron(400, "BadRequest", "Resource body required").into_response();
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(f) = m
        .floating_ips
        .iter()
        .position(|f| f.id == id)
        .filter(|f| owned_or_admin(&caller, &m.floating_ips[*f].project_id))
    else {
        return fip_not_found(&id);
    };
    if let Some(port) = upd.get("port_id") {
        match port {
            Value::Null => {
                let fip = &mut m.floating_ips[f];
                fip.port_id = None;
                fip.fixed_ip = None;
            }
            Value::String(pid) => {
                let Some(p) = m.ports.get(pid) else {
                    return port_not_found(pid);
                };
                let fixed = p.fixed_ips.first().map(|(a, _)| a.clone());
                if let Some(other) = m
                    .floating_ips
                    .iter()
                    .position(|x| x.port_id.as_deref() == Some(pid.as_str()))
                    && other != f
                {
                    return ApiError::neutron(
                        409,
                        "FloatingIPPortAlreadyAssociated",
                        format!("Cannot associate floating IP {} with port {pid} because it already has a floating IP.", m.floating_ips[f].address),
                    )
                    .into_response();
                }
                let fip = &mut m.floating_ips[f];
                fip.port_id = Some(pid.clone());
                fip.fixed_ip = str_field(upd, "fixed_ip_address")
                    .map(str::to_owned)
                    .or(fixed);
            }
            _ => {
                return ApiError::neutron(400, "BadRequest", "port_id must be a string or null")
                    .into_response();
            }
        }
    }
    let fip = &mut m.floating_ips[f];
    fip.updated_at = now;
    fip.revision += 1;
    json(
        StatusCode::OK,
        &json!({"floatingip": floating_ip_json(&m, f)}),
    )
}
