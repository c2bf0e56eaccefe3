//! `POST /servers/{id}/action`.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Mv, bad_request, forbidden_policy, not_found_instance, str_map};
use crate::sim::api::{AppState, empty, json, parse_json, str_field};
use crate::sim::errors::ApiError;
use crate::sim::lifecycle::{Env, SimpleAction};
use crate::sim::model::{Caller, Model, Server};

pub(super) async fn action(
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
    let Some((name, arg)) = body.as_object().and_then(|o| o.iter().next()) else {
        return bad_request("Malformed request body").into_response();
    };
    let now = sim.env.clock.now();
    let resp = server_action(&sim, &caller, mv, &id, name, arg, now);
    // An action that set a task answers once its "save" is done (see races).
    if resp.status().is_success() {
        let hold = {
            let m = sim.lock();
            m.server(&id).and_then(|i| m.answer_hold(i, now, &sim.env))
        };
        if let Some(d) = hold {
            tokio::time::sleep(d).await;
        }
    }
    resp
}

/// Actions the model runs from its table of [`SimpleAction`]s: Nova's
/// name, the policy only admins pass (if any), and the action.
const SIMPLE: &[(&str, Option<&str>, &SimpleAction)] = &[
    ("os-stop", None, &SimpleAction::STOP),
    ("os-start", None, &SimpleAction::START),
    (
        "shelveOffload",
        Some("os_compute_api:os-shelve:shelve_offload"),
        &SimpleAction::SHELVE_OFFLOAD,
    ),
];

/// One server action, under the model's lock.
fn server_action(
    sim: &AppState,
    caller: &Caller,
    mv: Mv,
    id: &str,
    name: &str,
    arg: &Value,
    now: time::OffsetDateTime,
) -> Response {
    let mut m = sim.lock();
    let Some(i) = m.visible_server(id, caller) else {
        return not_found_instance(id).into_response();
    };
    let env = &sim.env;
    if let Some((_, admin_only, action)) = SIMPLE.iter().find(|(n, ..)| *n == name) {
        if let Some(rule) = admin_only
            && !caller.is_admin
        {
            return forbidden_policy(rule).into_response();
        }
        return accepted(m.simple_action(i, action, caller, now, env));
    }
    let result = match name {
        "createImage" => return create_image(&mut m, i, arg, caller, mv, now, env),
        "shelve" => m.shelve_server(i, caller, now, env),
        "unshelve" => super::moves::unshelve_request(arg, mv)
            .and_then(|req| m.unshelve_server(i, req, caller, now, env)),
        "migrate" => {
            return super::moves::migrate(&mut m, i, arg, caller, mv, now, env)
                .unwrap_or_else(IntoResponse::into_response);
        }
        "os-migrateLive" => {
            return super::moves::live_migrate(&mut m, i, arg, caller, mv, now, env)
                .unwrap_or_else(IntoResponse::into_response);
        }
        "confirmResize" => {
            // Nova answers 204 here (202 would have been right, it says).
            return match m.confirm_resize(i, caller, now, env) {
                Ok(()) => empty(StatusCode::NO_CONTENT),
                Err(e) => e.into_response(),
            };
        }
        "revertResize" => m.revert_resize(i, caller, now, env),
        "lock" => {
            // The reason is a 2.73 field; older requests lock without one.
            let reason = str_field(arg, "locked_reason").filter(|_| mv.at_least(73));
            set_lock(&mut m.servers[i], true, reason, now);
            Ok(())
        }
        "unlock" => {
            set_lock(&mut m.servers[i], false, None, now);
            Ok(())
        }
        other => return bad_request(format!("There is no such action: {other}")).into_response(),
    };
    accepted(result)
}

/// 202 when the model took the action.
fn accepted(result: Result<(), ApiError>) -> Response {
    match result {
        Ok(()) => empty(StatusCode::ACCEPTED),
        Err(e) => e.into_response(),
    }
}

fn set_lock(s: &mut Server, locked: bool, reason: Option<&str>, now: time::OffsetDateTime) {
    s.locked = locked;
    s.locked_reason = reason.map(str::to_owned);
    s.updated = now;
}

/// `createImage`: the image id in the body from 2.45, in `Location` before.
fn create_image(
    m: &mut Model,
    i: usize,
    arg: &Value,
    caller: &Caller,
    mv: Mv,
    now: time::OffsetDateTime,
    env: &Env,
) -> Response {
    let Some(img_name) = str_field(arg, "name") else {
        return bad_request(format!(
            "Invalid input for field/attribute createImage. Value: {arg}. 'name' is a required property"
        ))
        .into_response();
    };
    let meta = match str_map(arg.get("metadata"), "metadata") {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let image_id = match m.snapshot_server(i, img_name.to_owned(), meta, caller, now, env) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    if mv.at_least(45) {
        return json(StatusCode::ACCEPTED, &json!({"image_id": image_id}));
    }
    let mut resp = empty(StatusCode::ACCEPTED);
    let loc = format!("{}/images/{image_id}", m.cfg.image_url());
    if let Ok(v) = HeaderValue::from_str(&loc) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
