//! Nova (compute API v2.1) with microversions: servers and their actions,
//! flavors, availability zones, server groups, limits, keypairs, the
//! per-server interface, volume attachment and metadata sub-resources, and
//! the move APIs with the admin views a mover uses (migrations,
//! hypervisors, services, aggregates). Field sets follow Nova's view
//! builders per microversion and policy.

mod actions;
mod attachments;
mod boot;
mod filters;
mod flavors;
mod hosts;
mod metadata;
mod microversion;
mod migrations;
mod moves;
mod project;
mod schema;
mod servers;
mod views;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{AppState, json, query_get};
use crate::sim::errors::ApiError;
use crate::sim::model::Model;

use microversion::Mv;

/// Every compute route; the versioned ones pass the microversion layer.
pub fn routes(sim: AppState) -> Router<AppState> {
    let p = "/compute/v2.1";
    let versioned = Router::new()
        .route(
            &format!("{p}/servers"),
            get(servers::list_servers).post(boot::create_server),
        )
        .route(
            &format!("{p}/servers/detail"),
            get(servers::list_servers_detail),
        )
        .route(
            &format!("{p}/servers/{{id}}"),
            get(servers::show_server)
                .put(servers::update_server)
                .delete(servers::delete_server),
        )
        .route(&format!("{p}/servers/{{id}}/action"), post(actions::action))
        .route(
            &format!("{p}/servers/{{id}}/os-interface"),
            get(attachments::interfaces),
        )
        .route(
            &format!("{p}/servers/{{id}}/os-interface/{{port}}"),
            get(attachments::interface),
        )
        .route(
            &format!("{p}/servers/{{id}}/os-volume_attachments"),
            get(attachments::volume_attachments),
        )
        .route(
            &format!("{p}/servers/{{id}}/os-volume_attachments/{{vol}}"),
            get(attachments::volume_attachment),
        )
        .route(
            &format!("{p}/servers/{{id}}/metadata"),
            get(metadata::metadata_get)
                .post(metadata::metadata_update)
                .put(metadata::metadata_replace),
        )
        .route(
            &format!("{p}/servers/{{id}}/metadata/{{key}}"),
            get(metadata::metadata_item)
                .put(metadata::metadata_item_set)
                .delete(metadata::metadata_item_delete),
        )
        .route(
            &format!("{p}/servers/{{id}}/migrations"),
            get(migrations::server_migrations),
        )
        .route(
            &format!("{p}/servers/{{id}}/migrations/{{mid}}"),
            get(migrations::server_migration).delete(migrations::abort_migration),
        )
        .route(
            &format!("{p}/servers/{{id}}/migrations/{{mid}}/action"),
            post(migrations::migration_action),
        )
        .route(&format!("{p}/os-migrations"), get(migrations::migrations))
        .route(&format!("{p}/flavors"), get(flavors::flavors))
        .route(&format!("{p}/flavors/detail"), get(flavors::flavors_detail))
        .route(&format!("{p}/flavors/{{id}}"), get(flavors::flavor))
        .route(
            &format!("{p}/flavors/{{id}}/os-extra_specs"),
            get(flavors::extra_specs),
        )
        .route(&format!("{p}/os-availability-zone"), get(project::azs))
        .route(
            &format!("{p}/os-availability-zone/detail"),
            get(project::azs_detail),
        )
        .route(
            &format!("{p}/os-server-groups"),
            get(project::server_groups),
        )
        .route(
            &format!("{p}/os-server-groups/{{id}}"),
            get(project::server_group),
        )
        .route(&format!("{p}/limits"), get(project::limits))
        .route(&format!("{p}/os-keypairs"), get(project::keypairs))
        .route(&format!("{p}/os-keypairs/{{name}}"), get(project::keypair))
        .route(&format!("{p}/os-hypervisors"), get(hosts::hypervisors))
        .route(
            &format!("{p}/os-hypervisors/detail"),
            get(hosts::hypervisors_detail),
        )
        .route(
            &format!("{p}/os-hypervisors/{{id}}"),
            get(hosts::hypervisor),
        )
        .route(
            &format!("{p}/os-hypervisors/{{id}}/uptime"),
            get(hosts::hypervisor_uptime),
        )
        .route(&format!("{p}/os-services"), get(hosts::services))
        .route(&format!("{p}/os-aggregates"), get(hosts::aggregates))
        .route_layer(middleware::from_fn_with_state(
            sim,
            microversion::middleware,
        ));
    Router::new()
        .route("/compute", get(versions))
        .route("/compute/", get(versions))
        .route("/compute/v2.1", get(version))
        .route("/compute/v2.1/", get(version))
        .merge(versioned)
}

// ---- version documents ------------------------------------------------------

fn v21_doc(m: &Model, with_media: bool) -> Value {
    let mut v = json!({
        "id": "v2.1",
        "links": [{"href": format!("{}/", m.cfg.compute_url()), "rel": "self"}],
        "status": "CURRENT",
        "version": format!("{}.{}", m.cfg.max_microversion.0, m.cfg.max_microversion.1),
        "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
    });
    if with_media {
        v["links"] = json!([
            {"href": format!("{}/", m.cfg.compute_url()), "rel": "self"},
            {"href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html"}
        ]);
        v["media-types"] = json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    }
    v
}

async fn versions(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    let v20 = json!({
        "id": "v2.0",
        "links": [{"href": format!("{}/compute/v2/", m.cfg.base_url), "rel": "self"}],
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
    });
    json(
        StatusCode::OK,
        &json!({"versions": [v20, v21_doc(&m, false)]}),
    )
}

async fn version(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    json(StatusCode::OK, &json!({"version": v21_doc(&m, true)}))
}

// ---- helpers ----------------------------------------------------------------

fn not_found_instance(id: &str) -> ApiError {
    ApiError::nova(404, format!("Instance {id} could not be found."))
}

fn forbidden_policy(rule: &str) -> ApiError {
    ApiError::nova(403, format!("Policy doesn't allow {rule} to be performed."))
}

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError::nova(400, msg)
}

/// Nova answers a route its microversion does not have with a plain 404.
fn no_such_route() -> Response {
    ApiError::nova(404, "The resource could not be found.").into_response()
}

fn links(m: &Model, collection: &str, id: &str) -> Value {
    json!([
        {"href": format!("{}/{collection}/{id}", m.cfg.compute_url()), "rel": "self"},
        {"href": format!("{}/compute/{collection}/{id}", m.cfg.base_url), "rel": "bookmark"}
    ])
}

/// The last path segment of an id or an href.
fn id_from_ref(r: &str) -> &str {
    r.trim_end_matches('/').rsplit('/').next().unwrap_or(r)
}

fn str_map(v: Option<&Value>, what: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(bad_request(format!(
                    "Invalid input for field/attribute {what}. Value: {other}. {other} is not of type 'string'"
                ))),
            })
            .collect(),
        Some(other) => Err(bad_request(format!(
            "Invalid input for field/attribute {what}. Value: {other}. {other} is not of type 'object'"
        ))),
    }
}

fn parse_limit(q: &[(String, String)], max: usize) -> Result<usize, ApiError> {
    match query_get(q, "limit") {
        None => Ok(max),
        Some(v) => {
            let n: i64 = v
                .parse()
                .map_err(|_| bad_request("limit param must be an integer"))?;
            if n < 0 {
                return Err(bad_request("limit param must be positive"));
            }
            Ok((n as usize).min(max))
        }
    }
}

fn next_link(base: &str, q: &[(String, String)], marker: &str) -> String {
    let mut params: BTreeMap<String, String> = q.iter().cloned().collect();
    params.insert("marker".to_owned(), marker.to_owned());
    let qs = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    format!("{base}?{qs}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_may_be_hrefs() {
        assert_eq!(id_from_ref("http://x/compute/flavors/1"), "1");
        assert_eq!(id_from_ref("abc"), "abc");
    }
}
