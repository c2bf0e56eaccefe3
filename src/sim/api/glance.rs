//! Glance v2: image lists with Glance's filters (custom properties,
//! comparison operators on timestamps), show, create, JSON-patch update and
//! delete. Snapshots appear here as Nova creates them.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{
    AppState, empty, json, parse_json, query_all, query_get, query_pairs, str_field, truthy,
};
use crate::sim::clock::{iso_seconds, parse_timestamp};
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Image, Model};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/image", get(versions_root))
        .route("/image/", get(versions_root))
        .route("/image/versions", get(versions))
        .route("/image/v2/images", get(list).post(create))
        .route(
            "/image/v2/images/{id}",
            get(show).delete(delete).patch(patch),
        )
}

fn versions_doc(m: &Model) -> Value {
    let href = format!("{}/v2/", m.cfg.image_url());
    let list: Vec<Value> = (0..=16)
        .rev()
        .map(|minor| {
            json!({
                "id": format!("v2.{minor}"),
                "links": [{"href": href, "rel": "self"}],
                "status": if minor == 16 { "CURRENT" } else { "SUPPORTED" },
            })
        })
        .collect();
    json!({"versions": list})
}

async fn versions_root(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    json(StatusCode::MULTIPLE_CHOICES, &versions_doc(&m))
}

async fn versions(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    json(StatusCode::OK, &versions_doc(&m))
}

/// An image as Glance shows it: core attributes, then custom properties.
pub fn image_json(im: &Image) -> Value {
    let mut v = json!({
        "status": im.status,
        "name": im.name,
        "tags": im.tags,
        "container_format": im.container_format,
        "created_at": iso_seconds(im.created_at),
        "disk_format": im.disk_format,
        "updated_at": iso_seconds(im.updated_at),
        "visibility": im.visibility,
        "self": format!("/v2/images/{}", im.id),
        "min_disk": im.min_disk,
        "protected": im.protected,
        "id": im.id,
        "file": format!("/v2/images/{}/file", im.id),
        "checksum": im.checksum,
        "os_hash_algo": im.hash.as_ref().map(|_| "sha512"),
        "os_hash_value": im.hash,
        "os_hidden": im.os_hidden,
        "owner": im.owner,
        "size": im.size,
        "min_ram": im.min_ram,
        "schema": "/v2/schemas/image",
        "virtual_size": null,
    });
    if let Value::Object(o) = &mut v {
        for (k, p) in &im.properties {
            o.entry(k.clone()).or_insert_with(|| json!(p));
        }
        if im.status == "active" {
            o.insert("stores".to_owned(), json!("file"));
        }
    }
    v
}

/// `gt:2024-01-01T00:00:00Z` style comparisons on a timestamp.
fn compare_time(filter: &str, value: time::OffsetDateTime) -> Option<bool> {
    let (op, ts) = match filter.split_once(':') {
        Some((op, rest)) if ["gt", "gte", "lt", "lte", "eq", "neq"].contains(&op) => (op, rest),
        _ => ("eq", filter),
    };
    let t = parse_timestamp(ts)?;
    // Glance keeps whole seconds, and shows them.
    let value = value.replace_nanosecond(0).unwrap_or(value);
    Some(match op {
        "gt" => value > t,
        "gte" => value >= t,
        "lt" => value < t,
        "lte" => value <= t,
        "neq" => value != t,
        _ => value == t,
    })
}

/// Query keys that are not property filters.
const RESERVED: &[&str] = &[
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "sort",
    "name",
    "status",
    "visibility",
    "owner",
    "id",
    "tag",
    "created_at",
    "updated_at",
    "size_min",
    "size_max",
    "os_hidden",
    "member_status",
    "protected",
    "disk_format",
    "container_format",
];

fn core_or_property(im: &Image, key: &str) -> Option<String> {
    match key {
        "min_disk" => Some(im.min_disk.to_string()),
        "min_ram" => Some(im.min_ram.to_string()),
        _ => im.properties.get(key).cloned(),
    }
}

fn list_visible(m: &Model, idx: usize, caller: &Caller, visibility: Option<&str>) -> bool {
    let im = &m.images[idx];
    if im.deleted {
        return false;
    }
    let own = im.owner == caller.project_id;
    match visibility {
        // Others' community images are left out of the default list.
        None => caller.is_admin || im.visibility == "public" || own,
        Some("all") => {
            caller.is_admin || im.visibility == "public" || im.visibility == "community" || own
        }
        Some(v) => {
            im.visibility == v && (caller.is_admin || v == "public" || v == "community" || own)
        }
    }
}

async fn list(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query_pairs(raw.as_deref());
    let limit = match query_get(&q, "limit") {
        None => 25,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n.min(1000),
            Err(_) => {
                return ApiError::glance(400, "limit param must be an integer").into_response();
            }
        },
    };
    // Hidden images are listed only when asked for, and then only they.
    let hidden = match query_get(&q, "os_hidden").map(str::to_ascii_lowercase) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => {
            return ApiError::glance(
                400,
                format!(
                    "Invalid value '{v}' for 'os_hidden' filter. Valid values are 'true' or 'false'."
                ),
            )
            .into_response();
        }
    };
    let m = sim.lock();
    let visibility = query_get(&q, "visibility");
    let name = query_get(&q, "name");
    let status = query_get(&q, "status");
    let owner = query_get(&q, "owner");
    let tags = query_all(&q, "tag");
    let ids: Option<Vec<&str>> =
        query_get(&q, "id").map(|v| v.strip_prefix("in:").unwrap_or(v).split(',').collect());
    let size_min: Option<u64> = query_get(&q, "size_min").and_then(|v| v.parse().ok());
    let size_max: Option<u64> = query_get(&q, "size_max").and_then(|v| v.parse().ok());
    let protected = query_get(&q, "protected").map(truthy);
    let created = query_get(&q, "created_at");
    let updated = query_get(&q, "updated_at");
    for (key, f) in [("created_at", created), ("updated_at", updated)] {
        if let Some(f) = f
            && compare_time(f, time::OffsetDateTime::UNIX_EPOCH).is_none()
        {
            return ApiError::glance(400, format!("Invalid {key} filter value {f}"))
                .into_response();
        }
    }
    let props: Vec<(&str, &str)> = q
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let matches = |idx: usize| -> bool {
        let im = &m.images[idx];
        list_visible(&m, idx, &caller, visibility)
            && im.os_hidden == hidden
            && name.is_none_or(|n| im.name == n)
            && status.is_none_or(|s| im.status == s)
            && owner.is_none_or(|o| im.owner == o)
            && tags.iter().all(|t| im.tags.iter().any(|x| x == t))
            && ids.as_ref().is_none_or(|ids| ids.contains(&im.id.as_str()))
            && size_min.is_none_or(|s| im.size.is_some_and(|x| x >= s))
            && size_max.is_none_or(|s| im.size.is_some_and(|x| x <= s))
            && protected.is_none_or(|p| im.protected == p)
            && query_get(&q, "disk_format").is_none_or(|d| im.disk_format.as_deref() == Some(d))
            && query_get(&q, "container_format")
                .is_none_or(|d| im.container_format.as_deref() == Some(d))
            && created.is_none_or(|f| compare_time(f, im.created_at) == Some(true))
            && updated.is_none_or(|f| compare_time(f, im.updated_at) == Some(true))
            && props
                .iter()
                .all(|(k, v)| core_or_property(im, k).as_deref() == Some(*v))
    };
    // Sort: created_at desc (Glance's default), or the requested key.
    let (sort_key, sort_dir) = match query_get(&q, "sort") {
        Some(s) => {
            let first = s.split(',').next().unwrap_or("created_at");
            let (k, d) = first.split_once(':').unwrap_or((first, "desc"));
            (k.to_owned(), d.to_owned())
        }
        None => (
            query_get(&q, "sort_key").unwrap_or("created_at").to_owned(),
            query_get(&q, "sort_dir").unwrap_or("desc").to_owned(),
        ),
    };
    let mut order: Vec<usize> = (0..m.images.len()).filter(|i| matches(*i)).collect();
    order.reverse();
    if sort_key != "created_at" {
        order.sort_by(|a, b| {
            let (a, b) = (&m.images[*a], &m.images[*b]);
            match sort_key.as_str() {
                "name" => a.name.cmp(&b.name),
                "updated_at" => a.updated_at.cmp(&b.updated_at),
                "size" => a.size.cmp(&b.size),
                "status" => a.status.cmp(&b.status),
                "id" => a.id.cmp(&b.id),
                _ => std::cmp::Ordering::Equal,
            }
            .reverse()
        });
    }
    if sort_dir == "asc" {
        order.reverse();
    }
    if let Some(marker) = query_get(&q, "marker") {
        match order.iter().position(|i| m.images[*i].id == marker) {
            Some(p) => {
                order.drain(..=p);
            }
            None => {
                return ApiError::glance(
                    400,
                    format!("Invalid marker. Image {marker} could not be found."),
                )
                .into_response();
            }
        }
    }
    let page: Vec<usize> = order.iter().take(limit).copied().collect();
    let images: Vec<Value> = page.iter().map(|i| image_json(&m.images[*i])).collect();
    let kept: Vec<(String, String)> = q.iter().filter(|(k, _)| k != "marker").cloned().collect();
    let encode = |pairs: &[(String, String)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish()
    };
    let first = if kept.is_empty() {
        "/v2/images".to_owned()
    } else {
        format!("/v2/images?{}", encode(&kept))
    };
    let mut body = json!({"images": images, "schema": "/v2/schemas/images", "first": first});
    if limit > 0
        && page.len() == limit
        && order.len() > limit
        && let Some(last) = page.last()
    {
        let mut next = kept.clone();
        next.push(("marker".to_owned(), m.images[*last].id.clone()));
        body["next"] = json!(format!("/v2/images?{}", encode(&next)));
    }
    json(StatusCode::OK, &body)
}

fn not_found(id: &str) -> Response {
    ApiError::glance(404, format!("No image found with ID {id}")).into_response()
}

async fn show(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    match m.image(&id).filter(|i| m.image_visible(*i, &caller)) {
        Some(i) => json(StatusCode::OK, &image_json(&m.images[i])),
        None => not_found(&id),
    }
}

async fn delete(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.image(&id).filter(|i| m.image_visible(*i, &caller)) else {
        return not_found(&id);
    };
    if !caller.is_admin && m.images[i].owner != caller.project_id {
        return ApiError::glance(403, "You are not permitted to delete this image.")
            .into_response();
    }
    if m.images[i].protected {
        return ApiError::glance(
            403,
            format!("Image {id} is protected and cannot be deleted."),
        )
        .into_response();
    }
    m.delete_image_record(i, now, &sim.env);
    empty(StatusCode::NO_CONTENT)
}

const READ_ONLY: &[&str] = &[
    "id",
    "status",
    "created_at",
    "updated_at",
    "size",
    "checksum",
    "self",
    "file",
    "schema",
    "os_hash_algo",
    "os_hash_value",
    "virtual_size",
];

/// Why a change to an image is refused: Glance's status and message.
type Refusal = (u16, String);

/// The first line of Glance's 400 for a value of the wrong JSON type
/// (jsonschema's words, with Python's repr of the value).
fn schema_error(value: &Value, kind: &str) -> Refusal {
    let repr = match value {
        Value::String(s) => format!("'{s}'"),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        other => other.to_string(),
    };
    (
        400,
        format!("Provided object does not match schema 'image': {repr} is not of type '{kind}'"),
    )
}

fn set_attr(im: &mut Image, key: &str, value: &Value) -> Result<(), Refusal> {
    if READ_ONLY.contains(&key) {
        return Err((403, format!("Attribute '{key}' is read-only.")));
    }
    match key {
        "os_hidden" => match value {
            Value::Bool(b) => im.os_hidden = *b,
            other => return Err(schema_error(other, "boolean")),
        },
        // Who may set it is checked by the caller (create, PATCH).
        "owner" => match value.as_str() {
            Some(o) => im.owner = o.to_owned(),
            None => return Err(schema_error(value, "string")),
        },
        "name" => im.name = value.as_str().unwrap_or_default().to_owned(),
        "visibility" => {
            let v = value.as_str().unwrap_or_default();
            if !["public", "private", "shared", "community"].contains(&v) {
                return Err((400, format!("Invalid visibility value: {v}")));
            }
            im.visibility = v.to_owned();
        }
        "disk_format" => im.disk_format = value.as_str().map(str::to_owned),
        "container_format" => im.container_format = value.as_str().map(str::to_owned),
        "protected" => im.protected = value.as_bool().unwrap_or(false),
        "min_disk" => im.min_disk = value.as_u64().unwrap_or(0),
        "min_ram" => im.min_ram = value.as_u64().unwrap_or(0),
        "tags" => {
            im.tags = value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
        }
        _ => match value {
            Value::String(s) => {
                im.properties.insert(key.to_owned(), s.clone());
            }
            other => {
                return Err((
                    400,
                    format!("Property {key} must be a string, not {other}."),
                ));
            }
        },
    }
    Ok(())
}

/// Content types Glance takes for `PATCH /v2/images/{id}`.
const PATCH_TYPES: &[&str] = &[
    "application/openstack-images-v2.0-json-patch",
    "application/openstack-images-v2.1-json-patch",
];

/// Attributes of the image itself (not custom properties): replaced, never
/// removed.
const BASE: &[&str] = &[
    "name",
    "visibility",
    "disk_format",
    "container_format",
    "protected",
    "min_disk",
    "min_ram",
    "os_hidden",
    "tags",
    "owner",
];

async fn patch(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !PATCH_TYPES.contains(&content_type.as_str()) {
        let allowed = PATCH_TYPES.join(", ");
        return ApiError::glance(
            415,
            format!("Image PATCH expects Content-Type one of: {allowed}"),
        )
        .with_header(HeaderName::from_static("accept-patch"), allowed)
        .into_response();
    }
    let ops = match parse_json(&body) {
        Ok(Value::Array(ops)) => ops,
        Ok(_) => {
            return ApiError::glance(
                400,
                "Request body must be a JSON array of operation objects.",
            )
            .into_response();
        }
        Err(e) => return ApiError::glance(400, e).into_response(),
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(i) = m.image(&id).filter(|i| m.image_visible(*i, &caller)) else {
        return not_found(&id);
    };
    if !caller.is_admin && m.images[i].owner != caller.project_id {
        return ApiError::glance(403, "You are not permitted to modify this image.")
            .into_response();
    }
    let mut im = m.images[i].clone();
    for op in &ops {
        let kind = str_field(op, "op").unwrap_or("");
        let path = str_field(op, "path").unwrap_or("").trim_start_matches('/');
        let value = op.get("value").unwrap_or(&Value::Null);
        let result = match kind {
            _ if READ_ONLY.contains(&path) => {
                Err((403, format!("Attribute '{path}' is read-only.")))
            }
            "add" | "replace" if path == "owner" && !caller.is_admin => {
                Err((403, "Owner can't be updated by non admin.".to_owned()))
            }
            "replace" if !BASE.contains(&path) && !im.properties.contains_key(path) => {
                Err((409, format!("Property {path} does not exist.")))
            }
            "add" | "replace" => set_attr(&mut im, path, value),
            "remove" if BASE.contains(&path) => {
                Err((403, format!("Property {path} may not be removed.")))
            }
            "remove" => match im.properties.remove(path) {
                Some(_) => Ok(()),
                None => Err((409, format!("Property {path} does not exist."))),
            },
            other => Err((400, format!("Operation '{other}' is not supported."))),
        };
        if let Err((status, e)) = result {
            return ApiError::glance(status, e).into_response();
        }
    }
    // Glance's clock, whole seconds in its database: a heartbeat.
    im.updated_at = now;
    m.images[i] = im;
    json(StatusCode::OK, &image_json(&m.images[i]))
}

async fn create(
    State(sim): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let body = match parse_json(&body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            return ApiError::glance(400, "Request body must be a JSON object.").into_response();
        }
        Err(e) => return ApiError::glance(400, e).into_response(),
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let id = match body.get("id").and_then(Value::as_str) {
        Some(id) if m.image_index.contains_key(id) => {
            return ApiError::glance(409, format!("Image with identifier {id} already exists!"))
                .into_response();
        }
        Some(id) => id.to_owned(),
        None => m.new_uuid(),
    };
    let mut im = Image {
        id: id.clone(),
        name: String::new(),
        owner: caller.project_id.clone(),
        visibility: "shared".to_owned(),
        status: "queued".to_owned(),
        size: None,
        min_disk: 0,
        min_ram: 0,
        disk_format: None,
        container_format: None,
        created_at: now,
        updated_at: now,
        protected: false,
        tags: Vec::new(),
        properties: Default::default(),
        checksum: None,
        hash: None,
        deleted: false,
        os_hidden: false,
    };
    for (k, v) in &body {
        if k == "id" {
            continue;
        }
        if let Err((status, e)) = set_attr(&mut im, k, v) {
            return ApiError::glance(status, e).into_response();
        }
    }
    // Only an admin may create an image in another project (policy
    // `add_image`: admin, or member of the owner project).
    if !caller.is_admin && im.owner != caller.project_id {
        return ApiError::glance(
            403,
            format!(
                "You are not permitted to create images owned by '{}'",
                im.owner
            ),
        )
        .into_response();
    }
    if im.visibility == "public" && !caller.is_admin {
        return ApiError::glance(
            403,
            "You are not authorized to complete publicize_image action.",
        )
        .into_response();
    }
    let name = im.name.clone();
    let i = m.add_image(im);
    sim.env
        .stats()
        .resource_created("image", &id, &name, iso_seconds(now));
    let mut resp = json(StatusCode::CREATED, &image_json(&m.images[i]));
    if let Ok(v) = HeaderValue::from_str(&format!("{}/v2/images/{id}", m.cfg.image_url())) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
