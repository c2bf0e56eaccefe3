//! A server's interfaces and volume attachments.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Mv, not_found_instance};
use crate::sim::api::{AppState, json};
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model, Port, Server, ServerVolume};

fn interface_json(m: &Model, p: &Port, mv: Mv) -> Value {
    let mut v = json!({
        "port_state": p.status,
        "fixed_ips": p.fixed_ips.iter().map(|(ip, sub)| json!({"subnet_id": m.subnets[*sub].id, "ip_address": ip})).collect::<Vec<_>>(),
        "port_id": p.id,
        "net_id": m.networks[p.network].id,
        "mac_addr": p.mac,
    });
    if mv.at_least(70) {
        v["tag"] = Value::Null;
    }
    v
}

pub(super) async fn interfaces(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    let list: Vec<Value> = m
        .ports_of(&m.servers[i].id)
        .iter()
        .map(|p| interface_json(&m, p, mv))
        .collect();
    json(StatusCode::OK, &json!({"interfaceAttachments": list}))
}

pub(super) async fn interface(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path((id, port)): Path<(String, String)>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    match m.ports_of(&m.servers[i].id).iter().find(|p| p.id == port) {
        Some(p) => json(
            StatusCode::OK,
            &json!({"interfaceAttachment": interface_json(&m, p, mv)}),
        ),
        None => ApiError::nova(404, format!("Port {port} is not attached")).into_response(),
    }
}

fn attachment_json(s: &Server, v: &ServerVolume, mv: Mv) -> Value {
    let mut out = json!({
        "device": v.device,
        "serverId": s.id,
        "volumeId": v.volume_id,
    });
    if mv.at_least(89) {
        out["attachment_id"] = json!(v.attachment_id);
        out["bdm_uuid"] = json!(v.bdm_uuid);
    } else {
        out["id"] = json!(v.volume_id);
    }
    if mv.at_least(70) {
        out["tag"] = Value::Null;
    }
    if mv.at_least(79) {
        out["delete_on_termination"] = json!(v.delete_on_termination);
    }
    out
}

pub(super) async fn volume_attachments(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    let s = &m.servers[i];
    let list: Vec<Value> = s
        .volumes
        .iter()
        .map(|v| attachment_json(s, v, mv))
        .collect();
    json(StatusCode::OK, &json!({"volumeAttachments": list}))
}

pub(super) async fn volume_attachment(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path((id, vol)): Path<(String, String)>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    let s = &m.servers[i];
    match s.volumes.iter().find(|v| v.volume_id == vol) {
        Some(v) => json(
            StatusCode::OK,
            &json!({"volumeAttachment": attachment_json(s, v, mv)}),
        ),
        None => ApiError::nova(
            404,
            format!("Volume {vol} is not attached to the instance {id}."),
        )
        .into_response(),
    }
}
