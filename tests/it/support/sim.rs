//! Shared helpers of the simulator tests: start a scenario, get tokens,
//! and speak HTTP with reqwest directly (not with azmove's client).

use std::time::Duration;

use azmove::sim::{self, Scenario, SimHandle};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The path of an upstream API sample.
pub fn sample_path(rel: &str) -> String {
    format!(
        "{}/../shared/fixtures/openstack-api-samples/{rel}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// An upstream API sample, parsed.
pub fn sample(rel: &str) -> Value {
    let text = std::fs::read_to_string(sample_path(rel))
        .unwrap_or_else(|e| panic!("cannot read sample {rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("sample {rel} is not JSON: {e}"))
}

/// A small cloud: nova (node-27, node-28), nova2 (node-31), admin + demo.
pub const BASE: &str = r#"
seed: 7
availability_zones:
  - name: nova
    hosts:
      - {name: node-27, vcpus: 8, ram_mb: 16384, disk_gb: 200}
      - {name: node-28, vcpus: 8, ram_mb: 16384, disk_gb: 200}
  - name: nova2
    hosts:
      - {name: node-31, vcpus: 8, ram_mb: 16384, disk_gb: 200}
flavors:
  - {name: m1.tiny, id: "1", vcpus: 1, ram_mb: 512, disk_gb: 1}
  - {name: m1.large, id: "4", vcpus: 4, ram_mb: 8192, disk_gb: 80}
  - {name: m1.huge, id: "9", vcpus: 64, ram_mb: 262144, disk_gb: 1000}
images:
  - {name: cirros, size_mb: 20}
users:
  - {name: admin, password: secret, project: admin, roles: [admin, member, reader],
     application_credentials: [{name: ci, id: 0123456789abcdef0123456789abcdef, secret: s3cret}]}
  - {name: demo, password: demo-pw, project: demo}
networks:
  - name: net1
    shared: true
    subnets: [{name: sub1, cidr: 10.0.0.0/16}]
keypairs:
  - {name: mykey, user: admin}
servers:
  - {name: admin_vm01, project: admin, availability_zone: nova, host: node-27,
     flavor: m1.tiny, image: cirros, networks: [net1], key_name: mykey}
  - {name: demo_vm01, project: demo, availability_zone: nova, flavor: m1.tiny,
     image: cirros, networks: [net1]}
"#;

pub struct Cloud {
    pub sim: SimHandle,
    pub http: reqwest::Client,
    pub base: String,
    pub admin: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Cloud {
    /// Start `BASE` plus extra YAML keys (appended verbatim).
    pub async fn start(extra: &str) -> Cloud {
        Cloud::start_yaml(&format!("{BASE}\n{extra}")).await
    }

    pub async fn start_yaml(yaml: &str) -> Cloud {
        let scenario = Scenario::from_yaml(yaml).expect("test scenario is valid");
        let sim = sim::start(scenario, "127.0.0.1:0".parse().expect("address"))
            .await
            .expect("simulator starts");
        let http = reqwest::Client::new();
        let base = sim.base_url();
        let mut cloud = Cloud {
            sim,
            http,
            base,
            admin: String::new(),
        };
        cloud.admin = cloud.login("admin", "secret", "admin").await;
        cloud
    }

    pub async fn issue(&self, body: Value) -> Reply {
        self.call(
            Method::POST,
            "",
            "/identity/v3/auth/tokens",
            Some(body),
            &[],
        )
        .await
    }

    /// A project-scoped token for a password user.
    pub async fn login(&self, user: &str, password: &str, project: &str) -> String {
        let r = self
            .issue(json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": user, "domain": {"name": "Default"}, "password": password}}},
                "scope": {"project": {"name": project, "domain": {"name": "Default"}}}
            }}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "login {user}: {}", r.text);
        r.header("x-subject-token")
            .expect("token header")
            .to_owned()
    }

    pub async fn call(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.call_via(&self.http, method, token, path, body, headers)
            .await
    }

    /// Like [`Cloud::call`], over another client's connections (a second
    /// operator whose requests overlap with the first one's).
    pub async fn call_via(
        &self,
        http: &reqwest::Client,
        method: Method,
        token: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = http.request(method, url);
        if !token.is_empty() {
            req = req.header("X-Auth-Token", token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.call(Method::GET, token, path, None, &[]).await
    }

    /// GET a compute path at a microversion ("" for none).
    pub async fn nova_get(&self, token: &str, path: &str, mv: &str) -> Reply {
        let hv = format!("compute {mv}");
        let headers: Vec<(&str, &str)> = if mv.is_empty() {
            vec![]
        } else {
            vec![("OpenStack-API-Version", hv.as_str())]
        };
        self.call(
            Method::GET,
            token,
            &format!("/compute/v2.1{path}"),
            None,
            &headers,
        )
        .await
    }

    pub async fn nova_post(&self, token: &str, path: &str, body: Value, mv: &str) -> Reply {
        let hv = format!("compute {mv}");
        let headers: Vec<(&str, &str)> = if mv.is_empty() {
            vec![]
        } else {
            vec![("OpenStack-API-Version", hv.as_str())]
        };
        self.call(
            Method::POST,
            token,
            &format!("/compute/v2.1{path}"),
            Some(body),
            &headers,
        )
        .await
    }

    pub async fn action(&self, token: &str, server: &str, body: Value, mv: &str) -> Reply {
        self.nova_post(token, &format!("/servers/{server}/action"), body, mv)
            .await
    }

    /// Boot a server; returns its id.
    pub async fn boot(&self, token: &str, name: &str, flavor: &str, az: Option<&str>) -> String {
        let mut server = json!({"name": name, "flavorRef": flavor, "imageRef": self.image_id("cirros").await, "networks": "auto"});
        if let Some(az) = az {
            server["availability_zone"] = json!(az);
        }
        let r = self
            .nova_post(token, "/servers", json!({"server": server}), "2.90")
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "boot {name}: {}", r.text);
        r.body["server"]["id"]
            .as_str()
            .expect("server id")
            .to_owned()
    }

    pub async fn image_id(&self, name: &str) -> String {
        let r = self
            .get(&self.admin, &format!("/image/v2/images?name={name}"))
            .await;
        r.body["images"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("image {name} exists: {}", r.text))
            .to_owned()
    }

    pub async fn server_id(&self, name: &str) -> String {
        let r = self
            .nova_get(
                &self.admin,
                &format!("/servers?all_tenants=1&name=^{name}$"),
                "",
            )
            .await;
        r.body["servers"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("server {name} exists: {}", r.text))
            .to_owned()
    }

    /// A server as an admin sees it at 2.100.
    pub async fn server(&self, id: &str) -> Value {
        let r = self
            .nova_get(&self.admin, &format!("/servers/{id}"), "2.100")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["server"].clone()
    }

    pub async fn image(&self, id: &str) -> Value {
        let r = self
            .get(&self.admin, &format!("/image/v2/images/{id}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body
    }

    /// Move the simulator's clock, as if `secs` seconds had passed.
    pub fn advance(&self, secs: f64) {
        self.sim.advance_clock(Duration::from_secs_f64(secs));
    }
}

/// Keys of a JSON object, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}
