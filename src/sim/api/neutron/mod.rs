//! Neutron v2.0: networks, subnets, ports (with Nova's ports on its
//! servers), security groups, floating IPs, availability zones and the
//! extension list clients probe. Lists accept Neutron's attribute filters
//! (repeat a key for "any of"), `fields`, and `limit`/`marker` paging.

mod listing;
mod networks;
mod ports;
mod views;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{AppState, json};
use crate::sim::errors::ApiError;
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
        .route(&format!("{p}/networks"), get(networks::networks))
        .route(&format!("{p}/networks/{{id}}"), get(networks::network))
        .route(&format!("{p}/subnets"), get(networks::subnets))
        .route(&format!("{p}/subnets/{{id}}"), get(networks::subnet))
        .route(
            &format!("{p}/ports"),
            get(ports::ports).post(ports::create_port),
        )
        .route(
            &format!("{p}/ports/{{id}}"),
            get(ports::port)
                .put(ports::update_port)
                .delete(ports::delete_port),
        )
        .route(
            &format!("{p}/security-groups"),
            get(networks::security_groups),
        )
        .route(
            &format!("{p}/security-groups/{{id}}"),
            get(networks::security_group),
        )
        .route(&format!("{p}/floatingips"), get(networks::floating_ips))
        .route(
            &format!("{p}/floatingips/{{id}}"),
            get(networks::floating_ip).put(networks::update_floating_ip),
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
