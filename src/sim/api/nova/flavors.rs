//! Flavors and their extra specs.

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Mv, bad_request, links, next_link, parse_limit};
use crate::sim::api::{AppState, json, query_get, query_pairs, truthy};
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, FlavorRec, Model};

fn flavor_json(m: &Model, f: &FlavorRec, mv: Mv, detail: bool) -> Value {
    let mut v = json!({"id": f.id, "name": f.name, "links": links(m, "flavors", &f.id)});
    if mv.at_least(55) {
        v["description"] = json!(f.description);
    }
    if !detail {
        return v;
    }
    v["ram"] = json!(f.ram_mb);
    v["disk"] = json!(f.disk_gb);
    v["vcpus"] = json!(f.vcpus);
    v["OS-FLV-EXT-DATA:ephemeral"] = json!(f.ephemeral_gb);
    v["swap"] = if mv.at_least(75) || f.swap_mb > 0 {
        json!(f.swap_mb)
    } else {
        json!("")
    };
    v["os-flavor-access:is_public"] = json!(f.public);
    if !mv.at_least(102) {
        v["OS-FLV-DISABLED:disabled"] = json!(false);
        v["rxtx_factor"] = json!(1.0);
    }
    if mv.at_least(61) {
        v["extra_specs"] = json!(f.extra_specs);
    }
    v
}

fn list_flavors(
    sim: &AppState,
    caller: &Caller,
    mv: Mv,
    raw: Option<String>,
    detail: bool,
) -> Response {
    let q = query_pairs(raw.as_deref());
    let m = sim.lock();
    let is_public = query_get(&q, "is_public").map(|v| v.to_ascii_lowercase());
    let min_ram: u64 = query_get(&q, "minRam")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let min_disk: u64 = query_get(&q, "minDisk")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut flavors: Vec<&FlavorRec> = m
        .flavors
        .iter()
        .filter(|f| match (caller.is_admin, is_public.as_deref()) {
            (true, Some("none")) => true,
            (true, Some(v)) => f.public == truthy(v),
            (true, None) | (false, _) => f.public,
        })
        .filter(|f| f.ram_mb >= min_ram && f.disk_gb >= min_disk)
        .collect();
    flavors.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(marker) = query_get(&q, "marker") {
        match flavors.iter().position(|f| f.id == marker) {
            Some(p) => flavors.drain(..=p).for_each(drop),
            None => return bad_request(format!("marker [{marker}] not found")).into_response(),
        }
    }
    let limit = match parse_limit(&q, m.cfg.max_limit) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let full = flavors.len() > limit;
    flavors.truncate(limit);
    let list: Vec<Value> = flavors
        .iter()
        .map(|f| flavor_json(&m, f, mv, detail))
        .collect();
    let mut body = json!({"flavors": list});
    if full && let Some(last) = flavors.last() {
        let base = format!(
            "{}/flavors{}",
            m.cfg.compute_url(),
            if detail { "/detail" } else { "" }
        );
        body["flavors_links"] = json!([{"href": next_link(&base, &q, &last.id), "rel": "next"}]);
    }
    json(StatusCode::OK, &body)
}

pub(super) async fn flavors(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list_flavors(&sim, &caller, mv, q, false)
}

pub(super) async fn flavors_detail(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    RawQuery(q): RawQuery,
) -> Response {
    list_flavors(&sim, &caller, mv, q, true)
}

pub(super) async fn flavor(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(mv): Extension<Mv>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .flavor(&id)
        .filter(|f| caller.is_admin || m.flavors[*f].public)
    {
        Some(f) => json(
            StatusCode::OK,
            &json!({"flavor": flavor_json(&m, &m.flavors[f], mv, true)}),
        ),
        None => ApiError::nova(404, format!("Flavor {id} could not be found.")).into_response(),
    }
}

pub(super) async fn extra_specs(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m
        .flavor(&id)
        .filter(|f| caller.is_admin || m.flavors[*f].public)
    {
        Some(f) => json(
            StatusCode::OK,
            &json!({"extra_specs": m.flavors[f].extra_specs}),
        ),
        None => ApiError::nova(404, format!("Flavor {id} could not be found.")).into_response(),
    }
}
