//! Raw OpenStack HTTP for the end-to-end tests: Keystone v3 password auth, the
//! service catalog, and plain JSON requests with a compute microversion.
//!
//! Deliberately independent of `azmove::openstack`: these tests referee the
//! crate's client and simulator, so they must not share its wire types or its
//! mistakes. Shared by `tests/it/real_cloud/end_to_end.rs` and `tests/it/real_cloud/conformance.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

/// What every helper returns on failure: a sentence naming the request.
pub type Res<T> = Result<T, String>;

/// The part of a clouds.yaml the harness writes (`tests/cloud/cloud up`).
#[derive(Debug, Deserialize)]
pub struct CloudsYaml {
    pub clouds: BTreeMap<String, CloudEntry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CloudEntry {
    pub auth: Auth,
}

#[derive(Clone, Deserialize)]
pub struct Auth {
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub project_name: String,
    #[serde(default = "default_domain")]
    pub user_domain_name: String,
    #[serde(default = "default_domain")]
    pub project_domain_name: String,
}

impl std::fmt::Debug for Auth {
    // the password stays out of test output
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("project_name", &self.project_name)
            .finish_non_exhaustive()
    }
}

fn default_domain() -> String {
    "Default".to_owned()
}

impl CloudsYaml {
    pub fn load(path: &Path) -> Res<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_saphyr::from_str(&text).map_err(|e| format!("cannot parse {}: {e}", path.display()))
    }

    pub fn cloud(&self, name: &str) -> Res<&CloudEntry> {
        self.clouds
            .get(name)
            .ok_or_else(|| format!("clouds.yaml has no cloud named {name:?}"))
    }
}

/// Where the harness's clouds.yaml is, and whether the caller insisted on it.
pub struct CloudLocation {
    pub clouds_yaml: PathBuf,
    /// `AZMOVE_REAL_CLOUD` was set: an unreachable cloud is a failure, not a skip.
    pub explicit: bool,
}

/// `AZMOVE_REAL_CLOUD`, else `$AZMOVE_CLOUD_DIR/clouds.yaml`, else the harness
/// default `<repo>/target/minicloud/clouds.yaml`, if the file exists.
pub fn locate_real_cloud() -> Option<CloudLocation> {
    if let Some(p) = std::env::var_os("AZMOVE_REAL_CLOUD").filter(|p| !p.is_empty()) {
        return Some(CloudLocation {
            clouds_yaml: PathBuf::from(p),
            explicit: true,
        });
    }
    let dir = std::env::var_os("AZMOVE_CLOUD_DIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/minicloud"));
    let p = dir.join("clouds.yaml");
    p.is_file().then_some(CloudLocation {
        clouds_yaml: p,
        explicit: false,
    })
}

pub const SKIP_LINE: &str = "SKIPPED: real cloud not running (start it with tests/cloud/cloud up)";

/// Whether a missing or unreachable cloud fails the test instead of
/// skipping it. The real-cloud tests are `#[ignore]`d, so a plain `cargo
/// test` lists them as ignored, and whoever runs them (`--ignored`, as
/// tests/cloud/ci.sh does) asked for the cloud: by default it is required.
/// `AZMOVE_REAL_CLOUD_REQUIRED` set to a false value (`0`, `false`, `no`,
/// `off`) turns that into a printed skip; any other value keeps it.
pub fn real_cloud_required() -> bool {
    match std::env::var("AZMOVE_REAL_CLOUD_REQUIRED") {
        Ok(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "false" | "no" | "off"
        ),
        Err(_) => true,
    }
}

/// The harness's clouds.yaml if the real cloud is there to be tested, else
/// `None` after printing the SKIPPED line. With `AZMOVE_REAL_CLOUD` or
/// `AZMOVE_REAL_CLOUD_REQUIRED=1` set, a cloud that is missing or does not
/// answer is a test failure instead of a skip.
pub async fn real_cloud_or_skip(test: &str) -> Option<CloudsYaml> {
    let Some(mut loc) = locate_real_cloud() else {
        if real_cloud_required() {
            panic!(
                "AZMOVE_REAL_CLOUD_REQUIRED=1 but no real cloud is configured: set \
                 AZMOVE_REAL_CLOUD to its clouds.yaml or start it with tests/cloud/cloud up"
            );
        }
        println!("{SKIP_LINE} [{test}]");
        return None;
    };
    loc.explicit |= real_cloud_required();
    let clouds = match CloudsYaml::load(&loc.clouds_yaml) {
        Ok(c) => c,
        Err(e) if loc.explicit => panic!(
            "the real cloud is required (AZMOVE_REAL_CLOUD or AZMOVE_REAL_CLOUD_REQUIRED): {e}"
        ),
        Err(e) => {
            println!("{SKIP_LINE} [{test}: {e}]");
            return None;
        }
    };
    let auth_url = match clouds.cloud("admin") {
        Ok(c) => c.auth.auth_url.clone(),
        Err(e) => panic!("{}: {e}", loc.clouds_yaml.display()),
    };
    let answers = http_client()
        .get(&auth_url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .is_ok();
    if !answers {
        if loc.explicit {
            panic!(
                "the real cloud of {} is required (AZMOVE_REAL_CLOUD or \
                 AZMOVE_REAL_CLOUD_REQUIRED) but Keystone at {auth_url} does not answer; \
                 start the cloud with tests/cloud/cloud up",
                loc.clouds_yaml.display()
            );
        }
        println!("{SKIP_LINE} [{test}: {auth_url} does not answer]");
        return None;
    }
    Some(clouds)
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        // gunicorn closes idle keep-alive connections after 2 s, so a pooled
        // connection reused after a long `azmove` run fails with "error
        // sending request"; loopback connections are cheap to open anew
        .pool_max_idle_per_host(0)
        .no_proxy()
        .build()
        .expect("a reqwest client with default TLS settings always builds")
}

/// One catalog endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub service_type: String,
    pub interface: String,
    pub url: String,
}

/// An authenticated, project-scoped Keystone v3 session.
pub struct Session {
    pub http: reqwest::Client,
    pub token: String,
    pub project_id: String,
    pub roles: Vec<String>,
    pub catalog: Vec<Endpoint>,
    /// The whole token body, for field-set comparisons.
    pub token_body: Value,
    pub token_status: StatusCode,
}

/// A response: status and the JSON body (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn expect_ok(self, what: &str) -> Res<Value> {
        if self.status.is_success() {
            Ok(self.body)
        } else {
            Err(format!(
                "{what}: HTTP {} {}",
                self.status.as_u16(),
                compact(&self.body)
            ))
        }
    }
}

/// A body shortened for error messages.
pub fn compact(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(400) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

impl Session {
    pub async fn login(auth: &Auth) -> Res<Self> {
        let http = http_client();
        let url = format!("{}/auth/tokens", auth.auth_url.trim_end_matches('/'));
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": auth.username, "password": auth.password,
                "domain": {"name": auth.user_domain_name}}}},
            "scope": {"project": {"name": auth.project_name,
                                  "domain": {"name": auth.project_domain_name}}}}});
        let resp = http
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = resp.status();
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let token_body: Value = resp.json().await.unwrap_or(Value::Null);
        let token = match (status, token) {
            (StatusCode::CREATED, Some(t)) => t,
            _ => {
                return Err(format!(
                    "login as {} to {url}: HTTP {} {}",
                    auth.username,
                    status.as_u16(),
                    compact(&token_body)
                ));
            }
        };
        let t = &token_body["token"];
        let mut catalog = Vec::new();
        for svc in t["catalog"].as_array().into_iter().flatten() {
            let service_type = svc["type"].as_str().unwrap_or_default().to_owned();
            for ep in svc["endpoints"].as_array().into_iter().flatten() {
                catalog.push(Endpoint {
                    service_type: service_type.clone(),
                    interface: ep["interface"].as_str().unwrap_or_default().to_owned(),
                    url: ep["url"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_end_matches('/')
                        .to_owned(),
                });
            }
        }
        let roles = t["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str().map(str::to_owned))
            .collect();
        Ok(Session {
            http,
            token,
            project_id: t["project"]["id"].as_str().unwrap_or_default().to_owned(),
            roles,
            catalog,
            token_status: status,
            token_body,
        })
    }

    /// The public endpoint of a service type.
    pub fn endpoint(&self, service_type: &str) -> Res<String> {
        self.catalog
            .iter()
            .find(|e| e.service_type == service_type && e.interface == "public")
            .map(|e| e.url.clone())
            .ok_or_else(|| format!("the catalog has no public {service_type} endpoint"))
    }

    /// Send a request to `service_type` + `path` (or to an absolute URL when
    /// `path` starts with `http`), with an optional compute microversion.
    pub async fn call(
        &self,
        method: Method,
        service_type: &str,
        path: &str,
        microversion: Option<&str>,
        body: Option<&Value>,
    ) -> Res<Reply> {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.endpoint(service_type)?)
        };
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("X-Auth-Token", &self.token)
            .header("Accept", "application/json");
        if let Some(mv) = microversion {
            req = req
                .header("OpenStack-API-Version", format!("compute {mv}"))
                .header("X-OpenStack-Nova-API-Version", mv);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("{method} {url}: reading body: {e}"))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }

    pub async fn get(&self, service: &str, path: &str, mv: Option<&str>) -> Res<Reply> {
        self.call(Method::GET, service, path, mv, None).await
    }

    pub async fn post(
        &self,
        service: &str,
        path: &str,
        mv: Option<&str>,
        body: &Value,
    ) -> Res<Reply> {
        self.call(Method::POST, service, path, mv, Some(body)).await
    }

    pub async fn delete(&self, service: &str, path: &str) -> Res<Reply> {
        self.call(Method::DELETE, service, path, None, None).await
    }

    /// The id of the one resource named `name` in a list reply.
    pub async fn id_by_name(
        &self,
        service: &str,
        path: &str,
        key: &str,
        name: &str,
    ) -> Res<String> {
        let v = self.get(service, path, None).await?.expect_ok(path)?;
        let found: Vec<&Value> = v[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["name"].as_str() == Some(name))
            .collect();
        match found.as_slice() {
            [one] => one["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{path}: {name:?} has no id")),
            [] => Err(format!("{path}: nothing named {name:?}")),
            _ => Err(format!("{path}: {} resources named {name:?}", found.len())),
        }
    }

    /// Poll a server until `status` is one of `want`; ERROR (unless wanted) fails.
    pub async fn wait_server(&self, id: &str, want: &[&str], limit: Duration) -> Res<Value> {
        let path = format!("/servers/{id}");
        poll(limit, &format!("server {id} to reach {want:?}"), || async {
            let r = self.get("compute", &path, Some("2.47")).await?;
            let s = r.clone().expect_ok(&path)?;
            let status = s["server"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if want.contains(&status.as_str()) {
                return Ok(Some(s["server"].clone()));
            }
            if status == "ERROR" {
                return Err(format!(
                    "server {id} went to ERROR: {}",
                    compact(&s["server"]["fault"])
                ));
            }
            Ok(None)
        })
        .await
    }

    /// Poll a Glance image until it is `active`; `killed` or `deleted` fails.
    pub async fn wait_image_active(&self, id: &str, limit: Duration) -> Res<Value> {
        let path = format!("/v2/images/{id}");
        poll(limit, &format!("image {id} to become active"), || async {
            let r = self.get("image", &path, None).await?;
            if r.status == StatusCode::NOT_FOUND {
                return Ok(None); // createImage registers the image asynchronously
            }
            let img = r.expect_ok(&path)?;
            match img["status"].as_str() {
                Some("active") => Ok(Some(img)),
                Some(s @ ("killed" | "deleted")) => Err(format!("image {id} is {s}")),
                _ => Ok(None),
            }
        })
        .await
    }

    /// Poll until GET on `path` returns 404.
    pub async fn wait_gone(&self, service: &str, path: &str, limit: Duration) -> Res<()> {
        poll(limit, &format!("{path} to be deleted"), || async {
            let r = self.get(service, path, None).await?;
            Ok((r.status == StatusCode::NOT_FOUND).then_some(()))
        })
        .await
    }
}

/// Call `step` every 250 ms until it yields `Some`, fails, or `limit` passes.
/// The limit only keeps a broken cloud from hanging the test; it asserts nothing.
pub async fn poll<T, F, Fut>(limit: Duration, what: &str, mut step: F) -> Res<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Res<Option<T>>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = step().await? {
            return Ok(v);
        }
        if start.elapsed() > limit {
            return Err(format!("gave up after {limit:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A short unique suffix so that concurrent test runs never collide on names.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}
