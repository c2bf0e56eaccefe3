//! What a caller sees of its project: availability zones, server groups,
//! limits and keypairs.

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Mv, forbidden_policy};
use crate::sim::api::{AppState, json, query_get, query_pairs, truthy};
use crate::sim::clock::iso_micros;
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model, ServerGroup};

/// AZs that have compute hosts, and whether any of them is enabled.
fn zones(m: &Model) -> Vec<(String, bool)> {
    m.azs
        .iter()
        .filter(|az| m.hosts.iter().any(|h| &h.az == *az))
        .map(|az| (az.clone(), m.hosts.iter().any(|h| &h.az == az && h.enabled)))
        .collect()
}

pub(super) async fn azs(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    let list: Vec<Value> = zones(&m)
        .into_iter()
        .map(|(name, up)| json!({"zoneName": name, "zoneState": {"available": up}, "hosts": null}))
        .collect();
    json(StatusCode::OK, &json!({"availabilityZoneInfo": list}))
}

pub(super) async fn azs_detail(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if !caller.is_admin {
        return forbidden_policy("os_compute_api:os-availability-zone:detail").into_response();
    }
    let m = sim.lock();
    let svc = |up: bool| json!({"active": up, "available": up, "updated_at": null});
    let mut list = vec![json!({
        "zoneName": "internal",
        "zoneState": {"available": true},
        "hosts": {
            "conductor": {"nova-conductor": svc(true)},
            "scheduler": {"nova-scheduler": svc(true)}
        }
    })];
    for (name, up) in zones(&m) {
        let mut hosts = serde_json::Map::new();
        for h in m.hosts.iter().filter(|h| h.az == name) {
            hosts.insert(h.name.clone(), json!({"nova-compute": svc(h.enabled)}));
        }
        list.push(json!({"zoneName": name, "zoneState": {"available": up}, "hosts": hosts}));
    }
    json(StatusCode::OK, &json!({"availabilityZoneInfo": list}))
}

fn group_json(g: &ServerGroup, mv: Mv) -> Value {
    let mut v = json!({"id": g.id, "name": g.name, "members": g.members});
    if mv.at_least(64) {
        v["policy"] = json!(g.policy);
        v["rules"] = json!({});
    } else {
        v["policies"] = json!([g.policy]);
        v["metadata"] = json!({});
    }
    if mv.at_least(13) {
        v["project_id"] = json!(g.project_id);
        v["user_id"] = json!(g.user_id);
    }
    v
}

pub(super) async fn server_groups(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = query_pairs(q.as_deref());
    let all = caller.is_admin && query_get(&q, "all_projects").is_some_and(truthy);
    let m = sim.lock();
    let list: Vec<Value> = m
        .server_groups
        .iter()
        .filter(|g| all || g.project_id == caller.project_id)
        .map(|g| group_json(g, mv))
        .collect();
    json(StatusCode::OK, &json!({"server_groups": list}))
}

pub(super) async fn server_group(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .server_groups
        .iter()
        .find(|g| g.id == id && (caller.is_admin || g.project_id == caller.project_id))
    {
        Some(g) => json(StatusCode::OK, &json!({"server_group": group_json(g, mv)})),
        None => {
            ApiError::nova(404, format!("Instance group {id} could not be found.")).into_response()
        }
    }
}

pub(super) async fn limits(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
) -> Response {
    let m = sim.lock();
    let (n, cores, ram) = m.usage(&caller.project_id);
    let quota = m
        .project_by_id(&caller.project_id)
        .map(|p| m.projects[p].quota.clone());
    let (qi, qc, qr) = quota
        .map(|q| (q.instances, q.cores, q.ram_mb))
        .unwrap_or((-1, -1, -1));
    let groups = m
        .server_groups
        .iter()
        .filter(|g| g.project_id == caller.project_id)
        .count();
    let mut abs = json!({
        "maxServerMeta": 128,
        "maxTotalCores": qc,
        "maxTotalInstances": qi,
        "maxTotalKeypairs": 100,
        "maxTotalRAMSize": qr,
        "maxServerGroups": 10,
        "maxServerGroupMembers": 10,
        "totalCoresUsed": cores,
        "totalInstancesUsed": n,
        "totalRAMUsed": ram,
        "totalServerGroupsUsed": groups,
    });
    if !mv.at_least(36) {
        abs["maxSecurityGroups"] = json!(10);
        abs["maxSecurityGroupRules"] = json!(20);
        abs["maxTotalFloatingIps"] = json!(10);
        abs["totalFloatingIpsUsed"] = json!(0);
        abs["totalSecurityGroupsUsed"] = json!(0);
    }
    if !mv.at_least(39) {
        abs["maxImageMeta"] = json!(128);
    }
    if !mv.at_least(57) {
        abs["maxPersonality"] = json!(5);
        abs["maxPersonalitySize"] = json!(10240);
    }
    json(
        StatusCode::OK,
        &json!({"limits": {"absolute": abs, "rate": []}}),
    )
}

pub(super) async fn keypairs(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
) -> Response {
    let m = sim.lock();
    let list: Vec<Value> = m
        .keypairs
        .iter()
        .filter(|k| k.user_id == caller.user_id)
        .map(|k| {
            let mut v =
                json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
            if mv.at_least(2) {
                v["type"] = json!("ssh");
            }
            json!({"keypair": v})
        })
        .collect();
    json(StatusCode::OK, &json!({"keypairs": list}))
}

pub(super) async fn keypair(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(name): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .keypairs
        .iter()
        .find(|k| k.name == name && k.user_id == caller.user_id)
    {
        Some(k) => {
            let mut v = json!({
                "name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint,
                "user_id": k.user_id, "deleted": false, "created_at": iso_micros(k.created_at),
                "updated_at": null, "deleted_at": null, "id": 1,
            });
            if mv.at_least(2) {
                v["type"] = json!("ssh");
            }
            json(StatusCode::OK, &json!({"keypair": v}))
        }
        None => ApiError::nova(
            404,
            format!("Keypair {name} not found for user {}", caller.user_id),
        )
        .into_response(),
    }
}
