//! `/servers/{id}/migrations` and `/os-migrations`.

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::schema::object;
use super::{
    Mv, bad_request, forbidden_policy, links, next_link, no_such_route, not_found_instance,
    parse_limit,
};
use crate::sim::api::{AppState, empty, json, parse_json, query_get, query_pairs};
use crate::sim::clock::{iso_micros, parse_timestamp};
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Migration, MigrationKind, Model};

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

pub(super) async fn server_migrations(
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

pub(super) async fn server_migration(
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

pub(super) async fn abort_migration(
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

pub(super) async fn migration_action(
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

pub(super) async fn migrations(
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
