//! Networks, subnets, security groups and floating IPs.

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::listing::{list_of, one_of, owned_or_admin};
use super::ports::port_not_found;
use super::views::{floating_ip_json, network_json, security_group_json, subnet_json};
use crate::sim::api::{AppState, json, parse_json, str_field};
use crate::sim::errors::ApiError;
use crate::sim::model::Caller;

pub(super) async fn networks(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let m = sim.lock();
    list_of(
        &m,
        q,
        ("networks", "networks"),
        m.networks.len(),
        |n| m.network_visible(n, &caller),
        |n| network_json(&m, n),
    )
}

pub(super) async fn network(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    let found = m
        .networks
        .iter()
        .position(|n| n.id == id)
        .filter(|n| m.network_visible(*n, &caller))
        .map(|n| network_json(&m, n));
    one_of("network", found, || {
        ApiError::neutron(
            404,
            "NetworkNotFound",
            format!("Network {id} could not be found."),
        )
    })
}

pub(super) async fn subnets(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let m = sim.lock();
    list_of(
        &m,
        q,
        ("subnets", "subnets"),
        m.subnets.len(),
        |s| m.network_visible(m.subnets[s].network, &caller),
        |s| subnet_json(&m, s),
    )
}

pub(super) async fn subnet(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    let found = m
        .subnets
        .iter()
        .position(|s| s.id == id)
        .filter(|s| m.network_visible(m.subnets[*s].network, &caller))
        .map(|s| subnet_json(&m, s));
    one_of("subnet", found, || {
        ApiError::neutron(
            404,
            "SubnetNotFound",
            format!("Subnet {id} could not be found."),
        )
    })
}

pub(super) async fn security_groups(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let m = sim.lock();
    list_of(
        &m,
        q,
        ("security_groups", "security-groups"),
        m.security_groups.len(),
        |g| owned_or_admin(&caller, &m.security_groups[g].project_id),
        |g| security_group_json(&m, g),
    )
}

pub(super) async fn security_group(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    let found = m
        .security_groups
        .iter()
        .position(|g| g.id == id)
        .filter(|g| owned_or_admin(&caller, &m.security_groups[*g].project_id))
        .map(|g| security_group_json(&m, g));
    one_of("security_group", found, || {
        ApiError::neutron(
            404,
            "SecurityGroupNotFound",
            format!("Security group {id} does not exist"),
        )
    })
}

pub(super) async fn floating_ips(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    let m = sim.lock();
    list_of(
        &m,
        q,
        ("floatingips", "floatingips"),
        m.floating_ips.len(),
        |f| owned_or_admin(&caller, &m.floating_ips[f].project_id),
        |f| floating_ip_json(&m, f),
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

pub(super) async fn floating_ip(
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

pub(super) async fn update_floating_ip(
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
