//! `GET/PUT/DELETE /servers[/{id}]` and the server listings.

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::filters::{parse_filters, server_matches};
use super::views::{BriefView, ServerView};
use super::{Mv, bad_request, next_link, not_found_instance, parse_limit};
use crate::sim::api::{AppState, empty, json_bytes, parse_json, query_get, query_pairs};
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model};

fn list(sim: &AppState, caller: &Caller, mv: Mv, raw: Option<String>, detail: bool) -> Response {
    let q = query_pairs(raw.as_deref());
    let filters = match parse_filters(&q, caller, mv, detail) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let now = sim.env.clock.now();
    let m = sim.lock();
    let limit = match parse_limit(&q, m.cfg.max_limit) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let mut end = m.servers.len();
    if let Some(marker) = query_get(&q, "marker") {
        match m.server_index.get(marker) {
            Some(i) => end = *i,
            None => return bad_request(format!("marker [{marker}] not found")).into_response(),
        }
    }
    let mut picked = Vec::with_capacity(limit.min(1024));
    for i in (0..end).rev() {
        if picked.len() >= limit {
            break;
        }
        let s = &m.servers[i];
        if server_matches(&m, s, &filters, caller, now) {
            picked.push(i);
        }
    }
    let mut out: Vec<u8> = Vec::with_capacity(picked.len() * if detail { 2048 } else { 256 });
    out.extend_from_slice(b"{\"servers\":[");
    for (n, i) in picked.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        let s = &m.servers[*i];
        let res = if detail {
            serde_json::to_writer(
                &mut out,
                &ServerView {
                    m: &m,
                    s,
                    mv,
                    admin: caller.is_admin,
                    show: false,
                },
            )
        } else {
            serde_json::to_writer(&mut out, &BriefView { m: &m, s })
        };
        if res.is_err() {
            return ApiError::nova(500, "Unexpected API Error.").into_response();
        }
    }
    out.push(b']');
    if limit > 0
        && picked.len() == limit
        && let Some(last) = picked.last()
    {
        let base = format!(
            "{}/servers{}",
            m.cfg.compute_url(),
            if detail { "/detail" } else { "" }
        );
        let link = json!([{"href": next_link(&base, &q, &m.servers[*last].id), "rel": "next"}]);
        out.extend_from_slice(b",\"servers_links\":");
        out.extend_from_slice(link.to_string().as_bytes());
    }
    out.push(b'}');
    json_bytes(StatusCode::OK, out)
}

pub(super) async fn list_servers(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list(&sim, &caller, mv, q, false)
}

pub(super) async fn list_servers_detail(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list(&sim, &caller, mv, q, true)
}

fn show_json(m: &Model, i: usize, caller: &Caller, mv: Mv) -> Response {
    let view = ServerView {
        m,
        s: &m.servers[i],
        mv,
        admin: caller.is_admin,
        show: true,
    };
    let mut out = b"{\"server\":".to_vec();
    if serde_json::to_writer(&mut out, &view).is_err() {
        return ApiError::nova(500, "Unexpected API Error.").into_response();
    }
    out.push(b'}');
    json_bytes(StatusCode::OK, out)
}

pub(super) async fn show_server(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m.visible_server(&id, &caller) {
        Some(i) => show_json(&m, i, &caller, mv),
        None => not_found_instance(&id).into_response(),
    }
}

pub(super) async fn update_server(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    let Some(upd) = body.get("server").and_then(Value::as_object) else {
        return bad_request(
            "Invalid input for field/attribute server. 'server' is a required property",
        )
        .into_response();
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    // Nova refuses the whole update when the pin cannot change.
    let pin = match super::moves::pinned_az_update(&m, i, upd, mv) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut changed = false;
    if let Some(name) = upd.get("name").and_then(Value::as_str) {
        m.servers[i].name = name.to_owned();
        changed = true;
    }
    if mv.at_least(19)
        && let Some(d) = upd.get("description")
    {
        m.servers[i].description = d.as_str().map(str::to_owned);
        changed = true;
    }
    // The pin lives in Nova's request spec, not in the instance: changing
    // only the pin leaves `updated` alone.
    if let Some(pin) = pin {
        m.servers[i].requested_az = pin;
    }
    if changed {
        m.servers[i].updated = now;
    }
    show_json(&m, i, &caller, mv)
}

pub(super) async fn delete_server(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let now = sim.env.clock.now();
    let hold = {
        let mut m = sim.lock();
        let Some(i) = m.visible_server(&id, &caller) else {
            return not_found_instance(&id).into_response();
        };
        if let Err(e) = m.delete_server(i, &caller, now, &sim.env) {
            return e.into_response();
        }
        m.answer_hold(i, now, &sim.env)
    };
    if let Some(d) = hold {
        tokio::time::sleep(d).await;
    }
    empty(StatusCode::NO_CONTENT)
}
