//! `/servers/{id}/metadata[/{key}]`.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{bad_request, not_found_instance, str_map};
use crate::sim::api::{AppState, empty, json, parse_json};
use crate::sim::errors::ApiError;
use crate::sim::model::Caller;

pub(super) async fn metadata_get(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m.visible_server(&id, &caller) {
        Some(i) => json(StatusCode::OK, &json!({"metadata": m.servers[i].metadata})),
        None => not_found_instance(&id).into_response(),
    }
}

fn change_metadata(
    sim: &AppState,
    caller: &Caller,
    id: &str,
    body: &Bytes,
    replace: bool,
) -> Response {
    let body = match parse_json(body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    let new = match str_map(body.get("metadata"), "metadata") {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(id, caller) else {
        return not_found_instance(id).into_response();
    };
    if let Err(e) = m.check_metadata_write(i, "update metadata", caller) {
        return e.into_response();
    }
    let s = &mut m.servers[i];
    if replace {
        s.metadata = new;
    } else {
        s.metadata.extend(new);
    }
    s.updated = now;
    json(StatusCode::OK, &json!({"metadata": s.metadata}))
}

pub(super) async fn metadata_update(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change_metadata(&sim, &caller, &id, &body, false)
}

pub(super) async fn metadata_replace(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change_metadata(&sim, &caller, &id, &body, true)
}

pub(super) async fn metadata_item(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    match m.servers[i].metadata.get(&key) {
        Some(v) => json(StatusCode::OK, &json!({"meta": {key: v}})),
        None => ApiError::nova(404, "Metadata item was not found").into_response(),
    }
}

pub(super) async fn metadata_item_set(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    let meta = match str_map(body.get("meta"), "meta") {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let Some(value) = meta.get(&key).cloned().filter(|_| meta.len() == 1) else {
        return bad_request("Request body and URI mismatch").into_response();
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    if let Err(e) = m.check_metadata_write(i, "update metadata", &caller) {
        return e.into_response();
    }
    let s = &mut m.servers[i];
    s.metadata.insert(key.clone(), value.clone());
    s.updated = now;
    json(StatusCode::OK, &json!({"meta": {key: value}}))
}

pub(super) async fn metadata_item_delete(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    // Nova looks for the key before it checks the server's state.
    if !m.servers[i].metadata.contains_key(&key) {
        return ApiError::nova(404, "Metadata item was not found").into_response();
    }
    if let Err(e) = m.check_metadata_write(i, "delete metadata", &caller) {
        return e.into_response();
    }
    let s = &mut m.servers[i];
    s.metadata.remove(&key);
    s.updated = now;
    empty(StatusCode::NO_CONTENT)
}
