//! Keystone v3: version documents, tokens (password, application
//! credential, token) with a service catalog, and the few project/user
//! reads clients do after authenticating.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{AppState, empty, json, parse_json, query_get, query_pairs, str_field};
use crate::sim::clock::iso_micros_z;
use crate::sim::errors::ApiError;
use crate::sim::model::{Model, Token};

pub fn routes() -> Router<AppState> {
    let mut r = Router::new()
        .route("/identity", get(versions))
        .route("/identity/", get(versions))
        .route("/identity/v3", get(version))
        .route("/identity/v3/", get(version));
    // `/v3` serves the same API, for clients configured with a bare /v3 URL.
    for base in ["/identity/v3", "/v3"] {
        r = r
            .route(
                &format!("{base}/auth/tokens"),
                get(validate).post(issue).delete(revoke).head(validate),
            )
            .route(&format!("{base}/auth/projects"), get(auth_projects))
            .route(&format!("{base}/auth/catalog"), get(auth_catalog))
            .route(&format!("{base}/projects"), get(projects))
            .route(&format!("{base}/projects/{{id}}"), get(project))
            .route(&format!("{base}/users"), get(users))
            .route(&format!("{base}/users/{{id}}"), get(user));
    }
    r.route("/v3", get(version))
}

fn version_doc(m: &Model) -> Value {
    json!({
        "id": "v3.14",
        "links": [{"href": format!("{}/v3/", m.cfg.identity_url()), "rel": "self"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z"
    })
}

async fn versions(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    json(
        StatusCode::MULTIPLE_CHOICES,
        &json!({"versions": {"values": [version_doc(&m)]}}),
    )
}

async fn version(State(sim): State<AppState>) -> Response {
    let m = sim.lock();
    json(StatusCode::OK, &json!({"version": version_doc(&m)}))
}

fn unauthorized(m: &Model) -> Response {
    ApiError::unauthorized(&m.cfg.identity_url()).into_response()
}

fn stable_id(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..16])
}

/// The service catalog of a token scoped to `project_id`.
pub fn catalog(m: &Model, project_id: &str) -> Value {
    let services = [
        ("identity", "keystone", m.cfg.identity_url()),
        ("compute", "nova", m.cfg.compute_url()),
        ("image", "glance", m.cfg.image_url()),
        ("network", "neutron", m.cfg.network_url()),
        ("block-storage", "cinder", m.cfg.volume_url(project_id)),
        ("volumev3", "cinderv3", m.cfg.volume_url(project_id)),
    ];
    let entries: Vec<Value> = services
        .iter()
        .map(|(kind, name, url)| {
            let endpoints: Vec<Value> = ["public", "internal", "admin"]
                .iter()
                .map(|iface| {
                    json!({
                        "id": stable_id(&format!("{kind}/{iface}")),
                        "interface": iface,
                        "region": m.cfg.region,
                        "region_id": m.cfg.region,
                        "url": url,
                    })
                })
                .collect();
            json!({
                "endpoints": endpoints,
                "id": stable_id(kind),
                "type": kind,
                "name": name,
            })
        })
        .collect();
    Value::Array(entries)
}

fn domain() -> Value {
    json!({"id": "default", "name": "Default"})
}

fn token_body(m: &Model, t: &Token, with_catalog: bool) -> Value {
    let user = &m.users[t.user];
    let project = &m.projects[t.project];
    let roles: Vec<Value> = t
        .roles
        .iter()
        .map(|r| json!({"id": m.role_ids.get(r).cloned().unwrap_or_default(), "name": r}))
        .collect();
    let mut token = json!({
        "audit_ids": [t.audit_id],
        "expires_at": iso_micros_z(t.expires_at),
        "issued_at": iso_micros_z(t.issued),
        "is_domain": false,
        "methods": t.methods,
        "project": {"domain": domain(), "id": project.id, "name": project.name},
        "roles": roles,
        "user": {"domain": domain(), "id": user.id, "name": user.name, "password_expires_at": null},
    });
    if with_catalog {
        token["catalog"] = catalog(m, &project.id);
    }
    if let Some(a) = t.app_cred {
        let ac = &user.app_creds[a];
        token["application_credential"] = json!({"id": ac.id, "name": ac.name, "restricted": true});
    }
    json!({"token": token})
}

fn domain_ok(v: Option<&Value>) -> bool {
    match v {
        None => true,
        Some(d) => {
            str_field(d, "id").is_none_or(|id| id == "default")
                && str_field(d, "name").is_none_or(|n| n.eq_ignore_ascii_case("default"))
        }
    }
}

/// Find a user from `{"id": …}` or `{"name": …, "domain": …}`.
fn find_user(m: &Model, u: &Value) -> Option<usize> {
    if let Some(id) = str_field(u, "id") {
        return m.users.iter().position(|x| x.id == id);
    }
    let name = str_field(u, "name")?;
    if !domain_ok(u.get("domain")) {
        return None;
    }
    m.users.iter().position(|x| x.name == name)
}

fn find_project(m: &Model, p: &Value) -> Option<usize> {
    if let Some(id) = str_field(p, "id") {
        return m.project_by_id(id);
    }
    let name = str_field(p, "name")?;
    if !domain_ok(p.get("domain")) {
        return None;
    }
    m.project_by_name(name)
}

fn secret_matches(given: Option<&str>, expected: &secrecy::SecretString) -> bool {
    given.is_some_and(|g| {
        let e = expected.expose_secret();
        // Compare digests so the time does not depend on where they differ.
        Sha256::digest(g.as_bytes()) == Sha256::digest(e.as_bytes())
    })
}

enum Who {
    User(usize),
    AppCred(usize, usize),
    Token(Token),
}

async fn issue(State(sim): State<AppState>, body: Bytes) -> Response {
    let body = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return ApiError::keystone(400, e).into_response(),
    };
    let now = sim.env.clock.now();
    let mut m = sim.lock();
    let Some(identity) = body.pointer("/auth/identity") else {
        return ApiError::keystone(400, "Expecting to find identity in auth.").into_response();
    };
    let methods: Vec<String> = identity
        .get("methods")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let who = if methods.iter().any(|x| x == "password") {
        let Some(u) = identity.pointer("/password/user") else {
            return unauthorized(&m);
        };
        match find_user(&m, u) {
            Some(idx) if secret_matches(str_field(u, "password"), &m.users[idx].password) => {
                Who::User(idx)
            }
            _ => return unauthorized(&m),
        }
    } else if methods.iter().any(|x| x == "application_credential") {
        let Some(ac) = identity.get("application_credential") else {
            return unauthorized(&m);
        };
        let found = m.users.iter().enumerate().find_map(|(ui, u)| {
            u.app_creds
                .iter()
                .position(|a| {
                    if let Some(id) = str_field(ac, "id") {
                        a.id == id
                    } else {
                        str_field(ac, "name") == Some(a.name.as_str())
                            && ac
                                .get("user")
                                .is_some_and(|uv| find_user(&m, uv) == Some(ui))
                    }
                })
                .map(|ai| (ui, ai))
        });
        match found {
            Some((ui, ai))
                if secret_matches(str_field(ac, "secret"), &m.users[ui].app_creds[ai].secret) =>
            {
                Who::AppCred(ui, ai)
            }
            _ => return unauthorized(&m),
        }
    } else if methods.iter().any(|x| x == "token") {
        let id = identity.pointer("/token/id").and_then(Value::as_str);
        match id.and_then(|id| m.tokens.get(id)) {
            Some(t) if t.valid_until > now => Who::Token(t.clone()),
            _ => return unauthorized(&m),
        }
    } else {
        return ApiError::keystone(400, "Attempted to authenticate with an unsupported method.")
            .into_response();
    };
    let scope = body.pointer("/auth/scope");
    if scope.is_some_and(|s| s.get("system").is_some() || s.get("domain").is_some()) {
        return ApiError::keystone(
            401,
            "The simulated cloud only issues project-scoped tokens.",
        )
        .into_response();
    }
    let scoped_project = match scope.and_then(|s| s.get("project")) {
        Some(p) => match find_project(&m, p) {
            Some(p) => Some(p),
            None => return unauthorized(&m),
        },
        None => None,
    };
    let (user, project, roles, app_cred, methods) = match who {
        Who::User(u) => {
            let project = scoped_project.unwrap_or(m.users[u].project);
            if project != m.users[u].project {
                // The user has roles only on its own project.
                return unauthorized(&m);
            }
            (
                u,
                project,
                m.users[u].roles.clone(),
                None,
                vec!["password".to_owned()],
            )
        }
        Who::AppCred(u, a) => {
            if scoped_project.is_some() {
                return ApiError::keystone(401, "Application credentials cannot request a scope.")
                    .into_response();
            }
            let roles = m.users[u].app_creds[a].roles.clone();
            (
                u,
                m.users[u].project,
                roles,
                Some(a),
                vec!["application_credential".to_owned()],
            )
        }
        Who::Token(t) => {
            let project = scoped_project.unwrap_or(t.project);
            if project != m.users[t.user].project {
                return unauthorized(&m);
            }
            let mut methods = t.methods.clone();
            if !methods.iter().any(|x| x == "token") {
                methods.push("token".to_owned());
            }
            (t.user, project, t.roles.clone(), t.app_cred, methods)
        }
    };
    let (valid_for, advertised) = sim.env.faults().token_lifetime(m.cfg.token_ttl);
    let id = format!("gAAAAA{}", uuid::Uuid::new_v4().simple());
    let audit = uuid::Uuid::new_v4().simple().to_string()[..22].to_owned();
    let token = Token {
        user,
        project,
        roles,
        methods,
        issued: now,
        valid_until: now + valid_for,
        expires_at: now + advertised,
        audit_id: audit,
        app_cred,
    };
    let body = token_body(&m, &token, true);
    m.tokens.insert(id.clone(), token);
    drop(m);
    let mut resp = json(StatusCode::CREATED, &body);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    resp.headers_mut()
        .insert("vary", HeaderValue::from_static("X-Auth-Token"));
    resp
}

fn subject(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-subject-token").and_then(|v| v.to_str().ok())
}

async fn validate(
    State(sim): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let now = sim.env.clock.now();
    let m = sim.lock();
    let q = query_pairs(q.as_deref());
    let nocatalog = query_get(&q, "nocatalog").is_some();
    let Some(id) = subject(&headers) else {
        return ApiError::keystone(404, "Could not find token.").into_response();
    };
    match m.tokens.get(id) {
        Some(t) if t.valid_until > now => {
            let body = token_body(&m, t, !nocatalog);
            let mut resp = json(StatusCode::OK, &body);
            if let Ok(v) = HeaderValue::from_str(id) {
                resp.headers_mut().insert("x-subject-token", v);
            }
            resp
        }
        _ => ApiError::keystone(404, format!("Could not find token: {id}.")).into_response(),
    }
}

async fn revoke(State(sim): State<AppState>, headers: HeaderMap) -> Response {
    let mut m = sim.lock();
    match subject(&headers).and_then(|id| m.tokens.remove(id)) {
        Some(_) => empty(StatusCode::NO_CONTENT),
        None => ApiError::keystone(404, "Could not find token.").into_response(),
    }
}

fn caller_token(m: &Model, headers: &HeaderMap) -> Option<Token> {
    let id = headers.get("x-auth-token")?.to_str().ok()?;
    m.tokens.get(id).cloned()
}

fn project_json(m: &Model, p: usize) -> Value {
    let p = &m.projects[p];
    json!({
        "id": p.id, "name": p.name, "domain_id": "default", "description": "",
        "enabled": true, "is_domain": false, "parent_id": "default", "tags": [], "options": {},
        "links": {"self": format!("{}/v3/projects/{}", m.cfg.identity_url(), p.id)}
    })
}

fn user_json(m: &Model, u: usize) -> Value {
    let u = &m.users[u];
    json!({
        "id": u.id, "name": u.name, "domain_id": "default", "enabled": true,
        "default_project_id": m.projects[u.project].id, "password_expires_at": null, "options": {},
        "links": {"self": format!("{}/v3/users/{}", m.cfg.identity_url(), u.id)}
    })
}

async fn auth_projects(State(sim): State<AppState>, headers: HeaderMap) -> Response {
    let m = sim.lock();
    let Some(t) = caller_token(&m, &headers) else {
        return unauthorized(&m);
    };
    let p = m.users[t.user].project;
    json(
        StatusCode::OK,
        &json!({"projects": [project_json(&m, p)], "links": {"self": null, "next": null, "previous": null}}),
    )
}

async fn auth_catalog(State(sim): State<AppState>, headers: HeaderMap) -> Response {
    let m = sim.lock();
    let Some(t) = caller_token(&m, &headers) else {
        return unauthorized(&m);
    };
    let pid = m.projects[t.project].id.clone();
    json(StatusCode::OK, &json!({"catalog": catalog(&m, &pid)}))
}

fn is_admin(t: &Token) -> bool {
    t.roles.iter().any(|r| r == "admin")
}

async fn projects(
    State(sim): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let m = sim.lock();
    let Some(t) = caller_token(&m, &headers) else {
        return unauthorized(&m);
    };
    let q = query_pairs(q.as_deref());
    let name = query_get(&q, "name");
    let list: Vec<Value> = (0..m.projects.len())
        .filter(|p| is_admin(&t) || *p == t.project)
        .filter(|p| name.is_none_or(|n| m.projects[*p].name == n))
        .map(|p| project_json(&m, p))
        .collect();
    json(
        StatusCode::OK,
        &json!({"projects": list, "links": {"self": null, "next": null, "previous": null}}),
    )
}

async fn project(
    State(sim): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let m = sim.lock();
    let Some(t) = caller_token(&m, &headers) else {
        return unauthorized(&m);
    };
    match m.project_by_id(&id) {
        Some(p) if is_admin(&t) || p == t.project => {
            json(StatusCode::OK, &json!({"project": project_json(&m, p)}))
        }
        Some(_) => ApiError::keystone(
            403,
            "You are not authorized to perform the requested action: identity:get_project.",
        )
        .into_response(),
        None => ApiError::keystone(404, format!("Could not find project: {id}.")).into_response(),
    }
}

async fn users(State(sim): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let m = sim.lock();
    let Some(t) = caller_token(&m, &headers) else {
        return unauthorized(&m);
    };
    let q = query_pairs(q.as_deref());
    let name = query_get(&q, "name");
    let list: Vec<Value> = (0..m.users.len())
        .filter(|u| is_admin(&t) || *u == t.user)
        .filter(|u| name.is_none_or(|n| m.users[*u].name == n))
        .map(|u| user_json(&m, u))
        .collect();
    json(
        StatusCode::OK,
        &json!({"users": list, "links": {"self": null, "next": null, "previous": null}}),
    )
}

async fn user(State(sim): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let m = sim.lock();
    let Some(t) = caller_token(&m, &headers) else {
        return unauthorized(&m);
    };
    match m.users.iter().position(|u| u.id == id) {
        Some(u) if is_admin(&t) || u == t.user => {
            json(StatusCode::OK, &json!({"user": user_json(&m, u)}))
        }
        Some(_) => ApiError::keystone(
            403,
            "You are not authorized to perform the requested action: identity:get_user.",
        )
        .into_response(),
        None => ApiError::keystone(404, format!("Could not find user: {id}.")).into_response(),
    }
}
