//! Cinder v3: volume lists (summary and detail, with AZ, bootable and
//! attachments), show, and the volume availability zones.

use axum::Router;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{AppState, json, query_get, query_pairs, truthy};
use crate::sim::clock::iso_micros;
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model, Volume};

pub fn routes() -> Router<AppState> {
    let p = "/volume/v3/{project_id}";
    Router::new()
        .route("/volume", get(versions_root))
        .route("/volume/", get(versions_root))
        .route("/volume/v3", get(versions))
        .route("/volume/v3/", get(versions))
        .route(&format!("{p}/volumes"), get(list))
        .route(&format!("{p}/volumes/detail"), get(list_detail))
        .route(&format!("{p}/volumes/{{id}}"), get(show))
        .route(&format!("{p}/os-availability-zone"), get(azs))
        .route(&format!("{p}/limits"), get(limits))
}

fn versions_doc(m: &Model) -> Value {
    json!({"versions": [{
        "id": "v3.0",
        "status": "CURRENT",
        "version": "3.71",
        "min_version": "3.0",
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"href": "https://docs.openstack.org/", "rel": "describedby", "type": "text/html"},
            {"href": format!("{}/volume/v3/", m.cfg.base_url), "rel": "self"}
        ],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]
    }]})
}

async fn versions_root(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    json(StatusCode::MULTIPLE_CHOICES, &versions_doc(&m))
}

async fn versions(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    json(StatusCode::OK, &versions_doc(&m))
}

/// Cinder refuses URLs naming another project than the token's.
fn check_project(caller: &Caller, project_id: &str) -> Result<(), ApiError> {
    if caller.is_admin || caller.project_id == project_id {
        Ok(())
    } else {
        Err(ApiError::nova(400, "Malformed request url"))
    }
}

fn links(m: &Model, project: &str, id: &str) -> Value {
    json!([
        {"href": format!("{}/volume/v3/{project}/volumes/{id}", m.cfg.base_url), "rel": "self"},
        {"href": format!("{}/volume/{project}/volumes/{id}", m.cfg.base_url), "rel": "bookmark"}
    ])
}

fn volume_json(m: &Model, v: &Volume, admin: bool) -> Value {
    let attachments: Vec<Value> = v
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": v.id, "attachment_id": a.attachment_id, "volume_id": v.id,
                "server_id": a.server_id, "host_name": a.host, "device": a.device,
                "attached_at": iso_micros(a.attached_at),
            })
        })
        .collect();
    let mut out = json!({
        "id": v.id, "name": v.name, "description": null,
        "status": v.status, "size": v.size_gb, "availability_zone": v.az,
        "bootable": if v.bootable { "true" } else { "false" },
        "attachments": attachments, "multiattach": false, "encrypted": false,
        "volume_type": v.volume_type, "metadata": {},
        "snapshot_id": null, "source_volid": null, "consistencygroup_id": null,
        "replication_status": null, "migration_status": null,
        "user_id": v.user_id, "os-vol-tenant-attr:tenant_id": v.project_id,
        "created_at": iso_micros(v.created_at), "updated_at": iso_micros(v.updated_at),
        "links": links(m, &v.project_id, &v.id),
    });
    if admin {
        out["os-vol-host-attr:host"] = json!(format!("cinder@fake#{}", v.az));
        out["os-vol-mig-status-attr:migstat"] = Value::Null;
        out["os-vol-mig-status-attr:name_id"] = Value::Null;
    }
    out
}

fn filtered<'a>(m: &'a Model, caller: &Caller, q: &[(String, String)]) -> Vec<&'a Volume> {
    let all = caller.is_admin && query_get(q, "all_tenants").is_some_and(truthy);
    m.volumes
        .iter()
        .filter(|v| v.status != "deleted")
        .filter(|v| all || v.project_id == caller.project_id)
        .filter(|v| query_get(q, "name").is_none_or(|n| v.name == n))
        .filter(|v| query_get(q, "status").is_none_or(|s| v.status == s))
        .filter(|v| query_get(q, "availability_zone").is_none_or(|a| v.az == a))
        .collect()
}

fn page<'a>(vols: Vec<&'a Volume>, q: &[(String, String)]) -> Result<Vec<&'a Volume>, ApiError> {
    let mut vols = vols;
    if let Some(marker) = query_get(q, "marker") {
        match vols.iter().position(|v| v.id == marker) {
            Some(p) => {
                vols.drain(..=p);
            }
            None => {
                return Err(ApiError::nova(
                    404,
                    format!("Marker {marker} could not be found."),
                ));
            }
        }
    }
    if let Some(l) = query_get(q, "limit") {
        let l: usize = l
            .parse()
            .map_err(|_| ApiError::nova(400, "limit param must be an integer"))?;
        vols.truncate(l);
    }
    Ok(vols)
}

fn do_list(
    sim: &AppState,
    caller: &Caller,
    project: &str,
    raw: Option<String>,
    detail: bool,
) -> Response {
    if let Err(e) = check_project(caller, project) {
        return e.into_response();
    }
    let q = query_pairs(raw.as_deref());
    let m = sim.lock();
    let vols = match page(filtered(&m, caller, &q), &q) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let list: Vec<Value> = vols
        .iter()
        .map(|v| {
            if detail {
                volume_json(&m, v, caller.is_admin)
            } else {
                json!({"id": v.id, "name": v.name, "links": links(&m, &v.project_id, &v.id)})
            }
        })
        .collect();
    json(StatusCode::OK, &json!({"volumes": list}))
}

async fn list(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    do_list(&sim, &caller, &project, q, false)
}

async fn list_detail(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    do_list(&sim, &caller, &project, q, true)
}

async fn show(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((project, id)): Path<(String, String)>,
) -> Response {
    if let Err(e) = check_project(&caller, &project) {
        return e.into_response();
    }
    let m = sim.lock();
    match m.volumes.iter().find(|v| {
        v.id == id
            && v.status != "deleted"
            && (caller.is_admin || v.project_id == caller.project_id)
    }) {
        Some(v) => json(
            StatusCode::OK,
            &json!({"volume": volume_json(&m, v, caller.is_admin)}),
        ),
        None => ApiError::nova(404, format!("Volume {id} could not be found.")).into_response(),
    }
}

async fn azs(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
) -> Response {
    if let Err(e) = check_project(&caller, &project) {
        return e.into_response();
    }
    let m = sim.lock();
    let list: Vec<Value> = m
        .azs
        .iter()
        .map(|az| json!({"zoneName": az, "zoneState": {"available": true}}))
        .collect();
    json(StatusCode::OK, &json!({"availabilityZoneInfo": list}))
}

/// Cinder's absolute limits (default quotas) and the project's usage.
async fn limits(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(project): Path<String>,
) -> Response {
    if let Err(e) = check_project(&caller, &project) {
        return e.into_response();
    }
    let m = sim.lock();
    let mine: Vec<&Volume> = m
        .volumes
        .iter()
        .filter(|v| v.status != "deleted" && v.project_id == project)
        .collect();
    let gigabytes: u64 = mine.iter().map(|v| v.size_gb).sum();
    json(
        StatusCode::OK,
        &json!({"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": 10, "maxTotalSnapshots": 10, "maxTotalVolumeGigabytes": 1000,
            "maxTotalBackups": 10, "maxTotalBackupGigabytes": 1000,
            "totalVolumesUsed": mine.len(), "totalGigabytesUsed": gigabytes,
            "totalSnapshotsUsed": 0, "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0,
        }}}),
    )
}
