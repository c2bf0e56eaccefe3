//! Differential conformance: the same raw HTTP conversation with the real
//! cloud (tests/cloud/cloud up) and with the simulator, compared answer by
//! answer — status codes, and the set of fields of every body (recursively:
//! server keys, flavor keys, address entries, …) with their JSON types.
//!
//! The simulator builds its JSON from its own model and the client reads it
//! with its own types; if both misremember a field, every simulator test still
//! passes. This test is the referee: a difference fails it unless it is listed
//! in [`KNOWN_DIFFERENCES`], which mirrors "Known differences from real
//! OpenStack (conformance test)" in docs/simulator.md.
//!
//! Runs only when the real cloud is there (same rule as tests/real_cloud.rs);
//! otherwise prints the SKIPPED line.
//!
//! ```text
//! tests/cloud/cloud up && cargo test --test conformance -- --nocapture
//! ```

#[path = "cloud/os_http.rs"]
mod os_http;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use os_http::{Auth, Res, Session, compact, real_cloud_or_skip, unique};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/cloud/conformance-scenario.yaml"
);
const LIMIT: Duration = Duration::from_secs(240);
const MICROVERSIONS: [&str; 3] = ["2.1", "2.47", "2.100"];

/// What a difference is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Different HTTP status.
    Status,
    /// A field the real cloud sends and the simulator does not.
    OnlyReal,
    /// A field the simulator sends and the real cloud does not.
    OnlySim,
    /// The same field with a different JSON type (null matches any type).
    Type,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Status => "status",
            Kind::OnlyReal => "only real",
            Kind::OnlySim => "only sim",
            Kind::Type => "type",
        }
    }
}

/// Differences accepted on purpose: (step glob, field path glob, kind, why).
/// Keep in step with docs/simulator.md, "Known differences from real
/// OpenStack (conformance test)".
const KNOWN_DIFFERENCES: &[(&str, &str, Kind, &str)] = &[
    (
        "GET /v2.0/ports*",
        "ports.[].binding:vif_details.*",
        Kind::OnlyReal,
        "vif_details is filled by the ML2 mechanism driver that bound the port; the simulator sends {}",
    ),
    (
        "GET /v2.0/ports*",
        "ports.[].dns_*",
        Kind::OnlySim,
        "dns-integration extension: not enabled in the harness's ML2, enabled in many real clouds",
    ),
    (
        "GET /v2.0/ports*",
        "ports.[].ip_allocation",
        Kind::OnlySim,
        "ip_allocation extension: not loaded by the harness's ML2 without service plugins",
    ),
    (
        "GET /v2.0/ports*",
        "ports.[].propagate_uplink_status",
        Kind::OnlySim,
        "uplink-status-propagation extension: not enabled in the harness's ML2",
    ),
    (
        "GET /v2.0/networks*",
        "networks.[].qinq",
        Kind::OnlyReal,
        "qinq / vlan_transparent: attributes of stock ML2 (2026.2) the simulator does not model",
    ),
    (
        "GET /v2.0/networks*",
        "networks.[].vlan_transparent",
        Kind::OnlyReal,
        "qinq / vlan_transparent: attributes of stock ML2 (2026.2) the simulator does not model",
    ),
    (
        "GET /v2.0/networks*",
        "networks.[].availability_zones*",
        Kind::OnlySim,
        "network_availability_zone extension: loaded with DHCP/OVN, not in the harness's ML2",
    ),
    (
        "GET /v2.0/networks*",
        "networks.[].is_default",
        Kind::OnlySim,
        "auto-allocated-topology extension: not loaded by the harness's ML2",
    ),
    (
        "GET /v2.0/networks*",
        "networks.[].l2_adjacency",
        Kind::OnlySim,
        "l2_adjacency extension: not loaded by the harness's ML2",
    ),
    (
        "GET /v2.0/security-groups*",
        "security_groups.[].security_group_rules.[].standard_attr_id",
        Kind::OnlyReal,
        "Neutron's internal id of a rule; the simulator omits it and azmove does not read it",
    ),
    (
        "GET /v2/images*",
        "*owner_specified.openstack.*",
        Kind::OnlyReal,
        "written by openstacksdk when the harness uploaded its image; snapshots inherit it",
    ),
    (
        "GET /v2/images/*snapshot*",
        "image_location",
        Kind::OnlyReal,
        "snapshot property set by nova's libvirt driver (copied by the harness's fake driver)",
    ),
    (
        "GET /v2/images/*snapshot*",
        "image_state",
        Kind::OnlyReal,
        "snapshot property set by nova's libvirt driver (copied by the harness's fake driver)",
    ),
    (
        "GET /v2/images/*snapshot*",
        "owner_id",
        Kind::OnlyReal,
        "snapshot property set by nova's libvirt driver (copied by the harness's fake driver)",
    ),
];

/// One answer, named by the step that produced it.
#[derive(Debug, Clone)]
struct Observation {
    step: String,
    status: u16,
    body: Value,
}

/// One difference between the two clouds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Difference {
    step: String,
    kind: Kind,
    path: String,
    real: String,
    sim: String,
}

#[tokio::test]
async fn simulator_answers_like_the_real_cloud() {
    let Some(clouds) = real_cloud_or_skip("simulator_answers_like_the_real_cloud").await else {
        return;
    };
    let real_admin = clouds.cloud("admin").expect("admin cloud").auth.clone();
    let real_member = clouds.cloud("member").expect("member cloud").auth.clone();

    let scenario = azmove::sim::Scenario::load(SCENARIO).expect("conformance scenario loads");
    let sim = azmove::sim::start(scenario, "127.0.0.1:0".parse().expect("loopback address"))
        .await
        .expect("simulator starts");
    let sim_auth = |user: &str| -> Auth {
        let c = sim
            .credentials(Some(user))
            .unwrap_or_else(|| panic!("the conformance scenario has no user {user}"));
        Auth {
            auth_url: c.auth_url,
            username: c.username,
            password: c.password.expose_secret().to_owned(),
            project_name: c.project,
            user_domain_name: c.domain.clone(),
            project_domain_name: c.domain,
        }
    };
    let (sim_admin, sim_member) = (sim_auth("admin"), sim_auth("demo"));

    let real = conversation("real", &real_admin, &real_member).await;
    let simulated = conversation("sim", &sim_admin, &sim_member).await;
    sim.shutdown().await;
    let real = real.unwrap_or_else(|e| panic!("conversation with the real cloud failed: {e}"));
    let simulated =
        simulated.unwrap_or_else(|e| panic!("conversation with the simulator failed: {e}"));

    let diffs = compare(&real, &simulated);
    let (known, unknown): (Vec<_>, Vec<_>) = diffs.iter().partition(|d| allowed(d).is_some());
    println!("{}", table("differences from the real cloud", &diffs));
    let used: BTreeSet<usize> = known.iter().filter_map(|d| allowed(d)).collect();
    for (i, (step, path, kind, _)) in KNOWN_DIFFERENCES.iter().enumerate() {
        if !used.contains(&i) {
            println!(
                "note: known difference not seen this run: {step} {path} ({})",
                kind.label()
            );
        }
    }
    println!(
        "{} steps compared, {} differences: {} known, {} unexpected",
        real.len(),
        diffs.len(),
        known.len(),
        unknown.len()
    );
    assert!(
        unknown.is_empty(),
        "the simulator differs from the real cloud in ways not listed in KNOWN_DIFFERENCES \
         (tests/conformance.rs and docs/simulator.md):\n{}",
        table(
            "unexpected differences",
            &unknown.into_iter().cloned().collect::<Vec<_>>()
        )
    );
}

/// Index of the allow-list entry covering `d`.
fn allowed(d: &Difference) -> Option<usize> {
    KNOWN_DIFFERENCES.iter().position(|(step, path, kind, _)| {
        *kind == d.kind && wildcard(step, &d.step) && wildcard(path, &d.path)
    })
}

/// `*` matches any run of characters; everything else is literal (step names
/// and field paths are full of `{}`, `[]` and `.`, which globs would interpret).
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The conversation: the same steps, in the same order, against one cloud.
/// Everything it creates is deleted before it returns.
async fn conversation(label: &str, admin_auth: &Auth, member_auth: &Auth) -> Res<Vec<Observation>> {
    let admin = Session::login(admin_auth)
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    let member = Session::login(member_auth)
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    let mut obs = Vec::new();
    let mut server = None;
    let mut image = None;
    let result = steps(&admin, &member, &mut obs, &mut server, &mut image).await;
    if let Some(id) = &server {
        let path = format!("/servers/{id}");
        let _ = admin.delete("compute", &path).await;
        if let Err(e) = admin.wait_gone("compute", &path, LIMIT).await {
            eprintln!("{label}: cleanup: {e}");
        }
    }
    if let Some(id) = &image {
        let _ = admin.delete("image", &format!("/v2/images/{id}")).await;
    }
    result.map_err(|e| format!("{label}: {e}"))?;
    Ok(obs)
}

async fn steps(
    admin: &Session,
    member: &Session,
    obs: &mut Vec<Observation>,
    server: &mut Option<String>,
    image: &mut Option<String>,
) -> Res<()> {
    let mut note = |step: &str, status: StatusCode, body: &Value| {
        obs.push(Observation {
            step: step.to_owned(),
            status: status.as_u16(),
            body: body.clone(),
        });
    };
    note(
        "POST /auth/tokens (member)",
        member.token_status,
        &member.token_body,
    );
    let r = member.get("compute", "", None).await?;
    note("GET compute version document", r.status, &r.body);

    let image_id = member
        .id_by_name("image", "/v2/images?name=cirros", "images", "cirros")
        .await?;
    let flavor = member
        .id_by_name("compute", "/flavors", "flavors", "m1.tiny")
        .await?;
    let net = member
        .id_by_name("network", "/v2.0/networks?name=net1", "networks", "net1")
        .await?;
    let name = unique("azmove-conf");
    let boot = json!({"server": {
        "name": name, "imageRef": image_id, "flavorRef": flavor, "availability_zone": "nova",
        "networks": [{"uuid": net}], "security_groups": [{"name": "default"}],
        "key_name": "azmove-key", "metadata": {"azmove_test": "conformance"}}});
    let r = member
        .post("compute", "/servers", Some("2.100"), &boot)
        .await?;
    note("POST /servers 2.100 (member)", r.status, &r.body);
    let id = r.body["server"]["id"]
        .as_str()
        .ok_or_else(|| {
            format!(
                "POST /servers: HTTP {} {}",
                r.status.as_u16(),
                compact(&r.body)
            )
        })?
        .to_owned();
    *server = Some(id.clone());
    member.wait_server(&id, &["ACTIVE"], LIMIT).await?;

    for mv in MICROVERSIONS {
        let r = member
            .get("compute", &format!("/servers/{id}"), Some(mv))
            .await?;
        note(
            &format!("GET /servers/{{id}} {mv} (member)"),
            r.status,
            &r.body,
        );
        let r = member
            .get("compute", &format!("/servers/detail?name={name}"), Some(mv))
            .await?;
        note(
            &format!("GET /servers/detail {mv} (member)"),
            r.status,
            &r.body,
        );
    }
    let r = admin
        .get("compute", &format!("/servers/{id}"), Some("2.100"))
        .await?;
    note("GET /servers/{id} 2.100 (admin)", r.status, &r.body);
    let r = member
        .get("compute", &format!("/servers?name={name}"), Some("2.100"))
        .await?;
    note("GET /servers 2.100 (member)", r.status, &r.body);

    let action = format!("/servers/{id}/action");
    let r = member
        .post(
            "compute",
            &action,
            Some("2.100"),
            &json!({"os-start": null}),
        )
        .await?;
    note(
        "POST os-start on an ACTIVE server (member)",
        r.status,
        &r.body,
    );
    let missing = uuid::Uuid::new_v4();
    let r = member
        .get("compute", &format!("/servers/{missing}"), Some("2.100"))
        .await?;
    note("GET /servers/{unknown id} (member)", r.status, &r.body);

    let body =
        json!({"createImage": {"name": format!("{name}-snap"), "metadata": {"azmove_source": id}}});
    let r = member
        .post("compute", &action, Some("2.100"), &body)
        .await?;
    note("POST createImage 2.100 (member)", r.status, &r.body);
    let snap = r.body["image_id"]
        .as_str()
        .ok_or_else(|| {
            format!(
                "createImage: HTTP {} {}",
                r.status.as_u16(),
                compact(&r.body)
            )
        })?
        .to_owned();
    *image = Some(snap.clone());
    member.wait_image_active(&snap, LIMIT).await?;
    let r = member
        .get("image", &format!("/v2/images/{snap}"), None)
        .await?;
    note("GET /v2/images/{snapshot} (member)", r.status, &r.body);
    let r = member
        .get("image", &format!("/v2/images/{image_id}"), None)
        .await?;
    note("GET /v2/images/{cirros} (member)", r.status, &r.body);

    let r = admin
        .get("compute", "/os-availability-zone/detail", Some("2.100"))
        .await?;
    note(
        "GET /os-availability-zone/detail (admin)",
        r.status,
        &r.body,
    );
    let r = member
        .get("compute", "/os-availability-zone", Some("2.100"))
        .await?;
    note("GET /os-availability-zone (member)", r.status, &r.body);

    for (step, service, path) in [
        (
            "GET /flavors/detail 2.100 (member)",
            "compute",
            "/flavors/detail",
        ),
        ("GET /limits 2.100 (member)", "compute", "/limits"),
        ("GET /os-keypairs 2.100 (member)", "compute", "/os-keypairs"),
        (
            "GET /v2/images?name=cirros (member)",
            "image",
            "/v2/images?name=cirros",
        ),
        (
            "GET /v2.0/networks?name=net1 (member)",
            "network",
            "/v2.0/networks?name=net1",
        ),
        (
            "GET /v2.0/security-groups?name=default (member)",
            "network",
            "/v2.0/security-groups?name=default",
        ),
    ] {
        let mv = (service == "compute").then_some("2.100");
        let r = member.get(service, path, mv).await?;
        note(step, r.status, &r.body);
    }

    let ports = format!("/v2.0/ports?device_id={id}");
    let r = member
        .call(Method::GET, "network", &ports, None, None)
        .await?;
    note("GET /v2.0/ports?device_id (member)", r.status, &r.body);
    let r = admin
        .call(Method::GET, "network", &ports, None, None)
        .await?;
    note("GET /v2.0/ports?device_id (admin)", r.status, &r.body);
    Ok(())
}

/// Objects whose keys are data (network names, host names, metadata keys),
/// not fields: their entries are compared under `*`.
fn is_map(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    matches!(
        last,
        "addresses" | "metadata" | "hosts" | "extra_specs" | "properties"
    ) || path.ends_with("hosts.*")
}

/// Every field path of a body with the JSON types seen there. Arrays
/// contribute the union of their elements under `[]`.
fn shape(v: &Value, path: &str, out: &mut BTreeMap<String, BTreeSet<&'static str>>) {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if !path.is_empty() {
        out.entry(path.to_owned()).or_default().insert(kind);
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(map) => {
            let as_map = is_map(path);
            for (k, child) in map {
                shape(child, &join(if as_map { "*" } else { k }), out);
            }
        }
        Value::Array(items) => {
            for child in items {
                shape(child, &join("[]"), out);
            }
        }
        _ => {}
    }
}

fn types(set: Option<&BTreeSet<&'static str>>) -> String {
    set.map(|s| s.iter().copied().collect::<Vec<_>>().join("|"))
        .unwrap_or_else(|| "-".to_owned())
}

fn compare(real: &[Observation], sim: &[Observation]) -> Vec<Difference> {
    let mut out = Vec::new();
    let sim_by_step: BTreeMap<&str, &Observation> =
        sim.iter().map(|o| (o.step.as_str(), o)).collect();
    for r in real {
        let Some(s) = sim_by_step.get(r.step.as_str()) else {
            out.push(Difference {
                step: r.step.clone(),
                kind: Kind::Status,
                path: String::new(),
                real: r.status.to_string(),
                sim: "(step not run)".to_owned(),
            });
            continue;
        };
        if r.status != s.status {
            out.push(Difference {
                step: r.step.clone(),
                kind: Kind::Status,
                path: String::new(),
                real: r.status.to_string(),
                sim: s.status.to_string(),
            });
        }
        let (mut rs, mut ss) = (BTreeMap::new(), BTreeMap::new());
        shape(&r.body, "", &mut rs);
        shape(&s.body, "", &mut ss);
        let paths: BTreeSet<&String> = rs.keys().chain(ss.keys()).collect();
        for p in paths {
            let (rt, st) = (rs.get(p), ss.get(p));
            let kind = match (rt, st) {
                (Some(_), None) => Some(Kind::OnlyReal),
                (None, Some(_)) => Some(Kind::OnlySim),
                (Some(a), Some(b)) => {
                    let a: BTreeSet<_> = a.iter().filter(|t| **t != "null").collect();
                    let b: BTreeSet<_> = b.iter().filter(|t| **t != "null").collect();
                    (!a.is_empty() && !b.is_empty() && a != b).then_some(Kind::Type)
                }
                (None, None) => None,
            };
            if let Some(kind) = kind {
                out.push(Difference {
                    step: r.step.clone(),
                    kind,
                    path: p.clone(),
                    real: types(rt),
                    sim: types(st),
                });
            }
        }
    }
    out.sort();
    out
}

fn table(title: &str, diffs: &[Difference]) -> String {
    let mut s = format!("== {title} ({})\n", diffs.len());
    if diffs.is_empty() {
        return s;
    }
    let w_step = diffs.iter().map(|d| d.step.len()).max().unwrap_or(4).max(4);
    let w_path = diffs.iter().map(|d| d.path.len()).max().unwrap_or(5).max(5);
    s.push_str(&format!(
        "{:<w_step$}  {:<9}  {:<w_path$}  {:<14}  sim\n",
        "step", "kind", "field", "real"
    ));
    for d in diffs {
        s.push_str(&format!(
            "{:<w_step$}  {:<9}  {:<w_path$}  {:<14}  {}\n",
            d.step,
            d.kind.label(),
            d.path,
            d.real,
            d.sim
        ));
    }
    s
}

#[test]
fn wildcard_only_knows_star() {
    assert!(wildcard(
        "GET /v2/images/*snapshot*",
        "GET /v2/images/{snapshot} (member)"
    ));
    assert!(wildcard("ports.[].dns_*", "ports.[].dns_name"));
    assert!(wildcard("a*", "a"));
    assert!(wildcard("exact", "exact"));
    assert!(!wildcard("ports.[].dns_*", "ports.x.dns_name"));
    assert!(!wildcard("*snapshot*", "GET /v2/images/{cirros}"));
    assert!(!wildcard("ab*ba", "aba"));
}

#[test]
fn shape_treats_data_keys_as_one_entry_and_arrays_as_unions() {
    let body = json!({"server": {
        "id": "x", "addresses": {"net1": [{"addr": "10.0.0.5", "version": 4}],
                                 "net2": [{"addr": "10.1.0.5", "OS-EXT-IPS:type": "fixed"}]},
        "metadata": {"a": "1"}, "fault": null}});
    let mut out = BTreeMap::new();
    shape(&body, "", &mut out);
    let keys: Vec<&str> = out.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "server",
            "server.addresses",
            "server.addresses.*",
            "server.addresses.*.[]",
            "server.addresses.*.[].OS-EXT-IPS:type",
            "server.addresses.*.[].addr",
            "server.addresses.*.[].version",
            "server.fault",
            "server.id",
            "server.metadata",
            "server.metadata.*",
        ]
    );
}

#[test]
fn compare_reports_status_missing_fields_and_types_but_not_null() {
    let real = vec![Observation {
        step: "s".into(),
        status: 200,
        body: json!({"a": 1, "b": "x", "c": null, "d": true}),
    }];
    let sim = vec![Observation {
        step: "s".into(),
        status: 202,
        body: json!({"a": "1", "c": 5, "e": 1}),
    }];
    let got: Vec<(Kind, String)> = compare(&real, &sim)
        .into_iter()
        .map(|d| (d.kind, d.path))
        .collect();
    assert_eq!(
        got,
        [
            (Kind::Status, String::new()),
            (Kind::OnlyReal, "b".to_owned()),
            (Kind::OnlyReal, "d".to_owned()),
            (Kind::OnlySim, "e".to_owned()),
            (Kind::Type, "a".to_owned()),
        ]
    );
}
