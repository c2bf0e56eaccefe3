//! Nova's move APIs: the `migrate`, `os-migrateLive`, `confirmResize`,
//! `revertResize` and `unshelve` action bodies, the pinned-AZ update,
//! `/servers/{id}/migrations`, `/os-migrations`, and the admin views a
//! mover picks a destination with: `/os-hypervisors` and `/os-services`.
//! Bodies are checked the way Nova's JSON schemas check them, per
//! microversion, with Nova's messages; policies are Nova 34's defaults.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::nova::{
    Mv, bad_request, forbidden_policy, links, next_link, not_found_instance, parse_limit,
};
use super::{AppState, empty, json, parse_json, query_get, query_pairs, truthy};
use crate::sim::clock::{iso_micros, parse_timestamp};
use crate::sim::errors::ApiError;
use crate::sim::lifecycle::{Env, UnshelveRequest};
use crate::sim::model::{Caller, Host, Migration, MigrationKind, Model};

pub fn routes(p: &str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("{p}/servers/{{id}}/migrations"),
            get(server_migrations),
        )
        .route(
            &format!("{p}/servers/{{id}}/migrations/{{mid}}"),
            get(server_migration).delete(abort_migration),
        )
        .route(
            &format!("{p}/servers/{{id}}/migrations/{{mid}}/action"),
            post(migration_action),
        )
        .route(&format!("{p}/os-migrations"), get(migrations))
        .route(&format!("{p}/os-hypervisors"), get(hypervisors))
        .route(
            &format!("{p}/os-hypervisors/detail"),
            get(hypervisors_detail),
        )
        .route(&format!("{p}/os-hypervisors/{{id}}"), get(hypervisor))
        .route(
            &format!("{p}/os-hypervisors/{{id}}/uptime"),
            get(hypervisor_uptime),
        )
        .route(&format!("{p}/os-services"), get(services))
        .route(&format!("{p}/os-aggregates"), get(aggregates))
}

// ---- JSON-schema style checks ---------------------------------------------

/// Python's `repr` of a JSON value, as Nova's validation messages show it.
fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `str`: strings bare, everything else as `repr`.
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Nova's 400 for a body that fails its schema.
pub(super) fn invalid_input(path: &str, value: &Value, message: &str) -> ApiError {
    bad_request(format!(
        "Invalid input for field/attribute {path}. Value: {}. {message}",
        py_str(value)
    ))
}

fn not_of_type(path: &str, value: &Value, types: &str) -> ApiError {
    invalid_input(
        path,
        value,
        &format!("{} is not of type {types}", py_repr(value)),
    )
}

/// An object with only `allowed` keys and all `required` ones, checked in
/// jsonschema's order (required, then additional properties).
fn object<'a>(
    path: &str,
    v: &'a Value,
    allowed: &[&str],
    required: &[&str],
) -> Result<&'a Map<String, Value>, ApiError> {
    let Some(o) = v.as_object() else {
        return Err(not_of_type(path, v, "'object'"));
    };
    if let Some(missing) = required.iter().find(|k| !o.contains_key(**k)) {
        return Err(invalid_input(
            path,
            v,
            &format!("'{missing}' is a required property"),
        ));
    }
    let extra: Vec<String> = o
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("'{k}'"))
        .collect();
    if !extra.is_empty() {
        let verb = if extra.len() == 1 { "was" } else { "were" };
        return Err(invalid_input(
            path,
            v,
            &format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                extra.join(", ")
            ),
        ));
    }
    Ok(o)
}

/// `parameter_types.boolean` (true/false or their usual spellings), plus
/// `auto` where `block_migration` allows it (`None` then).
fn boolean(path: &str, v: &Value, allow_auto: bool) -> Result<Option<bool>, ApiError> {
    const YES: &[&str] = &[
        "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
    ];
    const NO: &[&str] = &[
        "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no",
    ];
    match v {
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if YES.contains(&s.as_str()) => Ok(Some(true)),
        Value::String(s) if NO.contains(&s.as_str()) => Ok(Some(false)),
        Value::String(s) if allow_auto && s == "auto" => Ok(None),
        Value::String(_) => Err(invalid_input(
            path,
            v,
            &format!(
                "{} is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'{}]",
                py_repr(v),
                if allow_auto { ", 'auto'" } else { "" }
            ),
        )),
        other => Err(not_of_type(path, other, "'boolean', 'string'")),
    }
}

/// A host name or null (`host` of migrate and os-migrateLive).
fn host_or_null(v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(invalid_input(
            "host",
            &Value::String(s.clone()),
            &format!("'{s}' does not match '^[a-zA-Z0-9-._]*$'"),
        )),
        Some(other) => Err(not_of_type("host", other, "'string', 'null'")),
    }
}

// ---- server actions ----------------------------------------------------------

/// What an action answers when the model accepted it.
pub(super) type ActionResult = Result<Response, ApiError>;

/// `migrate`: `{"migrate": null}` or, from 2.56, `{"migrate": {"host": …}}`.
/// Before 2.56 Nova has no schema for the body and ignores a host in it.
pub(super) fn migrate(
    m: &mut Model,
    i: usize,
    arg: &Value,
    caller: &Caller,
    mv: Mv,
    now: time::OffsetDateTime,
    env: &Env,
) -> ActionResult {
    let mut host = None;
    if mv.at_least(56) {
        match arg {
            Value::Null => {}
            Value::Object(_) => {
                let o = object("migrate", arg, &["host"], &[])?;
                host = host_or_null(o.get("host"))?;
            }
            other => return Err(not_of_type("migrate", other, "'object', 'null'")),
        }
    }
    if host.is_some() {
        if !caller.is_admin {
            return Err(forbidden_policy(
                "os_compute_api:os-migrate-server:migrate:host",
            ));
        }
    } else if !caller.is_manager_or_admin() {
        return Err(forbidden_policy("os_compute_api:os-migrate-server:migrate"));
    }
    m.migrate_server(i, host.as_deref(), caller, now, env)?;
    Ok(empty(StatusCode::ACCEPTED))
}

/// `os-migrateLive`, with the body of each microversion range: 2.1–2.24
/// `block_migration` + `disk_over_commit` + `host`; 2.25 `block_migration`
/// may be `auto` and `disk_over_commit` is gone; 2.30–2.67 `force`.
pub(super) fn live_migrate(
    m: &mut Model,
    i: usize,
    arg: &Value,
    caller: &Caller,
    mv: Mv,
    now: time::OffsetDateTime,
    env: &Env,
) -> ActionResult {
    let path = "os-migrateLive";
    let (allowed, required): (&[&str], &[&str]) = if !mv.at_least(25) {
        (
            &["block_migration", "disk_over_commit", "host"],
            &["block_migration", "disk_over_commit", "host"],
        )
    } else if mv.at_least(30) && !mv.at_least(68) {
        (
            &["block_migration", "host", "force"],
            &["block_migration", "host"],
        )
    } else {
        (&["block_migration", "host"], &["block_migration", "host"])
    };
    let o = object(path, arg, allowed, required)?;
    let host = host_or_null(o.get("host"))?;
    let block = boolean(
        "block_migration",
        o.get("block_migration").unwrap_or(&Value::Null),
        mv.at_least(25),
    )?;
    if let Some(d) = o.get("disk_over_commit") {
        boolean("disk_over_commit", d, false)?;
    }
    let force = match o.get("force") {
        Some(f) => boolean("force", f, false)?.unwrap_or(false),
        None => false,
    };
    if host.is_some() {
        if !caller.is_admin {
            return Err(forbidden_policy(
                "os_compute_api:os-migrate-server:migrate_live:host",
            ));
        }
    } else if !caller.is_manager_or_admin() {
        return Err(forbidden_policy(
            "os_compute_api:os-migrate-server:migrate_live",
        ));
    }
    if force && host.is_none() {
        return Err(bad_request("Can't force to a non-provided destination"));
    }
    // Before 2.30 a host given is used as is; from 2.30 the scheduler
    // checks it unless forced (2.30–2.67; `force` is gone in 2.68).
    let forced = host.is_some() && (!mv.at_least(30) || force);
    m.live_migrate_server(
        i,
        host.as_deref(),
        forced,
        block == Some(true),
        !mv.at_least(34),
        caller,
        now,
        env,
    )?;
    Ok(empty(StatusCode::ACCEPTED))
}

/// The body of `unshelve` per microversion: anything before 2.77 (an
/// object is refused, see docs/simulator.md), `null` or
/// `{"availability_zone": name}` in 2.77–2.90, and from 2.91 `null` or an
/// object with an optional `availability_zone` (`null` unpins) and `host`.
pub(super) fn unshelve_request(arg: &Value, mv: Mv) -> Result<UnshelveRequest, ApiError> {
    if arg.is_null() {
        return Ok(UnshelveRequest::default());
    }
    if !mv.at_least(77) {
        return Err(invalid_input(
            "unshelve",
            arg,
            &format!("{} is not of type 'null'", py_repr(arg)),
        ));
    }
    if !mv.at_least(91) {
        let o = object(
            "unshelve",
            arg,
            &["availability_zone"],
            &["availability_zone"],
        )?;
        return match o.get("availability_zone") {
            Some(Value::String(az)) if !az.trim().is_empty() => Ok(UnshelveRequest {
                az: Some(Some(az.clone())),
                host: None,
            }),
            Some(other) => Err(not_of_type("availability_zone", other, "'string'")),
            None => Ok(UnshelveRequest::default()),
        };
    }
    let o = object("unshelve", arg, &["availability_zone", "host"], &[])?;
    let az = match o.get("availability_zone") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(az)) => Some(Some(az.clone())),
        Some(other) => {
            return Err(not_of_type("availability_zone", other, "'string', 'null'"));
        }
    };
    let host = match o.get("host") {
        None => None,
        Some(Value::String(h)) => Some(h.clone()),
        Some(other) => return Err(not_of_type("host", other, "'string'")),
    };
    Ok(UnshelveRequest { az, host })
}

/// `pinned_availability_zone` in `PUT /servers/{id}` (2.104), with Nova's
/// two transitions: pinned → `null`, and `null` → the AZ the server is in.
/// Returns the new pin, or `None` when the field is absent.
#[allow(clippy::option_option)]
pub(super) fn pinned_az_update(
    m: &Model,
    i: usize,
    server: &Map<String, Value>,
    mv: Mv,
) -> Result<Option<Option<String>>, ApiError> {
    let Some(p) = server.get("pinned_availability_zone") else {
        return Ok(None);
    };
    if !mv.at_least(104) {
        return Err(invalid_input(
            "server",
            &Value::Object(server.clone()),
            "Additional properties are not allowed ('pinned_availability_zone' was unexpected)",
        ));
    }
    let requested = match p {
        Value::Null => return Ok(Some(None)),
        Value::String(az) if !az.is_empty() && az.trim() == az && az.len() <= 255 => az,
        other => {
            return Err(invalid_input(
                "pinned_availability_zone",
                other,
                &format!(
                    "{} is not valid under any of the given schemas",
                    py_repr(other)
                ),
            ));
        }
    };
    let s = &m.servers[i];
    match &s.requested_az {
        Some(current) if current != requested => Err(ApiError::nova(
            409,
            "Cannot change pinned availability zone directly. Unpin first by setting pinned_availability_zone to null.",
        )),
        Some(_) => Ok(Some(Some(requested.clone()))),
        None => {
            let here = m.server_az(s);
            if &here == requested {
                Ok(Some(Some(requested.clone())))
            } else {
                let here = if here.is_empty() {
                    "None".to_owned()
                } else {
                    here
                };
                Err(ApiError::nova(
                    409,
                    format!(
                        "Server can only be pinned to its current availability zone '{here}', but '{requested}' was requested."
                    ),
                ))
            }
        }
    }
}

// ---- /servers/{id}/migrations -------------------------------------------------

/// Nova's `server_migrations.output`; host fields are null for callers the
/// `index:host` policy does not allow.
fn server_migration_json(
    m: &Model,
    mig: &Migration,
    mv: Mv,
    with_hosts: bool,
    now: time::OffsetDateTime,
) -> Value {
    let source = &m.hosts[mig.source];
    let dest = mig.dest.map(|d| &m.hosts[d]);
    let memory_processed = mig.processed(mig.memory_total, now);
    let disk_processed = mig.processed(mig.disk_total, now);
    let mut v = json!({
        "created_at": iso_micros(mig.created_at),
        "dest_compute": null,
        "dest_host": null,
        "dest_node": null,
        "disk_processed_bytes": disk_processed,
        "disk_remaining_bytes": mig.disk_total - disk_processed,
        "disk_total_bytes": mig.disk_total,
        "id": mig.id,
        "memory_processed_bytes": memory_processed,
        "memory_remaining_bytes": mig.memory_total - memory_processed,
        "memory_total_bytes": mig.memory_total,
        "server_uuid": mig.instance_uuid,
        "source_compute": null,
        "source_node": null,
        "status": mig.status,
        "updated_at": iso_micros(mig.updated_at),
    });
    if mv.at_least(59) {
        v["uuid"] = json!(mig.uuid);
    }
    if mv.at_least(80) {
        v["user_id"] = json!(mig.user_id);
        v["project_id"] = json!(mig.project_id);
    }
    if with_hosts {
        v["dest_compute"] = json!(dest.map(|d| &d.name));
        v["dest_host"] = json!(dest.map(|d| &d.ip));
        v["dest_node"] = json!(dest.map(|d| &d.name));
        v["source_compute"] = json!(source.name);
        v["source_node"] = json!(source.name);
    }
    v
}

/// Nova answers a route its microversion does not have with a plain 404.
fn no_such_route() -> Response {
    ApiError::nova(404, "The resource could not be found.").into_response()
}

async fn server_migrations(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    if !mv.at_least(23) {
        return no_such_route();
    }
    let now = sim.env.clock.now();
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    if !caller.is_manager_or_admin() {
        return forbidden_policy("os_compute_api:servers:migrations:index").into_response();
    }
    let list: Vec<Value> = m
        .migrations
        .iter()
        .filter(|x| x.server == i && x.kind == MigrationKind::Live && x.in_progress())
        .map(|x| server_migration_json(&m, x, mv, caller.is_admin, now))
        .collect();
    json(StatusCode::OK, &json!({"migrations": list}))
}

async fn server_migration(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path((id, mid)): Path<(String, String)>,
) -> Response {
    if !mv.at_least(23) {
        return no_such_route();
    }
    let now = sim.env.clock.now();
    let m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    if !caller.is_admin {
        return forbidden_policy("os_compute_api:servers:migrations:show").into_response();
    }
    let sid = &m.servers[i].id;
    let found = mid
        .parse::<u64>()
        .ok()
        .and_then(|n| m.migrations.iter().find(|x| x.id == n && x.server == i));
    let Some(mig) = found else {
        return ApiError::nova(
            404,
            format!("In-progress live migration {mid} is not found for server {sid}."),
        )
        .into_response();
    };
    if mig.kind != MigrationKind::Live {
        return ApiError::nova(
            404,
            format!("Migration {mid} for server {sid} is not live-migration."),
        )
        .into_response();
    }
    if !mig.in_progress() {
        return ApiError::nova(
            404,
            format!("Live migration {mid} for server {sid} is not in progress."),
        )
        .into_response();
    }
    json(
        StatusCode::OK,
        &json!({"migration": server_migration_json(&m, mig, mv, true, now)}),
    )
}

async fn abort_migration(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path((id, mid)): Path<(String, String)>,
) -> Response {
    if !mv.at_least(24) {
        return no_such_route();
    }
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    if !caller.is_manager_or_admin() {
        return forbidden_policy("os_compute_api:servers:migrations:delete").into_response();
    }
    match m.abort_live_migration(i, &mid, mv.at_least(65), &caller, now, &sim.env) {
        Ok(()) => empty(StatusCode::ACCEPTED),
        Err(e) => e.into_response(),
    }
}

async fn migration_action(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path((id, mid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if !mv.at_least(22) {
        return no_such_route();
    }
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e).into_response(),
    };
    if let Err(e) = object("", &body, &["force_complete"], &["force_complete"]) {
        return e.into_response();
    }
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.visible_server(&id, &caller) else {
        return not_found_instance(&id).into_response();
    };
    if !caller.is_manager_or_admin() {
        return forbidden_policy("os_compute_api:servers:migrations:force_complete")
            .into_response();
    }
    match m.force_complete_live_migration(i, &mid, &caller, now, &sim.env) {
        Ok(()) => empty(StatusCode::ACCEPTED),
        Err(e) => e.into_response(),
    }
}

// ---- /os-migrations -------------------------------------------------------

const MIGRATION_QUERY_KEYS: &[&str] = &[
    "hidden",
    "host",
    "instance_uuid",
    "source_compute",
    "status",
    "migration_type",
    "limit",
    "marker",
    "changes-since",
    "changes-before",
    "user_id",
    "project_id",
];

fn os_migration_json(m: &Model, mig: &Migration, mv: Mv) -> Value {
    let source = &m.hosts[mig.source];
    let dest = mig.dest.map(|d| &m.hosts[d]);
    let mut v = json!({
        "created_at": iso_micros(mig.created_at),
        "dest_compute": dest.map(|d| &d.name),
        "dest_host": dest.map(|d| &d.ip),
        "dest_node": dest.map(|d| &d.name),
        "id": mig.id,
        "instance_uuid": mig.instance_uuid,
        "new_instance_type_id": mig.flavor_db_id,
        "old_instance_type_id": mig.flavor_db_id,
        "source_compute": source.name,
        "source_node": source.name,
        "status": mig.status,
        "updated_at": iso_micros(mig.updated_at),
    });
    if mv.at_least(23) {
        v["migration_type"] = json!(mig.kind.as_str());
        if mig.kind == MigrationKind::Live && mig.in_progress() {
            v["links"] = links(
                m,
                &format!("servers/{}/migrations", mig.instance_uuid),
                &mig.id.to_string(),
            );
        }
    }
    if mv.at_least(59) {
        v["uuid"] = json!(mig.uuid);
    }
    if mv.at_least(80) {
        v["user_id"] = json!(mig.user_id);
        v["project_id"] = json!(mig.project_id);
    }
    v
}

async fn migrations(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query_pairs(raw.as_deref());
    if mv.at_least(59) {
        let known: &[&str] = if mv.at_least(80) {
            MIGRATION_QUERY_KEYS
        } else if mv.at_least(66) {
            &MIGRATION_QUERY_KEYS[..10]
        } else {
            &MIGRATION_QUERY_KEYS[..9]
        };
        if let Some((k, v)) = q.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return bad_request(format!(
                "Invalid input for query parameters {k}. Value: {v}. Additional properties are not allowed ('{k}' was unexpected)"
            ))
            .into_response();
        }
    }
    if !caller.is_manager_or_admin() {
        return forbidden_policy("os_compute_api:os-migrations:index").into_response();
    }
    let project = query_get(&q, "project_id").filter(|_| mv.at_least(80));
    if project != Some(caller.project_id.as_str()) && !caller.is_admin {
        return forbidden_policy("os_compute_api:os-migrations:index:all_projects").into_response();
    }
    let ts = |key: &str, from: u16| -> Result<Option<time::OffsetDateTime>, ApiError> {
        match query_get(&q, key).filter(|_| mv.at_least(from)) {
            None => Ok(None),
            Some(v) => parse_timestamp(v).map(Some).ok_or_else(|| {
                bad_request(format!(
                    "Invalid input for query parameters {key}. Value: {v}. '{v}' is not a 'date-time'"
                ))
            }),
        }
    };
    let (since, before) = match (ts("changes-since", 59), ts("changes-before", 66)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    if let (Some(a), Some(b)) = (since, before)
        && b < a
    {
        return bad_request(
            "The value of changes-since must be less than or equal to changes-before.",
        )
        .into_response();
    }
    let m = sim.lock();
    let filter = |key: &str| query_get(&q, key);
    let host_of = |h: Option<usize>| h.map(|h| m.hosts[h].name.as_str());
    let mut picked: Vec<&Migration> = m
        .migrations
        .iter()
        .filter(|x| filter("instance_uuid").is_none_or(|v| v == x.instance_uuid))
        .filter(|x| filter("status").is_none_or(|v| v == x.status))
        .filter(|x| filter("migration_type").is_none_or(|v| v == x.kind.as_str()))
        .filter(|x| filter("source_compute").is_none_or(|v| Some(v) == host_of(Some(x.source))))
        .filter(|x| {
            filter("host")
                .is_none_or(|v| Some(v) == host_of(Some(x.source)) || Some(v) == host_of(x.dest))
        })
        .filter(|x| project.is_none_or(|v| v == x.project_id))
        .filter(|x| {
            filter("user_id")
                .filter(|_| mv.at_least(80))
                .is_none_or(|v| v == x.user_id)
        })
        .filter(|x| {
            let updated = x.updated_at.replace_nanosecond(0).unwrap_or(x.updated_at);
            since.is_none_or(|s| updated >= s) && before.is_none_or(|b| updated <= b)
        })
        .collect();
    let mut body = json!({});
    if mv.at_least(59) {
        // Newest first (created_at, id), with limit/marker paging by uuid.
        picked.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        if let Some(marker) = query_get(&q, "marker") {
            match picked.iter().position(|x| x.uuid == marker) {
                Some(p) => picked.drain(..=p).for_each(drop),
                None => {
                    return bad_request(format!("Marker {marker} could not be found."))
                        .into_response();
                }
            }
        }
        let limit = match parse_limit(&q, m.cfg.max_limit) {
            Ok(l) => l,
            Err(e) => return e.into_response(),
        };
        picked.truncate(limit);
        if limit > 0
            && picked.len() == limit
            && let Some(last) = picked.last()
        {
            let base = format!("{}/os-migrations", m.cfg.compute_url());
            body["migrations_links"] =
                json!([{"href": next_link(&base, &q, &last.uuid), "rel": "next"}]);
        }
    }
    body["migrations"] = Value::Array(
        picked
            .iter()
            .map(|x| os_migration_json(&m, x, mv))
            .collect(),
    );
    json(StatusCode::OK, &body)
}

// ---- /os-hypervisors ------------------------------------------------------

fn hypervisor_id(h: &Host, index: usize, mv: Mv) -> Value {
    if mv.at_least(53) {
        json!(h.uuid)
    } else {
        json!(index + 1)
    }
}

fn hypervisor_json(m: &Model, index: usize, mv: Mv, detail: bool, with_servers: bool) -> Value {
    let h = &m.hosts[index];
    let mut v = json!({
        "id": hypervisor_id(h, index, mv),
        "hypervisor_hostname": h.name,
        "state": "up",
        "status": if h.enabled { "enabled" } else { "disabled" },
    });
    if detail {
        v["hypervisor_type"] = json!("QEMU");
        v["hypervisor_version"] = json!(8_002_000);
        v["host_ip"] = json!(h.ip);
        v["service"] = json!({
            "id": if mv.at_least(53) { json!(h.service_uuid) } else { json!(index + 3) },
            "host": h.name,
            "disabled_reason": null,
        });
        if mv.at_least(88) {
            v["uptime"] = Value::Null;
        } else {
            let on_host = m
                .servers
                .iter()
                .filter(|s| !s.is_deleted() && s.host == Some(index));
            let (mut running, mut busy) = (0, 0);
            for s in on_host {
                running += 1;
                busy += u64::from(s.task_state.is_some());
            }
            let free_disk = h.disk_gb as i64 - h.used_disk_gb as i64;
            v["vcpus"] = json!(h.vcpus);
            v["memory_mb"] = json!(h.ram_mb);
            v["local_gb"] = json!(h.disk_gb);
            v["vcpus_used"] = json!(h.used_vcpus);
            v["memory_mb_used"] = json!(h.used_ram_mb);
            v["local_gb_used"] = json!(h.used_disk_gb);
            v["free_ram_mb"] = json!(h.ram_mb as i64 - h.used_ram_mb as i64);
            v["free_disk_gb"] = json!(free_disk);
            v["current_workload"] = json!(busy);
            v["running_vms"] = json!(running);
            v["disk_available_least"] = json!(free_disk);
            let cpu = json!({
                "arch": "x86_64", "model": "Nehalem", "vendor": "Intel",
                "features": ["pge", "clflush"],
                "topology": {"cores": 1, "threads": 1, "sockets": h.vcpus},
            });
            v["cpu_info"] = if mv.at_least(28) {
                cpu
            } else {
                json!(cpu.to_string())
            };
        }
    }
    let servers: Vec<Value> = if with_servers {
        m.servers
            .iter()
            .filter(|s| !s.is_deleted() && s.host == Some(index))
            .map(|s| json!({"name": s.instance_name, "uuid": s.id}))
            .collect()
    } else {
        Vec::new()
    };
    if !servers.is_empty() || (with_servers && mv.at_least(75)) {
        v["servers"] = Value::Array(servers);
    }
    v
}

fn list_hypervisors(
    sim: &AppState,
    caller: &Caller,
    mv: Mv,
    raw: Option<String>,
    detail: bool,
) -> Response {
    if !caller.is_admin {
        let rule = if detail { "list-detail" } else { "list" };
        return forbidden_policy(&format!("os_compute_api:os-hypervisors:{rule}")).into_response();
    }
    let q = query_pairs(raw.as_deref());
    let m = sim.lock();
    let pattern = query_get(&q, "hypervisor_hostname_pattern").filter(|_| mv.at_least(53));
    let with_servers = mv.at_least(53) && query_get(&q, "with_servers").is_some_and(truthy);
    let mut picked: Vec<usize> = (0..m.hosts.len()).collect();
    let mut paged = mv.at_least(33);
    if let Some(p) = pattern {
        if query_get(&q, "limit").is_some() || query_get(&q, "marker").is_some() {
            return bad_request(
                "Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.",
            )
            .into_response();
        }
        paged = false;
        picked.retain(|h| m.hosts[*h].name.contains(p));
        if picked.is_empty() {
            return ApiError::nova(404, format!("No hypervisor matching '{p}' could be found."))
                .into_response();
        }
    }
    let mut body = json!({});
    if paged {
        if let Some(marker) = query_get(&q, "marker") {
            // Markers are uuids from 2.53 and integer ids before.
            let pos = picked.iter().position(|h| {
                if mv.at_least(53) {
                    m.hosts[*h].uuid == marker
                } else {
                    (*h + 1).to_string() == marker
                }
            });
            match pos {
                Some(p) => picked.drain(..=p).for_each(drop),
                None => {
                    return bad_request(format!("marker [{marker}] not found")).into_response();
                }
            }
        }
        let limit = match parse_limit(&q, m.cfg.max_limit) {
            Ok(l) => l,
            Err(e) => return e.into_response(),
        };
        picked.truncate(limit);
        if limit > 0
            && picked.len() == limit
            && let Some(last) = picked.last()
        {
            let id = match hypervisor_id(&m.hosts[*last], *last, mv) {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let base = format!(
                "{}/os-hypervisors{}",
                m.cfg.compute_url(),
                if detail { "/detail" } else { "" }
            );
            body["hypervisors_links"] = json!([{"href": next_link(&base, &q, &id), "rel": "next"}]);
        }
    }
    body["hypervisors"] = Value::Array(
        picked
            .iter()
            .map(|h| hypervisor_json(&m, *h, mv, detail, with_servers))
            .collect(),
    );
    json(StatusCode::OK, &body)
}

async fn hypervisors(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list_hypervisors(&sim, &caller, mv, q, false)
}

async fn hypervisors_detail(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list_hypervisors(&sim, &caller, mv, q, true)
}

/// A hypervisor by its id: a uuid from 2.53, an integer before.
fn find_hypervisor(m: &Model, id: &str, mv: Mv) -> Result<usize, ApiError> {
    let not_found = || {
        ApiError::nova(
            404,
            format!("Hypervisor with ID '{id}' could not be found."),
        )
    };
    if mv.at_least(53) {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(bad_request(format!("Invalid uuid {id}")));
        }
        m.hosts
            .iter()
            .position(|h| h.uuid == id)
            .ok_or_else(not_found)
    } else {
        id.parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|n| *n < m.hosts.len())
            .ok_or_else(not_found)
    }
}

async fn hypervisor(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !caller.is_admin {
        return forbidden_policy("os_compute_api:os-hypervisors:show").into_response();
    }
    let m = sim.lock();
    let index = match find_hypervisor(&m, &id, mv) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let q = query_pairs(raw.as_deref());
    let with_servers = mv.at_least(53) && query_get(&q, "with_servers").is_some_and(truthy);
    json(
        StatusCode::OK,
        &json!({"hypervisor": hypervisor_json(&m, index, mv, true, with_servers)}),
    )
}

/// `GET /os-hypervisors/{id}/uptime` (2.1–2.87; 2.88 moved `uptime` into
/// the detail view).
async fn hypervisor_uptime(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    if mv.at_least(88) {
        return no_such_route();
    }
    if !caller.is_admin {
        return forbidden_policy("os_compute_api:os-hypervisors:uptime").into_response();
    }
    let m = sim.lock();
    let index = match find_hypervisor(&m, &id, mv) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let mut v = hypervisor_json(&m, index, mv, false, false);
    v["uptime"] = json!(" 08:32:11 up 93 days, 18:25, 12 users,  load average: 0.20, 0.12, 0.14");
    json(StatusCode::OK, &json!({"hypervisor": v}))
}

// ---- /os-services ---------------------------------------------------------

async fn services(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !caller.is_admin {
        return forbidden_policy("os_compute_api:os-services:list").into_response();
    }
    let q = query_pairs(raw.as_deref());
    let now = sim.env.clock.now();
    let m = sim.lock();
    let id = |n: usize, name: &str, binary: &str| {
        if mv.at_least(53) {
            json!(crate::sim::model::name_uuid(binary, name))
        } else {
            json!(n)
        }
    };
    let mut rows: Vec<(Value, &str, String, bool, String)> = vec![
        (
            id(1, "controller", "nova-scheduler"),
            "nova-scheduler",
            "controller".to_owned(),
            true,
            "internal".to_owned(),
        ),
        (
            id(2, "controller", "nova-conductor"),
            "nova-conductor",
            "controller".to_owned(),
            true,
            "internal".to_owned(),
        ),
    ];
    for (n, h) in m.hosts.iter().enumerate() {
        let sid = if mv.at_least(53) {
            json!(h.service_uuid)
        } else {
            json!(n + 3)
        };
        rows.push((sid, "nova-compute", h.name.clone(), h.enabled, h.az.clone()));
    }
    let list: Vec<Value> = rows
        .into_iter()
        .filter(|(_, binary, host, _, _)| {
            query_get(&q, "binary").is_none_or(|b| b == *binary)
                && query_get(&q, "host").is_none_or(|x| x == host)
        })
        .map(|(id, binary, host, enabled, zone)| {
            let mut v = json!({
                "id": id,
                "binary": binary,
                "disabled_reason": null,
                "host": host,
                "state": "up",
                "status": if enabled { "enabled" } else { "disabled" },
                "updated_at": iso_micros(now),
                "zone": zone,
            });
            if mv.at_least(11) {
                v["forced_down"] = json!(false);
            }
            v
        })
        .collect();
    json(StatusCode::OK, &json!({"services": list}))
}

// ---- /os-aggregates -------------------------------------------------------

/// One aggregate per AZ holding its hosts, as AZs are made in Nova
/// (`openstack hypervisor show` reads them).
async fn aggregates(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
) -> Response {
    if !caller.is_admin {
        return forbidden_policy("os_compute_api:os-aggregates:index").into_response();
    }
    let m = sim.lock();
    let list: Vec<Value> = m
        .azs
        .iter()
        .enumerate()
        .map(|(n, az)| {
            let hosts: Vec<&str> = m
                .hosts
                .iter()
                .filter(|h| &h.az == az)
                .map(|h| h.name.as_str())
                .collect();
            let mut v = json!({
                "availability_zone": az,
                "created_at": iso_micros(m.created_at),
                "deleted": false,
                "deleted_at": null,
                "hosts": hosts,
                "id": n + 1,
                "metadata": {"availability_zone": az},
                "name": format!("agg-{az}"),
                "updated_at": null,
            });
            if mv.at_least(41) {
                v["uuid"] = json!(crate::sim::model::name_uuid("aggregate", az));
            }
            v
        })
        .collect();
    json(StatusCode::OK, &json!({"aggregates": list}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_reprs_match_novas_messages() {
        let v = json!({"host": null, "block_migration": "auto"});
        assert_eq!(py_repr(&v), "{'block_migration': 'auto', 'host': None}");
        assert_eq!(py_str(&json!("x")), "x");
        assert_eq!(py_repr(&json!([true, 1])), "[True, 1]");
    }

    #[test]
    fn objects_report_missing_then_unexpected_keys() {
        let e = object(
            "os-migrateLive",
            &json!({"host": null}),
            &["host", "block_migration"],
            &["block_migration", "host"],
        )
        .unwrap_err();
        assert!(
            e.body_text()
                .contains("'block_migration' is a required property"),
            "{}",
            e.body_text()
        );
        let e = object("migrate", &json!({"hots": "x"}), &["host"], &[]).unwrap_err();
        assert!(
            e.body_text().contains("('hots' was unexpected)"),
            "{}",
            e.body_text()
        );
    }

    #[test]
    fn booleans_take_novas_spellings() {
        assert_eq!(boolean("b", &json!("auto"), true).unwrap(), None);
        assert_eq!(boolean("b", &json!("yes"), false).unwrap(), Some(true));
        assert!(boolean("b", &json!("auto"), false).is_err());
        assert!(boolean("b", &json!(3), true).is_err());
    }
}
