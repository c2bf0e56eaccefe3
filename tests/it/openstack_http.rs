//! The client over real HTTP against wiremock: authentication, version
//! discovery, pagination, retries, re-authentication, rate limiting, TLS
//! warnings and secret hygiene.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azmove::openstack::{
    Client, ClientOptions, CloudConfig, CreateServer, Error, ImageQuery, PortQuery, RateLimit,
    ServerQuery,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/openstack-api-samples"
);
const PASSWORD: &str = "pw-Zq9-very-secret";

fn sample_json(p: &str) -> Value {
    let bytes = std::fs::read(format!("{SAMPLES}/{p}")).expect("sample readable");
    serde_json::from_slice(&bytes).expect("sample is JSON")
}

/// Keystone answering each login with a new token (`tok-1`, `tok-2`, …).
struct Keystone {
    base: String,
    issued: Arc<AtomicUsize>,
    lifetime_s: i64,
    admin: bool,
}

impl Respond for Keystone {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(201)
            .insert_header("X-Subject-Token", format!("tok-{n}").as_str())
            .insert_header("x-openstack-request-id", "req-keystone")
            .set_body_json(token_body(&self.base, self.lifetime_s, self.admin))
    }
}

fn token_body(base: &str, lifetime_s: i64, admin: bool) -> Value {
    let issued = time::OffsetDateTime::now_utc();
    let expires = issued + time::Duration::seconds(lifetime_s);
    let fmt = &time::format_description::well_known::Rfc3339;
    let endpoint = |url: String| json!([{"id": "e1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": url}]);
    json!({"token": {
        "methods": ["password"],
        "issued_at": issued.format(fmt).expect("formats"),
        "expires_at": expires.format(fmt).expect("formats"),
        "roles": [{"id": "r1", "name": if admin { "admin" } else { "member" }}],
        "project": {"id": "proj", "name": "demo", "domain": {"id": "default", "name": "Default"}},
        "user": {"id": "u1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
        "catalog": [
            {"type": "compute", "name": "nova", "id": "c", "endpoints": endpoint(format!("{base}/compute/v2.1"))},
            {"type": "image", "name": "glance", "id": "i", "endpoints": endpoint(format!("{base}/image"))},
            {"type": "network", "name": "neutron", "id": "n", "endpoints": endpoint(format!("{base}/network"))},
            {"type": "block-storage", "name": "cinder", "id": "v", "endpoints": endpoint(format!("{base}/volume/v3/proj"))}
        ]
    }})
}

fn version_doc(max: &str) -> Value {
    let mut doc = sample_json("nova/versions/v21-version-get-resp.json");
    doc["version"]["version"] = json!(max);
    doc
}

struct Cloud {
    server: MockServer,
    logins: Arc<AtomicUsize>,
}

async fn cloud_with(max_version: &str, lifetime_s: i64, admin: bool) -> Cloud {
    let server = MockServer::start().await;
    let logins = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/identity/v3/auth/tokens"))
        .respond_with(Keystone {
            base: server.uri(),
            issued: logins.clone(),
            lifetime_s,
            admin,
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(version_doc(max_version)))
        .mount(&server)
        .await;
    Cloud { server, logins }
}

async fn cloud() -> Cloud {
    cloud_with("2.104", 3600, false).await
}

fn config(server: &MockServer) -> CloudConfig {
    CloudConfig::password(
        format!("{}/identity", server.uri()),
        "demo",
        PASSWORD,
        "demo",
        "Default",
    )
}

fn options() -> ClientOptions {
    ClientOptions {
        requests_per_second: None,
        retry_base_delay: Duration::from_millis(5),
        retry_max_delay: Duration::from_millis(20),
        max_retries: 3,
        timeout: Duration::from_secs(10),
        page_size: 2,
        ..ClientOptions::default()
    }
}

async fn connect(c: &Cloud) -> Client {
    Client::connect(config(&c.server), options())
        .await
        .expect("connects")
}

fn server_json(id: &str) -> Value {
    let mut s = sample_json("nova/servers/v2.100/servers-details-resp.json")["servers"][0].clone();
    s["id"] = json!(id);
    s["name"] = json!(format!("vm-{id}"));
    s
}

fn server_page(base: &str, ids: &[&str], next: Option<&str>) -> Value {
    let servers: Vec<Value> = ids.iter().map(|id| server_json(id)).collect();
    let links: Vec<Value> = next
        .map(|m| json!({"rel": "next", "href": format!("{base}/compute/v2.1/servers/detail?limit=2&marker={m}")}))
        .into_iter()
        .collect();
    json!({"servers": servers, "servers_links": links})
}

/// Log lines at every level, collected for the test that installs it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        // callsites first hit under another test's subscriber keep that
        // interest until the cache is rebuilt
        tracing::callsite::rebuild_interest_cache();
        guard
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

// ------------------------------------------------------------ connect

#[tokio::test]
async fn connect_negotiates_the_microversion_and_reads_roles() {
    let c = cloud_with("2.110", 3600, true).await;
    let client = connect(&c).await;
    assert_eq!(client.microversion().to_string(), "2.104");
    assert!(client.capabilities().is_admin);
    assert_eq!(client.project_id(), Some("proj"));
    assert_eq!(c.logins.load(Ordering::SeqCst), 1);
    // login + version document
    assert_eq!(client.requests_sent(), 2);

    let older = cloud_with("2.79", 3600, false).await;
    let client = connect(&older).await;
    assert_eq!(client.microversion().to_string(), "2.79");
    assert!(!client.capabilities().is_admin);
}

#[tokio::test]
async fn connect_refuses_a_compute_api_without_microversions() {
    let c = cloud_with("", 3600, false).await;
    let err = Client::connect(config(&c.server), options())
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::UnsupportedCompute { .. }), "{err:?}");
    assert!(err.to_string().contains("2.1"), "{err}");
}

#[tokio::test]
async fn version_discovery_falls_back_from_a_project_url() {
    let server = MockServer::start().await;
    let mut body = token_body(&server.uri(), 3600, false);
    body["token"]["catalog"][0]["endpoints"][0]["url"] =
        json!(format!("{}/compute/v2.1/proj", server.uri()));
    Mock::given(method("POST"))
        .and(path("/identity/v3/auth/tokens"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("X-Subject-Token", "t")
                .set_body_json(body),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/proj/"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_string("404 Not Found\n\nThe resource could not be found."),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(version_doc("2.96")))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::connect(config(&server), options())
        .await
        .expect("connects");
    assert_eq!(client.microversion().to_string(), "2.96");
}

#[tokio::test]
async fn wrong_password_is_a_clear_login_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/identity/v3/auth/tokens"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("x-openstack-request-id", "req-login-1")
                .set_body_json(json!({"error": {"code": 401, "title": "Unauthorized",
                    "message": "The request you have made requires authentication."}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = Client::connect(config(&server), options())
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(text.contains("could not log in"), "{text}");
    assert!(text.contains("requires authentication"), "{text}");
    assert!(text.contains("req-login-1"), "{text}");
    assert!(!text.contains(PASSWORD) && !format!("{err:?}").contains(PASSWORD));
}

// ------------------------------------------------------------ pagination

#[tokio::test]
async fn server_list_follows_three_pages() {
    let c = cloud().await;
    let base = c.server.uri();
    let client = connect(&c).await;
    for (marker, ids, next) in [
        (None, vec!["s1", "s2"], Some("s2")),
        (Some("s2"), vec!["s3", "s4"], Some("s4")),
        (Some("s4"), vec!["s5"], None),
    ] {
        let mut mock = Mock::given(method("GET"))
            .and(path("/compute/v2.1/servers/detail"))
            .and(query_param("limit", "2"))
            .and(query_param("all_tenants", "True"))
            .and(header("OpenStack-API-Version", "compute 2.104"))
            .and(header("X-OpenStack-Nova-API-Version", "2.104"))
            .and(header("X-Auth-Token", "tok-1"));
        mock = match marker {
            Some(m) => mock.and(query_param("marker", m)),
            None => mock.and(query_param_is_missing("marker")),
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(server_page(&base, &ids, next)))
            .expect(1)
            .mount(&c.server)
            .await;
    }
    let servers = client
        .list_servers(&ServerQuery {
            all_tenants: true,
            ..ServerQuery::default()
        })
        .await
        .expect("lists");
    let ids: Vec<&str> = servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2", "s3", "s4", "s5"]);
    assert_eq!(
        servers[4].pinned_availability_zone.as_deref(),
        Some("us-west")
    );
}

#[tokio::test]
async fn changes_before_needs_2_66() {
    let c = cloud_with("2.65", 3600, false).await;
    let client = connect(&c).await;
    let sent = client.requests_sent();
    let err = client
        .list_servers(&ServerQuery {
            changes_before: Some("2024-01-01T00:00:00Z".into()),
            ..ServerQuery::default()
        })
        .await
        .expect_err("too old");
    assert!(matches!(err, Error::MicroversionTooOld { .. }), "{err:?}");
    assert_eq!(client.requests_sent(), sent, "nothing was sent");
}

#[tokio::test]
async fn image_list_follows_glance_next_links_with_property_filters() {
    let c = cloud().await;
    let client = connect(&c).await;
    let image = |id: &str| {
        let mut i = sample_json("glance/v2/image-show-response.json");
        i["id"] = json!(id);
        i["azmove_source"] = json!("src-1");
        i
    };
    Mock::given(method("GET"))
        .and(path("/image/v2/images"))
        .and(query_param("azmove_source", "src-1"))
        .and(query_param("updated_at", "gte:2024-01-01T00:00:00Z"))
        .and(query_param_is_missing("marker"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "images": [image("i1"), image("i2")],
            "next": "/v2/images?azmove_source=src-1&limit=2&marker=i2", "first": "/v2/images", "schema": "/v2/schemas/images"
        })))
        .expect(1)
        .mount(&c.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/image/v2/images"))
        .and(query_param("marker", "i2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "images": [image("i3")], "first": "/v2/images", "schema": "/v2/schemas/images"
        })))
        .expect(1)
        .mount(&c.server)
        .await;
    let mut q = ImageQuery::with_property("azmove_source", "src-1");
    q.updated_since = Some("2024-01-01T00:00:00Z".into());
    let images = client.list_images(&q).await.expect("lists");
    let ids: Vec<&str> = images.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["i1", "i2", "i3"]);
    assert_eq!(
        images[0]
            .properties
            .get("azmove_source")
            .map(String::as_str),
        Some("src-1")
    );
}

#[tokio::test]
async fn ports_of_many_servers_in_one_call() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("GET"))
        .and(path("/network/v2.0/ports"))
        .respond_with(move |req: &Request| {
            let devices: Vec<String> = req
                .url
                .query_pairs()
                .filter(|(k, _)| k == "device_id")
                .map(|(_, v)| v.into_owned())
                .collect();
            assert_eq!(devices, ["a", "b", "c"]);
            ResponseTemplate::new(200)
                .set_body_json(sample_json("neutron/ports/ports-list-response.json"))
        })
        .expect(1)
        .mount(&c.server)
        .await;
    let ports = client
        .list_ports(&PortQuery {
            device_ids: vec!["a".into(), "b".into(), "c".into()],
            network_id: None,
        })
        .await
        .expect("lists");
    assert_eq!(ports.len(), 2);
}

// ------------------------------------------------------------ not found

#[tokio::test]
async fn missing_things_are_none_or_already_gone() {
    let c = cloud().await;
    let client = connect(&c).await;
    let nova_404 = ResponseTemplate::new(404).set_body_json(
        json!({"itemNotFound": {"message": "Instance x could not be found.", "code": 404}}),
    );
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/servers/x"))
        .respond_with(nova_404.clone())
        .mount(&c.server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/compute/v2.1/servers/x"))
        .respond_with(nova_404)
        .mount(&c.server)
        .await;
    let glance_404 = ResponseTemplate::new(404).set_body_raw(
        "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1>No image found with ID i</body></html>",
        "text/html",
    );
    Mock::given(method("GET"))
        .and(path("/image/v2/images/i"))
        .respond_with(glance_404.clone())
        .mount(&c.server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/image/v2/images/i"))
        .respond_with(glance_404)
        .mount(&c.server)
        .await;

    assert_eq!(client.get_server("x").await.expect("ok"), None);
    client.delete_server("x").await.expect("already gone");
    assert_eq!(client.get_image("i").await.expect("ok"), None);
    client.delete_image("i").await.expect("already gone");
}

// ------------------------------------------------------------ microversion paths

#[tokio::test]
async fn create_image_reads_the_body_from_2_45_and_the_header_before() {
    for (max, answer) in [
        (
            "2.104",
            ResponseTemplate::new(202).set_body_json(json!({"image_id": "img-new"})),
        ),
        (
            "2.44",
            ResponseTemplate::new(202)
                .insert_header("Location", "http://glance.example.com/v2/images/img-new"),
        ),
    ] {
        let c = cloud_with(max, 3600, false).await;
        let client = connect(&c).await;
        Mock::given(method("POST"))
            .and(path("/compute/v2.1/servers/s1/action"))
            .and(header("X-OpenStack-Nova-API-Version", max))
            .and(body_json(
                json!({"createImage": {"name": "snap", "metadata": {"azmove_source": "s1"}}}),
            ))
            .respond_with(answer)
            .expect(1)
            .mount(&c.server)
            .await;
        let meta = BTreeMap::from([("azmove_source".to_owned(), "s1".to_owned())]);
        assert_eq!(
            client
                .create_image("s1", "snap", &meta)
                .await
                .expect("snapshot"),
            "img-new",
            "at {max}"
        );
    }
}

#[tokio::test]
async fn unshelve_into_an_az_on_both_sides_of_2_77() {
    let c = cloud_with("2.77", 3600, false).await;
    let client = connect(&c).await;
    Mock::given(method("POST"))
        .and(path("/compute/v2.1/servers/s1/action"))
        .and(body_json(
            json!({"unshelve": {"availability_zone": "nova2"}}),
        ))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&c.server)
        .await;
    client
        .unshelve("s1", Some("nova2"))
        .await
        .expect("unshelved");

    let old = cloud_with("2.76", 3600, false).await;
    let client = connect(&old).await;
    let err = client
        .unshelve("s1", Some("nova2"))
        .await
        .expect_err("too old");
    assert!(err.to_string().contains("2.77"), "{err}");
}

#[tokio::test]
async fn pinned_az_update_needs_2_104() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("PUT"))
        .and(path("/compute/v2.1/servers/s1"))
        .and(body_json(
            json!({"server": {"pinned_availability_zone": null}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(sample_json("nova/servers/v2.104/server-update-resp.json")),
        )
        .expect(1)
        .mount(&c.server)
        .await;
    let s = client.update_pinned_az("s1", None).await.expect("unpinned");
    assert_eq!(s.pinned_availability_zone, None);

    let old = cloud_with("2.103", 3600, false).await;
    let client = connect(&old).await;
    assert!(matches!(
        client.update_pinned_az("s1", Some("nova2")).await,
        Err(Error::MicroversionTooOld { .. })
    ));
}

// ------------------------------------------------------------ retries

#[tokio::test]
async fn rate_limited_429_honours_retry_after() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&c.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(sample_json("nova/limits/limit-get-resp.json")),
        )
        .expect(1)
        .mount(&c.server)
        .await;
    let start = std::time::Instant::now();
    let quota = client.limits().await.expect("succeeds after the wait");
    assert_eq!(quota.instances.limit, Some(10));
    // The backoff would have waited at most 20 ms; the header asked for 1 s.
    // A lower bound only: a busy machine can make it longer, never shorter.
    // (Not read from the log: tracing's per-callsite interest cache is
    // shared by the tests running beside this one, so a captured line can
    // be missed.)
    let waited = start.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(950),
        "retried after {waited:?}, before the 1 s Retry-After"
    );
}

#[tokio::test]
async fn rate_limited_429_without_retry_after_backs_off_then_gives_up() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .respond_with(ResponseTemplate::new(429).set_body_string("Too Many Requests"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&c.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(sample_json("nova/limits/limit-get-resp.json")),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&c.server)
        .await;
    client
        .limits()
        .await
        .expect("succeeds on the third attempt");

    Mock::given(method("GET"))
        .and(path("/compute/v2.1/os-availability-zone"))
        .respond_with(ResponseTemplate::new(429))
        .expect(4)
        .mount(&c.server)
        .await;
    let err = client
        .list_availability_zones(false)
        .await
        .expect_err("gives up");
    assert_eq!(err.status(), Some(429));
}

#[tokio::test]
async fn conflict_while_a_task_runs_is_retried() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("POST"))
        .and(path("/compute/v2.1/servers/s1/action"))
        .and(body_json(json!({"os-stop": null})))
        .respond_with(
            ResponseTemplate::new(409).set_body_json(json!({"conflictingRequest": {"code": 409,
            "message": "Cannot 'stop' instance s1 while it is in task_state image_snapshot"}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&c.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/compute/v2.1/servers/s1/action"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .with_priority(2)
        .mount(&c.server)
        .await;
    client
        .stop_server("s1")
        .await
        .expect("stopped after the task ended");
}

#[tokio::test]
async fn conflict_on_a_vm_state_is_not_retried() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("POST"))
        .and(path("/compute/v2.1/servers/s1/action"))
        .respond_with(
            ResponseTemplate::new(409)
                .insert_header("x-compute-request-id", "req-409")
                .set_body_json(json!({"conflictingRequest": {"code": 409,
                "message": "Cannot 'stop' instance s1 while it is in vm_state stopped"}})),
        )
        .expect(1)
        .mount(&c.server)
        .await;
    let err = client.stop_server("s1").await.expect_err("conflict");
    assert!(err.is_conflict());
    assert_eq!(err.request_id(), Some("req-409"));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_with_the_request_id() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/servers/s1"))
        .respond_with(
            ResponseTemplate::new(500)
                .insert_header("x-openstack-request-id", "req-500-abc")
                .set_body_json(
                    json!({"computeFault": {"code": 500, "message": "Unexpected API Error."}}),
                ),
        )
        .expect(4)
        .mount(&c.server)
        .await;
    let err = client.get_server("s1").await.expect_err("fails");
    let text = err.to_string();
    assert_eq!(err.status(), Some(500));
    assert!(text.contains("req-500-abc"), "{text}");
    assert!(text.contains("Unexpected API Error."), "{text}");
    assert!(text.contains("GET /compute/v2.1/servers/s1"), "{text}");
    assert!(text.contains("500 Internal Server Error"), "{text}");
}

#[tokio::test]
async fn a_create_that_failed_with_500_is_not_repeated() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("POST"))
        .and(path("/compute/v2.1/servers"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"computeFault": {"code": 500, "message": "boom"}})),
        )
        .expect(1)
        .mount(&c.server)
        .await;
    let req = CreateServer {
        name: "n".into(),
        flavor_ref: "1".into(),
        image_ref: Some("i".into()),
        ..CreateServer::default()
    };
    assert_eq!(
        client
            .create_server(&req)
            .await
            .expect_err("fails")
            .status(),
        Some(500)
    );
}

// ------------------------------------------------------------ tokens

#[tokio::test]
async fn a_401_reissues_the_token_once_and_succeeds() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .and(header("X-Auth-Token", "tok-1"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": {"code": 401, "title": "Unauthorized",
            "message": "The request you have made requires authentication."}})),
        )
        .expect(1)
        .mount(&c.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .and(header("X-Auth-Token", "tok-2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(sample_json("nova/limits/limit-get-resp.json")),
        )
        .expect(2)
        .mount(&c.server)
        .await;
    client.limits().await.expect("succeeds with the new token");
    // The new token is kept for what follows.
    client.limits().await.expect("succeeds");
    assert_eq!(c.logins.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_second_401_is_a_clear_error() {
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .respond_with(ResponseTemplate::new(401).insert_header("x-openstack-request-id", "req-401").set_body_json(
            json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}),
        ))
        .expect(2)
        .mount(&c.server)
        .await;
    let err = client.limits().await.expect_err("refused twice");
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("refused again"), "{text}");
    assert!(text.contains("req-401"), "{text}");
    assert_eq!(c.logins.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_token_about_to_expire_is_reissued_before_use() {
    // A token whose lifetime is zero is stale at once: each call logs in first.
    let c = cloud_with("2.104", 0, false).await;
    let client = connect(&c).await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(sample_json("nova/limits/limit-get-resp.json")),
        )
        .mount(&c.server)
        .await;
    client.limits().await.expect("ok");
    client.limits().await.expect("ok");
    assert_eq!(c.logins.load(Ordering::SeqCst), 3);

    // A token valid for an hour is reused.
    let c = cloud_with("2.104", 3600, false).await;
    let client = connect(&c).await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(sample_json("nova/limits/limit-get-resp.json")),
        )
        .mount(&c.server)
        .await;
    client.limits().await.expect("ok");
    client.limits().await.expect("ok");
    assert_eq!(c.logins.load(Ordering::SeqCst), 1);
}

// ------------------------------------------------------------ rate limit

#[tokio::test]
async fn every_request_goes_through_the_rate_limiter() {
    let c = cloud().await;
    let limit = RateLimit::virtual_per_second(5.0).expect("valid rate");
    let client = Client::connect(
        config(&c.server),
        ClientOptions {
            rate_limit: Some(limit.clone()),
            ..options()
        },
    )
    .await
    .expect("connects");
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(sample_json("nova/limits/limit-get-resp.json")),
        )
        .mount(&c.server)
        .await;
    let calls: Vec<_> = (0..12).map(|_| client.limits()).collect();
    for r in futures::future::join_all(calls).await {
        r.expect("ok");
    }
    let admitted = limit.admitted_at();
    assert_eq!(
        admitted.len() as u64,
        client.requests_sent(),
        "login and discovery are limited too"
    );
    assert_eq!(admitted.len(), 14);
    for pair in admitted.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(200), "{pair:?}");
    }
    // 14 requests at 5/s: the last leaves 13 intervals after the first.
    assert_eq!(admitted[13] - admitted[0], Duration::from_millis(200 * 13));
}

// ------------------------------------------------------------ TLS

#[tokio::test]
async fn disabling_tls_verification_warns() {
    let capture = Capture::default();
    let _guard = capture.install();
    let c = cloud().await;
    let mut cfg = config(&c.server);
    cfg.tls.verify = false;
    Client::connect(cfg, options()).await.expect("connects");
    let logs = capture.text();
    assert!(
        logs.contains("WARN") && logs.contains("TLS certificate verification is disabled"),
        "{logs}"
    );

    let capture = Capture::default();
    let _guard = capture.install();
    Client::connect(config(&c.server), options())
        .await
        .expect("connects");
    assert!(!capture.text().contains("verification is disabled"));
}

#[tokio::test]
async fn unreadable_ca_bundle_is_a_clear_error() {
    let c = cloud().await;
    let mut cfg = config(&c.server);
    cfg.tls.cacert = Some("/nonexistent/ca.pem".into());
    let err = Client::connect(cfg, options()).await.expect_err("fails");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

// ------------------------------------------------------------ secrets

#[tokio::test]
async fn secrets_never_reach_logs_errors_or_debug_output() {
    let capture = Capture::default();
    let _guard = capture.install();
    let c = cloud().await;
    let client = connect(&c).await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/servers/detail"))
        .respond_with(ResponseTemplate::new(200).set_body_json(server_page(
            &c.server.uri(),
            &["s1"],
            None,
        )))
        .mount(&c.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/limits"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": {"code": 401, "message": "no"}})),
        )
        .mount(&c.server)
        .await;
    client
        .list_servers(&ServerQuery::default())
        .await
        .expect("lists");
    let err = client.limits().await.expect_err("401 twice");

    // An application credential whose login fails.
    let app_secret = "appcred-secret-Xy7";
    let failing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": {"code": 401, "message": "bad secret"}})),
        )
        .mount(&failing)
        .await;
    let app_cfg =
        CloudConfig::application_credential(format!("{}/v3", failing.uri()), "cred-id", app_secret);
    let app_err = Client::connect(app_cfg.clone(), options())
        .await
        .expect_err("refused");

    let logs = capture.text();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "the capture works: {logs}"
    );
    assert!(
        logs.contains("/compute/v2.1/servers/detail"),
        "requests are logged: {logs}"
    );
    let outputs = [
        logs,
        err.to_string(),
        format!("{err:?}"),
        app_err.to_string(),
        format!("{app_err:?}"),
        format!("{:?}", config(&c.server)),
        format!("{app_cfg:?}"),
        format!("{client:?}"),
    ];
    for out in &outputs {
        for secret in [PASSWORD, "tok-1", "tok-2", "tok-3", app_secret] {
            assert!(!out.contains(secret), "{secret} leaked into: {out}");
        }
    }
}
