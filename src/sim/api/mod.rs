//! The HTTP face of the simulator: one axum router serving every service
//! under its own path prefix (as devstack does), and the middleware every
//! request passes through: counting, injected latency and errors, token
//! checks and request ids.
//!
//! | service  | prefix (catalog URL)            |
//! |----------|---------------------------------|
//! | identity | `/identity` (v3 at `/identity/v3`) |
//! | compute  | `/compute/v2.1`                 |
//! | image    | `/image` (v2 at `/image/v2`)    |
//! | network  | `/networking` (`/networking/v2.0`) |
//! | volume   | `/volume/v3/{project_id}`       |

pub mod admin;
pub mod cinder;
pub mod glance;
pub mod keystone;
pub mod neutron;
pub mod nova;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Sim;
use super::errors::ApiError;
use super::faults::RequestInfo;
use super::model::Caller;

/// Shared state of every handler.
pub type AppState = Arc<Sim>;

/// The whole simulated cloud as one router.
pub fn router(sim: Arc<Sim>) -> Router {
    let services = Router::new()
        .merge(keystone::routes())
        .merge(nova::routes(sim.clone()))
        .merge(glance::routes())
        .merge(neutron::routes())
        .merge(cinder::routes())
        .route_layer(middleware::from_fn_with_state(sim.clone(), common));
    Router::new()
        .merge(services)
        .merge(admin::routes())
        .fallback(not_found)
        .with_state(sim)
}

async fn not_found(State(sim): State<AppState>, req: Request) -> Response {
    let (service, _) = classify(req.uri().path());
    {
        let mut stats = sim.env.stats();
        stats.record_request(
            service,
            req.method().as_str(),
            "(no such route)",
            Instant::now(),
        );
        stats.record_status(404);
    }
    let resp = match service {
        "compute" | "volume" => ApiError::nova(404, "The resource could not be found."),
        "network" => ApiError::neutron(404, "HTTPNotFound", "The resource could not be found."),
        "image" => ApiError::glance(404, "The resource could not be found."),
        _ => ApiError::keystone(404, "The resource could not be found."),
    }
    .into_response();
    with_date(&sim, resp)
}

/// Which service a path belongs to, and the path after its prefix and
/// version (`/compute/v2.1/servers/x` → ("compute", "/servers/x")).
pub fn classify(path: &str) -> (&'static str, String) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (service, skip) = match segs.first().copied() {
        Some("identity") => ("identity", if segs.get(1) == Some(&"v3") { 2 } else { 1 }),
        Some("v3") => ("identity", 1),
        Some("compute") => (
            "compute",
            if segs.get(1).is_some_and(|s| s.starts_with("v2")) {
                2
            } else {
                1
            },
        ),
        Some("image") => ("image", if segs.get(1) == Some(&"v2") { 2 } else { 1 }),
        Some("networking") => ("network", if segs.get(1) == Some(&"v2.0") { 2 } else { 1 }),
        Some("volume") => ("volume", if segs.get(1) == Some(&"v3") { 3 } else { 1 }),
        Some("_sim") => ("_sim", 1),
        _ => ("unknown", 0),
    };
    let rest: Vec<&str> = segs.iter().skip(skip).copied().collect();
    (service, format!("/{}", rest.join("/")))
}

/// Version documents are public; so is asking for a token.
fn is_public(service: &str, method: &Method, rest: &str) -> bool {
    rest == "/"
        || rest == "/versions"
        || (service == "identity" && method == Method::POST && rest == "/auth/tokens")
}

async fn common(State(sim): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let (service, rest) = classify(&path);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| classify(m.as_str()).1)
        .unwrap_or_else(|| rest.clone());
    sim.env
        .stats()
        .record_request(service, method.as_str(), &route, Instant::now());

    // A fault may name the server action, which is in the body.
    let needs_action =
        method == Method::POST && rest.ends_with("/action") && sim.env.faults().needs_action();
    let (req, action) = if needs_action {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
            .await
            .unwrap_or_default();
        let action = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()));
        (Request::from_parts(parts, Body::from(bytes)), action)
    } else {
        (req, None)
    };

    let info = RequestInfo {
        service,
        method: method.as_str(),
        path: &rest,
        action: action.as_deref(),
    };
    let (delay, hit) = {
        let mut faults = sim.env.faults();
        let delay = faults.latency(&info);
        let hit = faults.http_error(&info);
        (delay, hit)
    };
    if !delay.is_zero() {
        sim.env.stats().record_fault("latency");
    }
    let delay = delay + sim.api_latency;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(hit) = hit {
        let err = injected_error(service, hit.status, hit.message.as_deref());
        let err = match hit.retry_after {
            Some(d) => err.with_header(header::RETRY_AFTER, d.as_secs().max(1).to_string()),
            None => err,
        };
        let mut stats = sim.env.stats();
        stats.record_fault(&format!("http_error {}", hit.status));
        stats.record_status(hit.status);
        return finish(&sim, service, err.into_response());
    }

    let mut req = req;
    if !is_public(service, &method, &rest) {
        match authenticate(&sim, req.headers()) {
            Some(caller) => {
                req.extensions_mut().insert(caller);
            }
            None => {
                sim.env.stats().record_status(401);
                return finish(
                    &sim,
                    service,
                    ApiError::unauthorized(&sim.identity_url).into_response(),
                );
            }
        }
    }
    let resp = next.run(req).await;
    sim.env.stats().record_status(resp.status().as_u16());
    finish(&sim, service, resp)
}

/// Headers every service adds: request ids, and `Date` from the cloud's
/// clock (the one its timestamps come from, moved by `/_sim/clock/advance`).
fn finish(sim: &super::Sim, service: &str, resp: Response) -> Response {
    with_date(sim, with_request_id(service, resp))
}

/// `Date: Thu, 01 Jan 2026 10:00:00 GMT` at the simulator's now (hyper
/// would add the wall clock's, which falls behind once the clock is moved).
fn with_date(sim: &super::Sim, mut resp: Response) -> Response {
    let now = std::time::SystemTime::from(sim.env.clock.now());
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(now)) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

/// The error a fault injects, shaped like the service (or its proxy) would.
fn injected_error(service: &str, status: u16, message: Option<&str>) -> ApiError {
    if matches!(status, 429 | 502 | 503 | 504) && message.is_none() {
        return ApiError::proxy(status);
    }
    let text = message.map(str::to_owned).unwrap_or_else(|| {
        StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
            .to_owned()
    });
    match service {
        "compute" | "volume" => ApiError::nova(status, text),
        "network" => ApiError::neutron(status, "HTTPError", text),
        "image" => ApiError::glance(status, text),
        _ => ApiError::keystone(status, text),
    }
}

fn with_request_id(service: &str, mut resp: Response) -> Response {
    let id = format!("req-{}", uuid::Uuid::new_v4());
    if let Ok(v) = HeaderValue::from_str(&id) {
        let h = resp.headers_mut();
        if !h.contains_key("x-openstack-request-id") {
            h.insert("x-openstack-request-id", v.clone());
        }
        if service == "compute" && !h.contains_key("x-compute-request-id") {
            h.insert("x-compute-request-id", v);
        }
    }
    resp
}

/// The caller behind `X-Auth-Token`, if the token is known and still valid.
fn authenticate(sim: &Sim, headers: &HeaderMap) -> Option<Caller> {
    let token = headers.get("x-auth-token")?.to_str().ok()?;
    let now = sim.env.clock.now();
    let m = sim.lock();
    let t = m.tokens.get(token)?;
    if t.valid_until <= now {
        return None;
    }
    let user = &m.users[t.user];
    let project = &m.projects[t.project];
    Some(Caller {
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        project_id: project.id.clone(),
        project_name: project.name.clone(),
        is_admin: t.roles.iter().any(|r| r == "admin"),
        roles: t.roles.clone(),
    })
}

/// Query parameters in order, repeated keys kept.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

/// First value of a query parameter.
pub fn query_get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// All values of a query parameter.
pub fn query_all<'a>(q: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    q.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Parse a JSON request body.
pub fn parse_json(body: &Bytes) -> Result<Value, String> {
    if body.is_empty() {
        return Err("The request body is empty.".to_owned());
    }
    serde_json::from_slice(body).map_err(|e| format!("Malformed request body: {e}"))
}

/// A JSON answer from a value.
pub fn json(status: StatusCode, v: &Value) -> Response {
    json_bytes(status, serde_json::to_vec(v).unwrap_or_default())
}

/// A JSON answer from bytes already serialized.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An answer without a body (202, 204).
pub fn empty(status: StatusCode) -> Response {
    let mut resp = status.into_response();
    if status != StatusCode::NO_CONTENT {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    resp
}

/// A string value of a JSON object, if present and a string.
pub fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Query-string booleans the way the OpenStack services read them.
pub fn truthy(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "" | "1" | "true" | "t" | "yes" | "y" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_classified_by_service() {
        assert_eq!(
            classify("/compute/v2.1/servers/detail"),
            ("compute", "/servers/detail".to_owned())
        );
        assert_eq!(classify("/compute/"), ("compute", "/".to_owned()));
        assert_eq!(
            classify("/volume/v3/abc/volumes/detail"),
            ("volume", "/volumes/detail".to_owned())
        );
        assert_eq!(
            classify("/identity/v3/auth/tokens"),
            ("identity", "/auth/tokens".to_owned())
        );
        assert_eq!(
            classify("/image/v2/images"),
            ("image", "/images".to_owned())
        );
        assert_eq!(
            classify("/networking/v2.0/ports"),
            ("network", "/ports".to_owned())
        );
        assert_eq!(
            classify("/compute/v2.1/servers/{id}"),
            ("compute", "/servers/{id}".to_owned())
        );
    }
}
