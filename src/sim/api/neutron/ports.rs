//! Ports, including those Nova made for its servers.

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::listing::{owned_or_admin, respond};
use super::views::port_json;
use crate::sim::api::{AppState, empty, json, parse_json, query_pairs, str_field};
use crate::sim::clock::iso_seconds;
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Port};

pub(super) async fn ports(
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

pub(super) fn port_not_found(id: &str) -> Response {
    ApiError::neutron(
        404,
        "PortNotFound",
        format!("Port {id} could not be found."),
    )
    .into_response()
}

pub(super) async fn port(
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

pub(super) async fn create_port(
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

pub(super) async fn update_port(
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

pub(super) async fn delete_port(
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
