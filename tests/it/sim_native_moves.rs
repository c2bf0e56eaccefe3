//! Moves that keep a server's identity, in the simulator: shelve → offload
//! → unshelve into another AZ, cold migration with unpin/confirm/re-pin,
//! live migration and its abort, the pinned-AZ update, migration records,
//! os-hypervisors/os-services, policies, microversion gates and the
//! migration fault kinds. Raw HTTP, as a client that is not azmove's.

use crate::support::sim::{Cloud, Reply, keys, sample};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The base cloud plus a project manager in `demo` and a shelved server.
const EXTRA: &str = r#"
users:
  - {name: admin, password: secret, project: admin, roles: [admin, member, reader]}
  - {name: demo, password: demo-pw, project: demo}
  - {name: boss, password: boss-pw, project: demo, roles: [manager, member, reader]}
"#;

async fn cloud(extra: &str) -> Cloud {
    cloud_with_servers("", extra).await
}

/// `servers` are more items of the base scenario's server list (its last key).
async fn cloud_with_servers(servers: &str, extra: &str) -> Cloud {
    // BASE already lists users; replace them with EXTRA's (same admin/demo).
    let base = crate::support::sim::BASE.replace(
        "users:\n  - {name: admin, password: secret, project: admin, roles: [admin, member, reader],\n     application_credentials: [{name: ci, id: 0123456789abcdef0123456789abcdef, secret: s3cret}]}\n  - {name: demo, password: demo-pw, project: demo}\n",
        "",
    );
    assert!(!base.contains("users:"), "the base scenario's users moved");
    assert!(
        base.trim_end().ends_with("networks: [net1]}"),
        "servers come last in BASE"
    );
    Cloud::start_yaml(&format!("{}\n{servers}\n{EXTRA}\n{extra}", base.trim_end())).await
}

async fn put(cloud: &Cloud, token: &str, path: &str, body: Value, mv: &str) -> Reply {
    let hv = format!("compute {mv}");
    cloud
        .call(
            Method::PUT,
            token,
            &format!("/compute/v2.1{path}"),
            Some(body),
            &[("OpenStack-API-Version", hv.as_str())],
        )
        .await
}

async fn delete(cloud: &Cloud, token: &str, path: &str, mv: &str) -> Reply {
    let hv = format!("compute {mv}");
    cloud
        .call(
            Method::DELETE,
            token,
            &format!("/compute/v2.1{path}"),
            None,
            &[("OpenStack-API-Version", hv.as_str())],
        )
        .await
}

async fn pin(cloud: &Cloud, token: &str, id: &str, az: Value) -> Reply {
    put(
        cloud,
        token,
        &format!("/servers/{id}"),
        json!({"server": {"pinned_availability_zone": az}}),
        "2.104",
    )
    .await
}

/// What a move must keep: id, fixed IP and MAC of the first port.
fn identity(s: &Value) -> (Value, Value, Value) {
    let a = &s["addresses"]["net1"][0];
    (
        s["id"].clone(),
        a["addr"].clone(),
        a["OS-EXT-IPS-MAC:mac_addr"].clone(),
    )
}

/// The migrations of a server as an admin lists them at 2.80.
async fn migrations_of(cloud: &Cloud, id: &str) -> Vec<Value> {
    let r = cloud
        .nova_get(
            &cloud.admin,
            &format!("/os-migrations?instance_uuid={id}"),
            "2.80",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["migrations"].as_array().cloned().unwrap_or_default()
}

/// vCPUs in use per hypervisor (2.87 still has the usage fields).
async fn vcpus_used(cloud: &Cloud) -> Vec<(String, u64)> {
    let r = cloud
        .nova_get(&cloud.admin, "/os-hypervisors/detail", "2.87")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["hypervisors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["hypervisor_hostname"].as_str().unwrap().to_owned(),
                h["vcpus_used"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn used_on(list: &[(String, u64)], host: &str) -> u64 {
    list.iter().find(|(h, _)| h == host).map_or(0, |(_, n)| *n)
}

// ---- shelve → unshelve -------------------------------------------------------

#[tokio::test]
async fn a_member_moves_by_shelve_and_unshelve_keeping_identity_and_pin() {
    let cloud = cloud("").await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let id = cloud.server_id("demo_vm01").await;
    let before = cloud.server(&id).await;
    assert_eq!(before["pinned_availability_zone"], "nova");
    let r = cloud
        .action(&demo, &id, json!({"shelve": null}), "2.77")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(30.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "SHELVED_OFFLOADED");
    // An empty object is not a valid 2.77 body, nor an unknown AZ.
    let r = cloud
        .action(&demo, &id, json!({"unshelve": {}}), "2.77")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.text
            .contains("'availability_zone' is a required property"),
        "{}",
        r.text
    );
    let r = cloud
        .action(
            &demo,
            &id,
            json!({"unshelve": {"availability_zone": "mars"}}),
            "2.77",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["badRequest"]["message"],
        "The requested availability zone is not available"
    );
    let r = cloud
        .action(
            &demo,
            &id,
            json!({"unshelve": {"availability_zone": "nova2"}}),
            "2.77",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(
        cloud.server(&id).await["OS-EXT-STS:task_state"],
        "unshelving"
    );
    cloud.advance(10.0);
    let after = cloud.server(&id).await;
    assert_eq!(after["status"], "ACTIVE");
    assert_eq!(after["OS-EXT-AZ:availability_zone"], "nova2");
    assert_eq!(after["OS-EXT-SRV-ATTR:host"], "node-31");
    assert_eq!(after["pinned_availability_zone"], "nova2");
    assert_eq!(identity(&after), identity(&before));
    // The member sees the same through its own eyes (no host attributes).
    let r = cloud
        .nova_get(&demo, &format!("/servers/{id}"), "2.104")
        .await;
    assert_eq!(r.body["server"]["OS-EXT-AZ:availability_zone"], "nova2");
    assert!(r.body["server"].get("OS-EXT-SRV-ATTR:host").is_none());
}

#[tokio::test]
async fn unshelve_checks_follow_nova_in_order() {
    let cloud = cloud_with_servers(
        "  - {name: parked, project: demo, availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [net1], status: SHELVED}\n  - {name: gone, project: demo, availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [net1], status: SHELVED_OFFLOADED}\n",
        "",
    )
    .await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let parked = cloud.server_id("parked").await;
    // Not offloaded: no AZ may be given.
    let r = cloud
        .action(
            &demo,
            &parked,
            json!({"unshelve": {"availability_zone": "nova2"}}),
            "2.77",
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!(
            "Specifying an availability zone or a host when unshelving server \"{parked}\" with status \"shelved\" is not supported. The server status must be SHELVED_OFFLOADED."
        )
    );
    let gone = cloud.server_id("gone").await;
    // 2.91: a host is for admins, and must be in the AZ asked for.
    let r = cloud
        .action(
            &demo,
            &gone,
            json!({"unshelve": {"host": "node-31"}}),
            "2.91",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = cloud
        .action(
            &cloud.admin,
            &gone,
            json!({"unshelve": {"availability_zone": "nova", "host": "node-31"}}),
            "2.91",
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        "Host \"node-31\" is not in the availability zone \"nova\"."
    );
    let r = cloud
        .action(
            &cloud.admin,
            &gone,
            json!({"unshelve": {"host": "node-99"}}),
            "2.91",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Unpinning with null puts it anywhere (the host asked for here).
    let r = cloud
        .action(
            &cloud.admin,
            &gone,
            json!({"unshelve": {"availability_zone": null, "host": "node-31"}}),
            "2.91",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(10.0);
    let s = cloud.server(&gone).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-31");
    let r = cloud
        .nova_get(&cloud.admin, &format!("/servers/{gone}"), "2.104")
        .await;
    assert_eq!(r.body["server"]["pinned_availability_zone"], Value::Null);
}

// ---- cold migration ----------------------------------------------------------

#[tokio::test]
async fn cold_migration_unpin_migrate_confirm_repin_keeps_identity() {
    let cloud = cloud("").await;
    let id = cloud.server_id("admin_vm01").await;
    let before = cloud.server(&id).await;
    assert_eq!(before["OS-EXT-SRV-ATTR:host"], "node-27");
    let r = pin(&cloud, &cloud.admin, &id, Value::Null).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["server"]["pinned_availability_zone"], Value::Null);
    assert_eq!(
        keys(&r.body["server"]).len(),
        keys(
            &cloud
                .nova_get(&cloud.admin, &format!("/servers/{id}"), "2.104")
                .await
                .body["server"]
        )
        .len()
    );

    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"migrate": {"host": "node-31"}}),
            "2.56",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert!(r.text.is_empty());
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "RESIZE");
    assert_eq!(s["OS-EXT-STS:task_state"], "resize_prep");
    // A second move while this one runs is refused.
    let r = cloud
        .action(&cloud.admin, &id, json!({"migrate": null}), "2.56")
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'migrate' instance {id} while it is in task_state resize_prep")
    );
    cloud.advance(3.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["OS-EXT-STS:task_state"], "resize_migrating");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-27");
    let m = &migrations_of(&cloud, &id).await[0];
    assert_eq!(m["status"], "migrating");
    assert_eq!(m["migration_type"], "migration");
    assert_eq!(m["dest_compute"], "node-31");
    // While the move runs both hosts hold the flavor.
    let used = vcpus_used(&cloud).await;
    assert_eq!(
        (used_on(&used, "node-27"), used_on(&used, "node-31")),
        (1, 1)
    );

    cloud.advance(20.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "VERIFY_RESIZE");
    assert_eq!(s["OS-EXT-STS:vm_state"], "resized");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-31");
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "nova2");
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "finished");
    let r = cloud
        .nova_get(
            &cloud.admin,
            "/servers/detail?status=VERIFY_RESIZE&all_tenants=1",
            "2.1",
        )
        .await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 1);

    let r = cloud
        .action(&cloud.admin, &id, json!({"confirmResize": null}), "2.104")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = cloud
        .action(&cloud.admin, &id, json!({"confirmResize": null}), "2.104")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["badRequest"]["message"],
        "Instance has not been resized."
    );
    cloud.advance(5.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "confirmed");
    let used = vcpus_used(&cloud).await;
    assert_eq!(
        (used_on(&used, "node-27"), used_on(&used, "node-31")),
        (0, 1)
    );

    let r = pin(&cloud, &cloud.admin, &id, json!("nova2")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = cloud.server(&id).await;
    assert_eq!(after["pinned_availability_zone"], "nova2");
    assert_eq!(identity(&after), identity(&before));
    // Ports follow: bound to the new host, owned from the new AZ.
    let port = &cloud
        .get(
            &cloud.admin,
            &format!("/networking/v2.0/ports?device_id={id}"),
        )
        .await
        .body["ports"][0];
    assert_eq!(port["binding:host_id"], "node-31");
    assert_eq!(port["device_owner"], "compute:nova2");

    let stats = cloud.sim.stats();
    assert_eq!(stats.operations.started["migrate"], 1);
    assert_eq!(stats.operations.max_in_flight_by_source_az["nova"], 1);
    assert_eq!(stats.operations.max_in_flight_by_target_az["nova2"], 1);
    assert_eq!(stats.operations.in_flight, 0);
    let rec = &stats.migrations[0];
    assert_eq!(
        (rec.migration_type.as_str(), rec.status.as_str()),
        ("migration", "confirmed")
    );
    assert_eq!(rec.dest_az.as_deref(), Some("nova2"));
}

#[tokio::test]
async fn revert_resize_returns_a_stopped_server_to_its_source_stopped() {
    let cloud = cloud("").await;
    let id = cloud.server_id("admin_vm01").await;
    let r = cloud
        .action(&cloud.admin, &id, json!({"os-stop": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(5.0);
    // Pinned to nova: the scheduler picks the other nova host.
    let r = cloud
        .action(&cloud.admin, &id, json!({"migrate": null}), "2.104")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(cloud.server(&id).await["status"], "RESIZE");
    cloud.advance(30.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "VERIFY_RESIZE");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-28");
    let r = cloud
        .action(&cloud.admin, &id, json!({"revertResize": null}), "2.104")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "REVERT_RESIZE");
    assert_eq!(s["OS-EXT-STS:task_state"], "resize_reverting");
    cloud.advance(10.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "SHUTOFF");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-27");
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "reverted");
    // demo_vm01 is on node-28.
    let used = vcpus_used(&cloud).await;
    assert_eq!(
        (used_on(&used, "node-27"), used_on(&used, "node-28")),
        (1, 1)
    );
    // Confirming or reverting what was not resized is a 409 on vm_state.
    let r = cloud
        .action(&cloud.admin, &id, json!({"confirmResize": null}), "2.104")
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'confirmResize' instance {id} while it is in vm_state stopped")
    );
}

#[tokio::test]
async fn a_pinned_server_asked_to_another_az_fails_asynchronously_and_stays() {
    let cloud = cloud("").await;
    let id = cloud.server_id("admin_vm01").await;
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"migrate": {"host": "node-31"}}),
            "2.56",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(30.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-STS:task_state"], Value::Null);
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-27");
    // Nova shows faults only for ERROR servers; the fault is recorded.
    assert!(s.get("fault").is_none());
    let fault = {
        let m = cloud.sim.sim().lock();
        let i = m.server(&id).unwrap();
        m.servers[i].fault.clone().map(|f| f.message)
    };
    assert!(fault.unwrap().starts_with("No valid host was found."));
    let migs = migrations_of(&cloud, &id).await;
    assert_eq!(migs[0]["status"], "error");
    // Same with a live migration.
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": "node-31", "block_migration": "auto"}}),
            "2.104",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(cloud.server(&id).await["status"], "MIGRATING");
    cloud.advance(30.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-27");
    let migs = migrations_of(&cloud, &id).await;
    assert_eq!(migs[0]["migration_type"], "live-migration");
    assert_eq!(migs[0]["status"], "error");
    // Before 2.34 the same pre-check answers the call.
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": "node-31", "block_migration": "auto", "force": false}}),
            "2.33",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.body["badRequest"]["message"],
        "No valid host was found. There are not enough hosts available."
    );
    let migs = migrations_of(&cloud, &id).await;
    assert_eq!(migs.len(), 3);
    assert_eq!(migs[0]["status"], "error");
    assert_eq!(cloud.server(&id).await["status"], "ACTIVE");
    // Unknown and same hosts are the API's 400s.
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"migrate": {"host": "node-99"}}),
            "2.56",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["badRequest"]["message"],
        "Compute host node-99 could not be found."
    );
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"migrate": {"host": "node-27"}}),
            "2.56",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["badRequest"]["message"],
        "Cannot migrate to the host where the server exists."
    );
}

// ---- live migration ----------------------------------------------------------

#[tokio::test]
async fn live_migration_unpin_move_repin_keeps_identity() {
    let cloud = cloud("timings: {live_migration_throughput_mb_s: 10}\n").await;
    let id = cloud.server_id("admin_vm01").await;
    let before = cloud.server(&id).await;
    assert_eq!(
        pin(&cloud, &cloud.admin, &id, Value::Null).await.status,
        StatusCode::OK
    );
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": "node-31", "block_migration": "auto"}}),
            "2.104",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "MIGRATING");
    assert_eq!(s["OS-EXT-STS:task_state"], "migrating");
    assert_eq!(s["OS-EXT-STS:vm_state"], "active");
    // Accepted, not yet in progress: the list is empty.
    let path = format!("/servers/{id}/migrations");
    let r = cloud.nova_get(&cloud.admin, &path, "2.80").await;
    assert_eq!(r.body["migrations"], json!([]));
    cloud.advance(10.0);
    let r = cloud.nova_get(&cloud.admin, &path, "2.80").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let m = &r.body["migrations"][0];
    assert_eq!(m["status"], "running");
    assert_eq!(m["server_uuid"], id.as_str());
    assert_eq!(m["source_compute"], "node-27");
    assert_eq!(m["dest_compute"], "node-31");
    assert_eq!(m["memory_total_bytes"], 512 * 1024 * 1024);
    let processed = m["memory_processed_bytes"].as_u64().unwrap();
    assert!(
        processed > 0 && processed < 512 * 1024 * 1024,
        "{processed}"
    );
    let upstream = sample("nova/server-migrations/v2.80/migrations-index.json");
    assert_eq!(keys(m), keys(&upstream["migrations"][0]));
    let mid = m["id"].as_u64().unwrap();
    let r = cloud
        .nova_get(&cloud.admin, &format!("{path}/{mid}"), "2.80")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let upstream = sample("nova/server-migrations/v2.80/migrations-get.json");
    assert_eq!(keys(&r.body["migration"]), keys(&upstream["migration"]));
    // os-migrations links an in-progress live migration.
    let listed = &migrations_of(&cloud, &id).await[0];
    assert!(
        listed["links"][0]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/servers/{id}/migrations/{mid}"))
    );
    let upstream = sample("nova/os-migrations/v2.80/migrations-get.json");
    assert_eq!(keys(listed), keys(&upstream["migrations"][3]));

    cloud.advance(60.0);
    let after = cloud.server(&id).await;
    assert_eq!(after["status"], "ACTIVE");
    assert_eq!(after["OS-EXT-SRV-ATTR:host"], "node-31");
    assert_eq!(after["OS-EXT-AZ:availability_zone"], "nova2");
    assert_eq!(
        cloud.nova_get(&cloud.admin, &path, "2.80").await.body["migrations"],
        json!([])
    );
    let r = cloud
        .nova_get(&cloud.admin, &format!("{path}/{mid}"), "2.80")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["itemNotFound"]["message"],
        format!("Live migration {mid} for server {id} is not in progress.")
    );
    let listed = &migrations_of(&cloud, &id).await[0];
    assert_eq!(listed["status"], "completed");
    assert!(listed.get("links").is_none());
    assert_eq!(
        pin(&cloud, &cloud.admin, &id, json!("nova2")).await.status,
        StatusCode::OK
    );
    let after = cloud.server(&id).await;
    assert_eq!(after["pinned_availability_zone"], "nova2");
    assert_eq!(identity(&after), identity(&before));
    let used = vcpus_used(&cloud).await;
    assert_eq!(
        (used_on(&used, "node-27"), used_on(&used, "node-31")),
        (0, 1)
    );
    let stats = cloud.sim.stats();
    assert_eq!(stats.operations.started["live_migrate"], 1);
    assert_eq!(stats.operations.max_in_flight_by_target_az["nova2"], 1);
}

#[tokio::test]
async fn a_running_live_migration_can_be_aborted() {
    let cloud = cloud("timings: {live_migration_throughput_mb_s: 10}\n").await;
    let id = cloud.server_id("admin_vm01").await;
    // Not migrating: nothing to abort.
    let r = delete(
        &cloud,
        &cloud.admin,
        &format!("/servers/{id}/migrations/1"),
        "2.24",
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'abort live migration' instance {id} while it is in task_state None")
    );
    pin(&cloud, &cloud.admin, &id, Value::Null).await;
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": "node-31", "block_migration": "auto"}}),
            "2.104",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let mid = migrations_of(&cloud, &id).await[0]["id"].as_u64().unwrap();
    let abort = format!("/servers/{id}/migrations/{mid}");
    // Still accepted (pre-checks): only running ones can be aborted.
    let r = delete(&cloud, &cloud.admin, &abort, "2.24").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["badRequest"]["message"],
        format!(
            "Migration {mid} state of instance {id} is accepted. Cannot abort live migration while the migration is in this state."
        )
    );
    let r = delete(
        &cloud,
        &cloud.admin,
        &format!("/servers/{id}/migrations/77"),
        "2.24",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["itemNotFound"]["message"],
        format!("Migration 77 not found for instance {id}")
    );
    // Before 2.24 there is no such route.
    let r = delete(&cloud, &cloud.admin, &abort, "2.23").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    cloud.advance(10.0);
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "running");
    let r = delete(&cloud, &cloud.admin, &abort, "2.24").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(5.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-STS:task_state"], Value::Null);
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-27");
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "cancelled");
    let used = vcpus_used(&cloud).await;
    assert_eq!(
        (used_on(&used, "node-27"), used_on(&used, "node-31")),
        (1, 0)
    );
    // Long after, it has not moved.
    cloud.advance(600.0);
    assert_eq!(cloud.server(&id).await["OS-EXT-SRV-ATTR:host"], "node-27");
}

#[tokio::test]
async fn from_2_65_a_preparing_live_migration_can_be_aborted_too() {
    let cloud = cloud("timings: {live_migration_overhead: 8s}\n").await;
    let id = cloud.server_id("admin_vm01").await;
    pin(&cloud, &cloud.admin, &id, Value::Null).await;
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": "node-31", "block_migration": "auto"}}),
            "2.104",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(5.0);
    let mid = migrations_of(&cloud, &id).await[0]["id"].as_u64().unwrap();
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "preparing");
    let abort = format!("/servers/{id}/migrations/{mid}");
    assert_eq!(
        delete(&cloud, &cloud.admin, &abort, "2.64").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        delete(&cloud, &cloud.admin, &abort, "2.65").await.status,
        StatusCode::ACCEPTED
    );
    cloud.advance(10.0);
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "cancelled");
    assert_eq!(cloud.server(&id).await["OS-EXT-SRV-ATTR:host"], "node-27");
}

// ---- pinned AZ -----------------------------------------------------------------

#[tokio::test]
async fn the_pin_changes_only_through_null_and_only_to_where_the_server_is() {
    let cloud = cloud("").await;
    let id = cloud.server_id("admin_vm01").await;
    let r = pin(&cloud, &cloud.admin, &id, json!("nova2")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        "Cannot change pinned availability zone directly. Unpin first by setting pinned_availability_zone to null."
    );
    // The same AZ again changes nothing.
    assert_eq!(
        pin(&cloud, &cloud.admin, &id, json!("nova")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        pin(&cloud, &cloud.admin, &id, Value::Null).await.status,
        StatusCode::OK
    );
    let r = pin(&cloud, &cloud.admin, &id, json!("nova2")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        "Server can only be pinned to its current availability zone 'nova', but 'nova2' was requested."
    );
    let r = put(
        &cloud,
        &cloud.admin,
        &format!("/servers/{id}"),
        json!({"server": {"name": "renamed", "pinned_availability_zone": "nova2"}}),
        "2.104",
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        cloud.server(&id).await["name"],
        "admin_vm01",
        "a refused update changes nothing"
    );
    let r = pin(&cloud, &cloud.admin, &id, json!(5)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        pin(&cloud, &cloud.admin, &id, json!("nova")).await.status,
        StatusCode::OK
    );
    assert_eq!(cloud.server(&id).await["pinned_availability_zone"], "nova");
}

// ---- policies and microversions -------------------------------------------------

#[tokio::test]
async fn policies_are_novas_defaults() {
    let cloud = cloud("timings: {live_migration_throughput_mb_s: 10}\n").await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let boss = cloud.login("boss", "boss-pw", "demo").await;
    let id = cloud.server_id("demo_vm01").await;
    let forbidden = |r: &Reply, rule: &str| {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(
            r.body["forbidden"]["message"],
            format!("Policy doesn't allow {rule} to be performed.")
        );
    };
    let live = json!({"os-migrateLive": {"host": null, "block_migration": "auto"}});
    let live_to = json!({"os-migrateLive": {"host": "node-28", "block_migration": "auto"}});
    forbidden(
        &cloud
            .action(&demo, &id, json!({"migrate": null}), "2.56")
            .await,
        "os_compute_api:os-migrate-server:migrate",
    );
    forbidden(
        &cloud
            .action(&demo, &id, json!({"migrate": {"host": "node-28"}}), "2.56")
            .await,
        "os_compute_api:os-migrate-server:migrate:host",
    );
    forbidden(
        &cloud.action(&demo, &id, live.clone(), "2.68").await,
        "os_compute_api:os-migrate-server:migrate_live",
    );
    forbidden(
        &cloud.action(&boss, &id, live_to, "2.68").await,
        "os_compute_api:os-migrate-server:migrate_live:host",
    );
    forbidden(
        &cloud
            .nova_get(&demo, "/os-hypervisors/detail", "2.88")
            .await,
        "os_compute_api:os-hypervisors:list-detail",
    );
    forbidden(
        &cloud.nova_get(&demo, "/os-migrations", "2.80").await,
        "os_compute_api:os-migrations:index",
    );
    forbidden(
        &cloud
            .nova_get(&demo, &format!("/servers/{id}/migrations"), "2.80")
            .await,
        "os_compute_api:servers:migrations:index",
    );
    forbidden(
        &cloud.nova_get(&demo, "/os-services", "2.80").await,
        "os_compute_api:os-services:list",
    );
    // A project manager may list its own project's migrations only.
    forbidden(
        &cloud.nova_get(&boss, "/os-migrations", "2.80").await,
        "os_compute_api:os-migrations:index:all_projects",
    );
    let demo_project = cloud.server(&id).await["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = cloud
        .nova_get(
            &boss,
            &format!("/os-migrations?project_id={demo_project}"),
            "2.80",
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    // Not before 2.80, where project_id is no filter.
    let r = cloud
        .nova_get(
            &boss,
            &format!("/os-migrations?project_id={demo_project}"),
            "2.79",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // Unpinning and re-pinning are ordinary server updates: members may.
    assert_eq!(
        pin(&cloud, &demo, &id, Value::Null).await.status,
        StatusCode::OK
    );
    assert_eq!(
        pin(&cloud, &demo, &id, json!("nova")).await.status,
        StatusCode::OK
    );
    // A manager may move without naming a host; the scheduler chooses.
    let r = cloud
        .action(&boss, &id, json!({"migrate": null}), "2.56")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(30.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "VERIFY_RESIZE");
    // Members confirm their own servers' resizes.
    let r = cloud
        .action(&demo, &id, json!({"confirmResize": null}), "2.56")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // Host fields are hidden from a manager listing a server's migrations.
    let r = cloud.action(&boss, &id, live, "2.68").await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "confirming is still running: {}",
        r.text
    );
    cloud.advance(5.0);
    let r = cloud
        .action(
            &boss,
            &id,
            json!({"os-migrateLive": {"host": null, "block_migration": "auto"}}),
            "2.68",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(5.0);
    let r = cloud
        .nova_get(&boss, &format!("/servers/{id}/migrations"), "2.80")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let m = &r.body["migrations"][0];
    assert_eq!(m["status"], "running", "{}", r.text);
    assert_eq!(m["source_compute"], Value::Null);
    assert_eq!(m["dest_compute"], Value::Null);
}

#[tokio::test]
async fn microversion_gates() {
    let cloud = cloud("").await;
    let id = cloud.server_id("admin_vm01").await;
    // The pin is read-only before 2.104.
    let r = put(
        &cloud,
        &cloud.admin,
        &format!("/servers/{id}"),
        json!({"server": {"pinned_availability_zone": null}}),
        "2.103",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text.contains(
            "Additional properties are not allowed ('pinned_availability_zone' was unexpected)"
        ),
        "{}",
        r.text
    );
    // Before 2.56 Nova has no schema for migrate and ignores a host: the
    // scheduler moves the pinned server within its AZ.
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"migrate": {"host": "node-31"}}),
            "2.55",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(30.0);
    assert_eq!(cloud.server(&id).await["OS-EXT-SRV-ATTR:host"], "node-28");
    assert!(migrations_of(&cloud, &id).await[0]["dest_compute"] == "node-28");
    let r = cloud
        .action(&cloud.admin, &id, json!({"revertResize": null}), "2.55")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(10.0);
    // From 2.56 the body is checked.
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"migrate": {"hots": "node-28"}}),
            "2.56",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("('hots' was unexpected)"), "{}", r.text);
    // Live migration bodies per range.
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": null, "block_migration": "auto"}}),
            "2.24",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.text.contains("'disk_over_commit' is a required property"),
        "{}",
        r.text
    );
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": null, "block_migration": "auto", "force": false}}),
            "2.68",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("('force' was unexpected)"), "{}", r.text);
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": null, "block_migration": "auto", "force": true}}),
            "2.30",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["badRequest"]["message"],
        "Can't force to a non-provided destination"
    );
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": null}}),
            "2.68",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Server migration routes appear in 2.23.
    let r = cloud
        .nova_get(&cloud.admin, &format!("/servers/{id}/migrations"), "2.22")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Before 2.77 the simulator refuses an AZ in unshelve (see docs).
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"unshelve": {"availability_zone": "nova2"}}),
            "2.76",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_forced_live_migration_before_2_68_ignores_the_pin() {
    let cloud = cloud("").await;
    let id = cloud.server_id("admin_vm01").await;
    // 2.30–2.67 with force: no scheduler, so no AZ filter.
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": "node-31", "block_migration": "auto", "force": true}}),
            "2.67",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(30.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-31");
    // Still pinned to nova although it is in nova2: Nova does not fix it up.
    assert_eq!(s["pinned_availability_zone"], "nova");
}

// ---- hypervisors and services -------------------------------------------------

#[tokio::test]
async fn hypervisors_and_services_match_the_samples() {
    let cloud = cloud("").await;
    for (mv, file) in [
        ("2.1", "nova/os-hypervisors/hypervisors-detail-resp.json"),
        (
            "2.28",
            "nova/os-hypervisors/v2.28/hypervisors-detail-resp.json",
        ),
        (
            "2.53",
            "nova/os-hypervisors/v2.53/hypervisors-detail-resp.json",
        ),
        (
            "2.88",
            "nova/os-hypervisors/v2.88/hypervisors-detail-resp.json",
        ),
    ] {
        let r = cloud
            .nova_get(&cloud.admin, "/os-hypervisors/detail", mv)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{mv}: {}", r.text);
        let upstream = sample(file);
        assert_eq!(
            keys(&r.body["hypervisors"][0]),
            keys(&upstream["hypervisors"][0]),
            "{mv}"
        );
        assert_eq!(
            keys(&r.body["hypervisors"][0]["service"]),
            keys(&upstream["hypervisors"][0]["service"])
        );
        assert_eq!(r.body["hypervisors"].as_array().unwrap().len(), 3);
    }
    let r = cloud
        .nova_get(&cloud.admin, "/os-hypervisors", "2.88")
        .await;
    let upstream = sample("nova/os-hypervisors/v2.88/hypervisors-list-resp.json");
    assert_eq!(
        keys(&r.body["hypervisors"][0]),
        keys(&upstream["hypervisors"][0])
    );
    // Room to pick a destination with (2.87: usage fields still there).
    let r = cloud
        .nova_get(&cloud.admin, "/os-hypervisors/detail", "2.87")
        .await;
    let node27 = r.body["hypervisors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hypervisor_hostname"] == "node-27")
        .unwrap()
        .clone();
    assert_eq!(node27["vcpus"], 8);
    assert_eq!(node27["vcpus_used"], 1);
    assert_eq!(node27["memory_mb_used"], 512);
    assert_eq!(node27["free_ram_mb"], 16384 - 512);
    assert_eq!(node27["running_vms"], 1);
    // Show by uuid from 2.53, by integer before; patterns and servers.
    let uuid = node27["id"].as_str().unwrap();
    let r = cloud
        .nova_get(
            &cloud.admin,
            &format!("/os-hypervisors/{uuid}?with_servers=true"),
            "2.88",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["hypervisor"]["hypervisor_hostname"], "node-27");
    assert_eq!(r.body["hypervisor"]["servers"].as_array().unwrap().len(), 1);
    let r = cloud
        .nova_get(&cloud.admin, "/os-hypervisors/1", "2.88")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = cloud
        .nova_get(&cloud.admin, "/os-hypervisors/1", "2.52")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = cloud
        .nova_get(
            &cloud.admin,
            "/os-hypervisors?hypervisor_hostname_pattern=node-3",
            "2.88",
        )
        .await;
    assert_eq!(r.body["hypervisors"].as_array().unwrap().len(), 1);
    let r = cloud
        .nova_get(&cloud.admin, "/os-hypervisors?limit=2", "2.88")
        .await;
    assert_eq!(r.body["hypervisors"].as_array().unwrap().len(), 2);
    let next = r.body["hypervisors_links"][0]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = cloud
        .call(
            Method::GET,
            &cloud.admin,
            &next,
            None,
            &[("OpenStack-API-Version", "compute 2.88")],
        )
        .await;
    assert_eq!(r.body["hypervisors"].as_array().unwrap().len(), 1);
    // A disabled host shows as such, in both APIs.
    let r = cloud
        .call(
            Method::POST,
            "",
            "/_sim/hosts/node-28",
            Some(json!({"enabled": false})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = cloud
        .nova_get(&cloud.admin, "/os-services?binary=nova-compute", "2.53")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = r.body["services"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    let upstream = sample("nova/os-services/v2.53/services-list-get-resp.json");
    assert_eq!(keys(&list[0]), keys(&upstream["services"][0]));
    let node28 = list.iter().find(|s| s["host"] == "node-28").unwrap();
    assert_eq!(node28["status"], "disabled");
    assert_eq!(node28["zone"], "nova");
}

// ---- faults ---------------------------------------------------------------------

#[tokio::test]
async fn a_migration_error_fault_leaves_the_server_on_its_source() {
    let cloud = cloud("faults:\n  - migration_error: {kind: cold, nth: 1}\n").await;
    let id = cloud.server_id("admin_vm01").await;
    pin(&cloud, &cloud.admin, &id, Value::Null).await;
    let body = json!({"migrate": {"host": "node-31"}});
    let r = cloud.action(&cloud.admin, &id, body.clone(), "2.56").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(30.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-27");
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "error");
    assert_eq!(used_on(&vcpus_used(&cloud).await, "node-31"), 0);
    assert_eq!(cloud.sim.stats().faults_injected["migration_error"], 1);
    // The second one goes through.
    let r = cloud.action(&cloud.admin, &id, body, "2.56").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(30.0);
    assert_eq!(cloud.server(&id).await["status"], "VERIFY_RESIZE");
}

#[tokio::test]
async fn an_unshelve_error_fault_leaves_the_server_offloaded_with_a_fault() {
    let cloud = cloud("faults:\n  - unshelve_error: {availability_zone: nova2}\n").await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let id = cloud.server_id("demo_vm01").await;
    cloud
        .action(&demo, &id, json!({"shelve": null}), "2.77")
        .await;
    cloud.advance(30.0);
    let r = cloud
        .action(
            &demo,
            &id,
            json!({"unshelve": {"availability_zone": "nova2"}}),
            "2.77",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(30.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "SHELVED_OFFLOADED");
    assert_eq!(s["OS-EXT-STS:task_state"], Value::Null);
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], Value::Null);
    // The pin stays on the AZ asked for, as Nova's request spec does.
    assert_eq!(s["pinned_availability_zone"], "nova2");
    let fault = {
        let m = cloud.sim.sim().lock();
        m.servers[m.server(&id).unwrap()].fault.clone()
    };
    assert!(fault.is_some());
    assert_eq!(used_on(&vcpus_used(&cloud).await, "node-31"), 0);
    assert_eq!(cloud.sim.stats().faults_injected["unshelve_error"], 1);
    // Back to where it was: nova works.
    let r = cloud
        .action(
            &demo,
            &id,
            json!({"unshelve": {"availability_zone": "nova"}}),
            "2.77",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(30.0);
    assert_eq!(cloud.server(&id).await["status"], "ACTIVE");
}

#[tokio::test]
async fn a_hanging_live_migration_runs_until_aborted_or_forced() {
    let cloud = cloud("faults:\n  - live_migration_hang: {nth: 1}\n").await;
    let id = cloud.server_id("admin_vm01").await;
    pin(&cloud, &cloud.admin, &id, Value::Null).await;
    let live = json!({"os-migrateLive": {"host": "node-31", "block_migration": "auto"}});
    let r = cloud.action(&cloud.admin, &id, live.clone(), "2.104").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // Long after it would have finished (tokens live an hour).
    cloud.advance(1800.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "MIGRATING");
    let listed = cloud
        .nova_get(&cloud.admin, &format!("/servers/{id}/migrations"), "2.80")
        .await;
    let m = &listed.body["migrations"][0];
    assert_eq!(m["status"], "running");
    assert!(m["memory_remaining_bytes"].as_u64().unwrap() > 0);
    let mid = m["id"].as_u64().unwrap();
    // The client gives up and aborts.
    let r = delete(
        &cloud,
        &cloud.admin,
        &format!("/servers/{id}/migrations/{mid}"),
        "2.24",
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(5.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-27");
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "cancelled");
    assert_eq!(cloud.sim.stats().faults_injected["live_migration_hang"], 1);
    // The next one completes; a hanging one could also be forced (2.22).
    let r = cloud.action(&cloud.admin, &id, live, "2.104").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(30.0);
    assert_eq!(cloud.server(&id).await["OS-EXT-SRV-ATTR:host"], "node-31");
}

#[tokio::test]
async fn a_hanging_live_migration_can_be_forced_to_complete() {
    let cloud = cloud("faults:\n  - live_migration_hang: {}\n").await;
    let id = cloud.server_id("admin_vm01").await;
    pin(&cloud, &cloud.admin, &id, Value::Null).await;
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"os-migrateLive": {"host": null, "block_migration": "auto"}}),
            "2.104",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(60.0);
    let mid = migrations_of(&cloud, &id).await[0]["id"].as_u64().unwrap();
    let path = format!("/servers/{id}/migrations/{mid}/action");
    let r = cloud
        .nova_post(&cloud.admin, &path, json!({"force_complete": null}), "2.22")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(5.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_ne!(s["OS-EXT-SRV-ATTR:host"], "node-27");
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "completed");
}

#[tokio::test]
async fn deleting_a_server_mid_move_lets_go_of_both_hosts() {
    let cloud = cloud("").await;
    let id = cloud.server_id("admin_vm01").await;
    pin(&cloud, &cloud.admin, &id, Value::Null).await;
    cloud
        .action(
            &cloud.admin,
            &id,
            json!({"migrate": {"host": "node-31"}}),
            "2.56",
        )
        .await;
    cloud.advance(30.0);
    assert_eq!(cloud.server(&id).await["status"], "VERIFY_RESIZE");
    let r = cloud
        .call(
            Method::DELETE,
            &cloud.admin,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    cloud.advance(5.0);
    let used = vcpus_used(&cloud).await;
    assert_eq!(
        (used_on(&used, "node-27"), used_on(&used, "node-31")),
        (0, 0)
    );
    assert_eq!(migrations_of(&cloud, &id).await[0]["status"], "confirmed");
}
