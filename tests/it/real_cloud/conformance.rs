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
//! Besides shapes, the conversation records *facts*: outcomes of the
//! conflict cases (status codes, Nova's messages with ids masked, what an
//! image list finds), which must be equal on both clouds. The facts the
//! simulator gives are also checked on their own against what Nova's and
//! Glance's sources say ([`EXPECTED_FACTS`]), so that half runs everywhere.
//!
//! Runs only when the real cloud is there (same rule as tests/it/real_cloud/end_to_end.rs);
//! otherwise prints the SKIPPED line.
//!
//! ```text
//! tests/cloud/cloud up && cargo test --test it real_cloud::conformance:: -- --ignored --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::os_http::{Auth, Res, Session, compact, real_cloud_or_skip, unique};
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

/// Outcomes of the conflict cases, by name: equal on both clouds.
type Facts = BTreeMap<String, String>;

/// The facts as Nova 34 and Glance 33 give them (nova/compute/api.py
/// `check_instance_state`, api/openstack/common.py
/// `raise_http_conflict_for_instance_invalid_state`, glance/api/v2/images.py
/// `index` with `os_hidden`).
const EXPECTED_FACTS: &[(&str, &str)] = &[
    ("createImage during a snapshot: status", "409"),
    (
        "createImage during a snapshot: message",
        "Cannot 'createImage' instance <server> while it is in task_state <snapshot task>",
    ),
    ("metadata POST on SHELVED_OFFLOADED: status", "409"),
    (
        "metadata POST on SHELVED_OFFLOADED: message",
        "Cannot 'update metadata' instance <server> while it is in vm_state shelved_offloaded",
    ),
    ("metadata DELETE on SHELVED_OFFLOADED: status", "409"),
    (
        "metadata DELETE on SHELVED_OFFLOADED: message",
        "Cannot 'delete metadata' instance <server> while it is in vm_state shelved_offloaded",
    ),
    ("hidden image: status after create", "queued"),
    ("hidden image: os_hidden after create", "true"),
    (
        "hidden image: found by os_hidden=true and its property",
        "true",
    ),
    (
        "hidden image: found by a plain list with its property",
        "false",
    ),
    ("hidden image: PATCH moved updated_at forward", "true"),
    (
        "hidden image: found by os_hidden=true after DELETE",
        "false",
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
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
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
    let (real, real_facts) =
        real.unwrap_or_else(|e| panic!("conversation with the real cloud failed: {e}"));
    let (simulated, sim_facts) =
        simulated.unwrap_or_else(|e| panic!("conversation with the simulator failed: {e}"));
    let fact_diffs = fact_differences(&real_facts, &sim_facts);
    println!(
        "{}",
        fact_table("facts that differ (real | sim)", &fact_diffs)
    );

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
         (tests/it/real_cloud/conformance.rs and docs/simulator.md):\n{}",
        table(
            "unexpected differences",
            &unknown.into_iter().cloned().collect::<Vec<_>>()
        )
    );
    assert!(
        fact_diffs.is_empty(),
        "the conflict cases end differently on the two clouds:\n{}",
        fact_table("facts that differ (real | sim)", &fact_diffs)
    );
}

/// The simulator's half of the conversation, with no real cloud needed:
/// it runs, and its facts are the ones Nova's and Glance's sources give.
#[tokio::test]
async fn simulator_half_of_the_conversation_gives_novas_and_glances_answers() {
    let scenario = azmove::sim::Scenario::load(SCENARIO).expect("conformance scenario loads");
    let sim = azmove::sim::start(scenario, "127.0.0.1:0".parse().expect("loopback address"))
        .await
        .expect("simulator starts");
    let auth = |user: &str| -> Auth {
        let c = sim.credentials(Some(user)).expect("scenario user");
        Auth {
            auth_url: c.auth_url,
            username: c.username,
            password: c.password.expose_secret().to_owned(),
            project_name: c.project,
            user_domain_name: c.domain.clone(),
            project_domain_name: c.domain,
        }
    };
    let result = conversation("sim", &auth("admin"), &auth("demo")).await;
    let stats = sim.stats();
    sim.shutdown().await;
    let (obs, facts) = result.unwrap_or_else(|e| panic!("conversation with the simulator: {e}"));
    assert!(obs.len() > 20, "{} steps", obs.len());
    let expected: Facts = EXPECTED_FACTS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let diffs = fact_differences(&expected, &facts);
    assert!(
        diffs.is_empty(),
        "{}",
        fact_table("simulator facts that differ (expected | sim)", &diffs)
    );
    // Everything the conversation made is gone again.
    let made = stats.created.iter().filter(|e| e.kind != "port").count();
    let gone = stats.deleted.iter().filter(|e| e.kind != "port").count();
    assert_eq!(
        made, gone,
        "created {:?}, deleted {:?}",
        stats.created, stats.deleted
    );
}

/// Facts missing on one side or with different values.
fn fact_differences(real: &Facts, sim: &Facts) -> Vec<(String, String, String)> {
    let keys: BTreeSet<&String> = real.keys().chain(sim.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (r, s) = (real.get(k), sim.get(k));
            (r != s).then(|| {
                let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(missing)".into());
                (k.clone(), show(r), show(s))
            })
        })
        .collect()
}

fn fact_table(title: &str, diffs: &[(String, String, String)]) -> String {
    let mut s = format!("== {title} ({})\n", diffs.len());
    for (k, r, m) in diffs {
        s.push_str(&format!("{k}\n    {r}\n    {m}\n"));
    }
    s
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
async fn conversation(
    label: &str,
    admin_auth: &Auth,
    member_auth: &Auth,
) -> Res<(Vec<Observation>, Facts)> {
    let admin = Session::login(admin_auth)
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    let member = Session::login(member_auth)
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    let mut obs = Vec::new();
    let mut facts = Facts::new();
    let mut server = None;
    let mut image = None;
    let mut hidden = None;
    let result = steps(
        &admin,
        &member,
        &mut obs,
        &mut facts,
        &mut server,
        &mut image,
    )
    .await;
    let result = match result {
        Ok(()) => {
            conflicts(
                &member,
                &mut obs,
                &mut facts,
                server.as_deref(),
                &mut hidden,
            )
            .await
        }
        Err(e) => Err(e),
    };
    if let Some(id) = &server {
        let path = format!("/servers/{id}");
        let _ = admin.delete("compute", &path).await;
        if let Err(e) = admin.wait_gone("compute", &path, LIMIT).await {
            eprintln!("{label}: cleanup: {e}");
        }
    }
    for id in [&image, &hidden].into_iter().flatten() {
        let _ = admin.delete("image", &format!("/v2/images/{id}")).await;
    }
    result.map_err(|e| format!("{label}: {e}"))?;
    Ok((obs, facts))
}

async fn steps(
    admin: &Session,
    member: &Session,
    obs: &mut Vec<Observation>,
    facts: &mut Facts,
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
    // A second snapshot while the first one's task runs: Nova's 409 names
    // the task (image_snapshot_pending at first on a real cloud; the
    // simulator starts in image_snapshot), so the task is masked.
    let r = member
        .post(
            "compute",
            &action,
            Some("2.100"),
            &json!({"createImage": {"name": format!("{name}-snap2")}}),
        )
        .await?;
    note(
        "POST createImage during a snapshot (member)",
        r.status,
        &r.body,
    );
    facts.insert(
        "createImage during a snapshot: status".into(),
        r.status.as_u16().to_string(),
    );
    let message = nova_message(&r.body, &id);
    let message = SNAPSHOT_TASKS
        .iter()
        .find_map(|t| {
            message
                .strip_suffix(&format!("task_state {t}"))
                .map(|head| format!("{head}task_state <snapshot task>"))
        })
        .unwrap_or(message);
    facts.insert("createImage during a snapshot: message".into(), message);
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

/// Task states of a snapshot, as Nova's 409 may name them.
const SNAPSHOT_TASKS: [&str; 4] = [
    "image_snapshot_pending",
    "image_snapshot",
    "image_pending_upload",
    "image_uploading",
];

/// The message of a Nova error body, with the server's id masked.
fn nova_message(body: &Value, server: &str) -> String {
    body.as_object()
        .and_then(|o| o.values().next())
        .and_then(|f| f["message"].as_str())
        .map(|m| m.replace(server, "<server>"))
        .unwrap_or_else(|| format!("(no Nova error body: {})", compact(body)))
}

/// `PATCH /v2/images/{id}` with Glance's JSON-patch content type (which
/// `Session::call` cannot send).
async fn patch_image(s: &Session, id: &str, ops: &Value) -> Res<(StatusCode, Value)> {
    let url = format!("{}/v2/images/{id}", s.endpoint("image")?);
    let resp = s
        .http
        .patch(&url)
        .header("X-Auth-Token", &s.token)
        .header("Accept", "application/json")
        .header(
            "Content-Type",
            "application/openstack-images-v2.1-json-patch",
        )
        .body(ops.to_string())
        .send()
        .await
        .map_err(|e| format!("PATCH {url}: {e}"))?;
    let status = resp.status();
    let body = resp.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

/// The conflict cases, after the main steps: metadata writes on a
/// SHELVED_OFFLOADED server, and a hidden Glance record (azmove's claims)
/// found by `os_hidden=true` and its property only, whose PATCH moves
/// `updated_at`, gone from lists once deleted. Seconds on both clouds.
async fn conflicts(
    member: &Session,
    obs: &mut Vec<Observation>,
    facts: &mut Facts,
    server: Option<&str>,
    hidden: &mut Option<String>,
) -> Res<()> {
    let id = server.ok_or("no server to shelve")?;
    let r = member
        .post(
            "compute",
            &format!("/servers/{id}/action"),
            Some("2.100"),
            &json!({"shelve": null}),
        )
        .await?;
    obs.push(Observation {
        step: "POST shelve (member)".into(),
        status: r.status.as_u16(),
        body: r.body.clone(),
    });
    member
        .wait_server(id, &["SHELVED_OFFLOADED"], LIMIT)
        .await?;
    let writes = [
        (
            "metadata POST on SHELVED_OFFLOADED",
            Method::POST,
            format!("/servers/{id}/metadata"),
            Some(json!({"metadata": {"azmove_test": "again"}})),
        ),
        (
            "metadata DELETE on SHELVED_OFFLOADED",
            Method::DELETE,
            format!("/servers/{id}/metadata/azmove_test"),
            None,
        ),
    ];
    for (what, method, path, body) in writes {
        let r = member
            .call(method, "compute", &path, Some("2.100"), body.as_ref())
            .await?;
        obs.push(Observation {
            step: format!("{what} (member)"),
            status: r.status.as_u16(),
            body: r.body.clone(),
        });
        facts.insert(format!("{what}: status"), r.status.as_u16().to_string());
        facts.insert(format!("{what}: message"), nova_message(&r.body, id));
    }

    // A hidden record, as azmove files its claims.
    let key = "azmove_conformance";
    let value = unique("claim");
    let body = json!({"name": unique("azmove-conf-claim"), "os_hidden": true,
        "visibility": "private", "container_format": "bare", "disk_format": "raw", key: value});
    let r = member.post("image", "/v2/images", None, &body).await?;
    obs.push(Observation {
        step: "POST /v2/images os_hidden (member)".into(),
        status: r.status.as_u16(),
        body: r.body.clone(),
    });
    let claim = r.body["id"]
        .as_str()
        .ok_or_else(|| {
            format!(
                "POST /v2/images: HTTP {} {}",
                r.status.as_u16(),
                compact(&r.body)
            )
        })?
        .to_owned();
    *hidden = Some(claim.clone());
    let created = r.body["updated_at"].as_str().unwrap_or_default().to_owned();
    facts.insert(
        "hidden image: status after create".into(),
        r.body["status"].as_str().unwrap_or("-").to_owned(),
    );
    facts.insert(
        "hidden image: os_hidden after create".into(),
        r.body["os_hidden"].to_string(),
    );
    let finds = |r: &super::os_http::Reply| {
        r.body["images"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["id"] == claim.as_str()))
            .to_string()
    };
    let hidden_list = format!("/v2/images?os_hidden=true&{key}={value}");
    let r = member.get("image", &hidden_list, None).await?;
    obs.push(Observation {
        step: "GET /v2/images?os_hidden=true&<property> (member)".into(),
        status: r.status.as_u16(),
        body: r.body.clone(),
    });
    facts.insert(
        "hidden image: found by os_hidden=true and its property".into(),
        finds(&r),
    );
    let r = member
        .get("image", &format!("/v2/images?{key}={value}"), None)
        .await?;
    facts.insert(
        "hidden image: found by a plain list with its property".into(),
        finds(&r),
    );
    // Both clouds keep whole seconds: let one pass before the heartbeat.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ops = json!([{"op": "add", "path": format!("/{key}_beat"), "value": "1"}]);
    let (status, body) = patch_image(member, &claim, &ops).await?;
    obs.push(Observation {
        step: "PATCH /v2/images/{hidden} (member)".into(),
        status: status.as_u16(),
        body: body.clone(),
    });
    let updated = body["updated_at"].as_str().unwrap_or_default();
    facts.insert(
        "hidden image: PATCH moved updated_at forward".into(),
        (!created.is_empty() && updated > created.as_str()).to_string(),
    );
    let r = member
        .delete("image", &format!("/v2/images/{claim}"))
        .await?;
    if r.status == StatusCode::NO_CONTENT {
        *hidden = None;
    }
    let r = member.get("image", &hidden_list, None).await?;
    facts.insert(
        "hidden image: found by os_hidden=true after DELETE".into(),
        finds(&r),
    );
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
