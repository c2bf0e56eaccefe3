//! Neutron's generic list: attribute filters (a repeated key means "any
//! of"), `fields`, and `limit`/`marker` paging.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sim::api::{json, query_pairs, str_field};
use crate::sim::errors::ApiError;
use crate::sim::model::{Caller, Model};

const NON_FILTERS: &[&str] = &[
    "limit",
    "marker",
    "fields",
    "sort_key",
    "sort_dir",
    "page_reverse",
];

pub(super) fn value_matches(field: &Value, wanted: &[&str]) -> bool {
    let s = match field {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "".to_owned(),
        Value::Array(items) => {
            return items.iter().any(|x| value_matches(x, wanted));
        }
        Value::Object(_) => return true,
    };
    wanted.iter().any(|w| w.eq_ignore_ascii_case(&s))
}

/// Filter, page and trim a collection the way Neutron does.
pub(super) fn collection(
    name: &str,
    items: Vec<Value>,
    q: &[(String, String)],
    base: &str,
) -> Result<Value, ApiError> {
    let mut keys: Vec<&str> = Vec::new();
    for (k, _) in q {
        if !NON_FILTERS.contains(&k.as_str()) && !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            keys.iter().all(|k| {
                let wanted: Vec<&str> = q
                    .iter()
                    .filter(|(x, _)| x == k)
                    .map(|(_, v)| v.as_str())
                    .collect();
                match item.get(*k) {
                    Some(field) => value_matches(field, &wanted),
                    // Filters on attributes the simulator does not model match nothing.
                    None => false,
                }
            })
        })
        .collect();
    items.sort_by(|a, b| str_field(a, "id").cmp(&str_field(b, "id")));
    if let Some((_, marker)) = q.iter().find(|(k, _)| k == "marker") {
        match items
            .iter()
            .position(|i| str_field(i, "id") == Some(marker.as_str()))
        {
            Some(p) => {
                items.drain(..=p);
            }
            None => {
                return Err(ApiError::neutron(
                    400,
                    "BadRequest",
                    format!("Bad {name} request: marker {marker} not found."),
                ));
            }
        }
    }
    let limit = match q.iter().find(|(k, _)| k == "limit") {
        Some((_, v)) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::neutron(
                400,
                "BadRequest",
                format!("Bad limit request: Limit must be an integer 0 or greater and not '{v}'."),
            )
        })?),
        None => None,
    };
    let more = limit.is_some_and(|l| l > 0 && items.len() > l);
    if let Some(l) = limit.filter(|l| *l > 0) {
        items.truncate(l);
    }
    let fields: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "fields")
        .map(|(_, v)| v.as_str())
        .collect();
    let next_marker = items
        .last()
        .and_then(|i| str_field(i, "id"))
        .map(str::to_owned);
    if !fields.is_empty() {
        for item in &mut items {
            if let Value::Object(o) = item {
                o.retain(|k, _| fields.contains(&k.as_str()));
            }
        }
    }
    let mut body = serde_json::Map::new();
    body.insert(name.to_owned(), Value::Array(items));
    if more && let Some(marker) = next_marker {
        let mut params: Vec<(String, String)> =
            q.iter().filter(|(k, _)| k != "marker").cloned().collect();
        params.push(("marker".to_owned(), marker));
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        body.insert(
            format!("{name}_links"),
            json!([{"href": format!("{base}?{qs}"), "rel": "next"}]),
        );
    }
    Ok(Value::Object(body))
}

pub(super) fn respond(
    name: &str,
    items: Vec<Value>,
    raw: Option<String>,
    base: String,
) -> Response {
    let q = query_pairs(raw.as_deref());
    match collection(name, items, &q, &base) {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

pub(super) fn owned_or_admin(caller: &Caller, project_id: &str) -> bool {
    caller.is_admin || caller.project_id == project_id
}

/// The items `0..count` the caller may see (`visible`), as Neutron lists
/// the collection `name` served at `/v2.0/{path}`.
pub(super) fn list_of(
    m: &Model,
    raw: Option<String>,
    (name, path): (&str, &str),
    count: usize,
    visible: impl Fn(usize) -> bool,
    view: impl Fn(usize) -> Value,
) -> Response {
    let items = (0..count).filter(|i| visible(*i)).map(view).collect();
    respond(
        name,
        items,
        raw,
        format!("{}/v2.0/{path}", m.cfg.network_url()),
    )
}

/// One item under `key`, or Neutron's 404 when the caller cannot see it.
pub(super) fn one_of(
    key: &str,
    found: Option<Value>,
    missing: impl FnOnce() -> ApiError,
) -> Response {
    match found {
        Some(v) => json(StatusCode::OK, &json!({ key: v })),
        None => missing().into_response(),
    }
}
