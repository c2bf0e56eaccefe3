//! The admin views a mover picks a destination with: `/os-hypervisors`,
//! `/os-services` and `/os-aggregates`.

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Mv, bad_request, forbidden_policy, next_link, no_such_route, parse_limit};
use crate::sim::api::{AppState, json, query_get, query_pairs, truthy};
use crate::sim::clock::iso_micros;
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Host, Model};

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

pub(super) async fn hypervisors(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list_hypervisors(&sim, &caller, mv, q, false)
}

pub(super) async fn hypervisors_detail(
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

pub(super) async fn hypervisor(
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
pub(super) async fn hypervisor_uptime(
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

pub(super) async fn services(
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
pub(super) async fn aggregates(
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
