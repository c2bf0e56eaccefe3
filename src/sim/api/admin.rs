//! `/_sim/…`: the simulator's own endpoints, outside OpenStack's APIs.
//! `GET /_sim/stats` reads counters; the `POST` hooks let tests move the
//! clock or change the cloud behind a client's back (a concurrent change).

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{AppState, json, parse_json, str_field};
use crate::sim::model::VmState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_sim/stats", get(stats))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/servers/{server}", post(change_server))
        .route("/_sim/hosts/{host}", post(change_host))
}

fn bad(msg: impl Into<String>) -> Response {
    json(StatusCode::BAD_REQUEST, &json!({"error": msg.into()}))
}

async fn stats(State(sim): State<AppState>) -> Response {
    let stats = sim.stats();
    match serde_json::to_value(&stats) {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": e.to_string()}),
        ),
    }
}

/// `{"seconds": 30}`: as if 30 s of wall time had passed.
async fn advance(State(sim): State<AppState>, body: Bytes) -> Response {
    let v = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let Some(secs) = v
        .get("seconds")
        .and_then(Value::as_f64)
        .filter(|s| *s >= 0.0 && s.is_finite())
    else {
        return bad("expected {\"seconds\": <non-negative number>}");
    };
    sim.env.clock.advance(Duration::from_secs_f64(secs));
    let now = sim.env.clock.now();
    drop(sim.lock());
    json(
        StatusCode::OK,
        &json!({"now": crate::sim::clock::iso_micros_z(now)}),
    )
}

/// Change a server as another user of the cloud would: `status`
/// (ACTIVE, SHUTOFF, ERROR, …), `name`, `metadata` (merged), `locked`.
async fn change_server(
    State(sim): State<AppState>,
    Path(server): Path<String>,
    body: Bytes,
) -> Response {
    let v = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let idx = m.server(&server).or_else(|| {
        m.servers
            .iter()
            .position(|s| s.name == server && !s.is_deleted())
    });
    let Some(i) = idx else {
        return json(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no server {server}")}),
        );
    };
    if let Some(st) = str_field(&v, "status") {
        let Some(state) = VmState::from_status(st).filter(|s| *s != VmState::Deleted) else {
            return bad(format!("unknown status {st}"));
        };
        // A move under way is over, and lets go of the hosts it held.
        m.abandon_move(i, now, &sim.env);
        let s = &mut m.servers[i];
        s.vm_state = state;
        s.power_state = state.power_state();
        s.task_state = None;
        s.generation += 1;
        // Whatever the server was doing is over; a snapshot in flight fails.
        let id = s.id.clone();
        if let Some(img) = s.pending_image.take() {
            let im = &mut m.images[img];
            if !im.deleted {
                im.status = "killed".to_owned();
                im.updated_at = now;
            }
        }
        sim.env.stats().op_finished(&id);
    }
    if let Some(name) = str_field(&v, "name") {
        m.servers[i].name = name.to_owned();
    }
    if let Some(meta) = v.get("metadata").and_then(Value::as_object) {
        for (k, val) in meta {
            match val {
                Value::String(s) => {
                    m.servers[i].metadata.insert(k.clone(), s.clone());
                }
                Value::Null => {
                    m.servers[i].metadata.remove(k);
                }
                _ => return bad("metadata values must be strings or null"),
            }
        }
    }
    if let Some(l) = v.get("locked").and_then(Value::as_bool) {
        m.servers[i].locked = l;
    }
    m.servers[i].updated = now;
    let s = &m.servers[i];
    json(
        StatusCode::OK,
        &json!({"id": s.id, "name": s.name, "status": s.status()}),
    )
}

/// `{"enabled": false}` disables a compute host (nothing new lands on it).
async fn change_host(
    State(sim): State<AppState>,
    Path(host): Path<String>,
    body: Bytes,
) -> Response {
    let v = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    let Some(enabled) = v.get("enabled").and_then(Value::as_bool) else {
        return bad("expected {\"enabled\": true|false}");
    };
    let mut m = sim.lock();
    match m.hosts.iter_mut().find(|h| h.name == host) {
        Some(h) => {
            h.enabled = enabled;
            json(
                StatusCode::OK,
                &json!({"host": h.name, "enabled": h.enabled}),
            )
        }
        None => json(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no host {host}")}),
        )
        .into_response(),
    }
}
