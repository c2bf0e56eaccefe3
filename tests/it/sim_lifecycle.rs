//! Server behaviour in the simulator, driven by its clock: boot and
//! scheduling, stop, snapshots (task states, Glance statuses, duration by
//! disk size), 409s, quota, shelve/unshelve across AZs, ports, changes-since.

use crate::support::sim::{Cloud, sample};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn boots_land_on_a_host_of_the_requested_az() {
    let cloud = Cloud::start("").await;
    let a = cloud.boot(&cloud.admin, "a", "1", Some("nova2")).await;
    let b = cloud.boot(&cloud.admin, "b", "1", Some("nova")).await;
    let s = cloud.server(&a).await;
    assert_eq!(s["status"], "BUILD");
    assert_eq!(s["OS-EXT-STS:task_state"], "scheduling");
    assert_eq!(s["addresses"], json!({}));
    cloud.advance(1.5);
    let s = cloud.server(&a).await;
    assert_eq!(s["OS-EXT-STS:task_state"], "spawning");
    cloud.advance(5.0);
    let s = cloud.server(&a).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "nova2");
    assert_eq!(s["OS-EXT-SRV-ATTR:hypervisor_hostname"], "node-31");
    assert_eq!(s["pinned_availability_zone"], "nova2");
    assert!(s["addresses"]["net1"][0]["addr"].as_str().is_some());
    let s = cloud.server(&b).await;
    let host = s["OS-EXT-SRV-ATTR:hypervisor_hostname"].as_str().unwrap();
    assert!(host == "node-27" || host == "node-28", "{host}");
}

#[tokio::test]
async fn no_room_means_error_with_no_valid_host() {
    let cloud = Cloud::start(
        "projects:\n  - {name: admin, quota: {instances: -1, cores: -1, ram_mb: -1}}\n",
    )
    .await;
    let id = cloud
        .boot(&cloud.admin, "too-big", "9", Some("nova2"))
        .await;
    cloud.advance(10.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ERROR");
    assert_eq!(s["OS-EXT-STS:vm_state"], "error");
    assert_eq!(s["fault"]["code"], 500);
    assert_eq!(
        s["fault"]["message"],
        "No valid host was found. There are not enough hosts available."
    );
    assert!(s["fault"]["created"].as_str().is_some());
    // Filling node-31 (8 vCPUs, 4 each for m1.large) makes the third fail.
    let x = cloud.boot(&cloud.admin, "x", "4", Some("nova2")).await;
    let y = cloud.boot(&cloud.admin, "y", "4", Some("nova2")).await;
    let z = cloud.boot(&cloud.admin, "z", "4", Some("nova2")).await;
    cloud.advance(10.0);
    assert_eq!(cloud.server(&x).await["status"], "ACTIVE");
    assert_eq!(cloud.server(&y).await["status"], "ACTIVE");
    assert_eq!(cloud.server(&z).await["status"], "ERROR");
}

#[tokio::test]
async fn quota_exceeded_is_novas_403() {
    let cloud = Cloud::start("projects:\n  - {name: admin, quota: {instances: 2}}\n").await;
    cloud.boot(&cloud.admin, "second", "1", None).await;
    let r = cloud
        .nova_post(
            &cloud.admin,
            "/servers",
            json!({"server": {"name": "third", "flavorRef": "1",
                "imageRef": cloud.image_id("cirros").await, "networks": "none"}}),
            "2.90",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"forbidden": {"code": 403,
            "message": "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"}})
    );
}

#[tokio::test]
async fn stop_goes_through_powering_off() {
    let cloud = Cloud::start("").await;
    let id = cloud.server_id("admin_vm01").await;
    let r = cloud
        .action(&cloud.admin, &id, json!({"os-stop": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.text.is_empty());
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["OS-EXT-STS:task_state"], "powering-off");
    let again = cloud
        .action(&cloud.admin, &id, json!({"os-stop": null}), "")
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        again.body["conflictingRequest"]["message"],
        format!("Cannot 'stop' instance {id} while it is in task_state powering-off")
    );
    cloud.advance(3.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "SHUTOFF");
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    let r = cloud
        .action(&cloud.admin, &id, json!({"os-stop": null}), "")
        .await;
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'stop' instance {id} while it is in vm_state stopped")
    );
}

#[tokio::test]
async fn snapshot_walks_task_states_and_image_statuses() {
    // 1 GB at 100 MB/s: 10.24 s of upload after 2 s of overhead.
    let cloud = Cloud::start("").await;
    let id = cloud.server_id("admin_vm01").await;
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"createImage": {"name": "snap", "metadata": {"azmove_source": id}}}),
            "2.45",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let theirs = sample("nova/servers/v2.45/server-action-create-image-resp.json");
    assert_eq!(
        crate::support::sim::keys(&r.body),
        crate::support::sim::keys(&theirs)
    );
    let image = r.body["image_id"].as_str().unwrap().to_owned();

    let s = cloud.server(&id).await;
    assert_eq!(s["OS-EXT-STS:task_state"], "image_snapshot");
    assert_eq!(cloud.image(&image).await["status"], "queued");
    // A second snapshot meanwhile is refused with Nova's words.
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"createImage": {"name": "again"}}),
            "2.45",
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body,
        json!({"conflictingRequest": {"code": 409, "message":
            format!("Cannot 'createImage' instance {id} while it is in task_state image_snapshot")}})
    );
    cloud.advance(1.0);
    assert_eq!(
        cloud.server(&id).await["OS-EXT-STS:task_state"],
        "image_pending_upload"
    );
    cloud.advance(1.0);
    assert_eq!(
        cloud.server(&id).await["OS-EXT-STS:task_state"],
        "image_uploading"
    );
    assert_eq!(cloud.image(&image).await["status"], "saving");
    cloud.advance(9.0);
    assert_eq!(cloud.image(&image).await["status"], "saving");
    cloud.advance(1.5);
    let s = cloud.server(&id).await;
    assert_eq!(s["OS-EXT-STS:task_state"], serde_json::Value::Null);
    let im = cloud.image(&image).await;
    assert_eq!(im["status"], "active");
    assert_eq!(im["size"], 1_073_741_824u64);
    assert_eq!(im["azmove_source"], id.as_str());
    assert_eq!(im["image_type"], "snapshot");
    assert_eq!(im["instance_uuid"], id.as_str());
    // Glance finds it by custom property.
    let r = cloud
        .get(
            &cloud.admin,
            &format!("/image/v2/images?azmove_source={id}"),
        )
        .await;
    assert_eq!(r.body["images"].as_array().unwrap().len(), 1);
    let theirs = sample("glance/v2/image-show-response.json");
    for k in crate::support::sim::keys(&theirs) {
        assert!(im.get(&k).is_some(), "image lacks {k}");
    }
}

#[tokio::test]
async fn snapshot_time_grows_with_disk_and_shrinks_with_time_scale() {
    let cloud = Cloud::start("time_scale: 10\n").await;
    let small = cloud.boot(&cloud.admin, "small", "1", Some("nova")).await;
    let big = cloud.boot(&cloud.admin, "big", "4", Some("nova")).await;
    cloud.advance(1.0);
    let mut images = Vec::new();
    for id in [&small, &big] {
        assert_eq!(cloud.server(id).await["status"], "ACTIVE");
        let r = cloud
            .action(
                &cloud.admin,
                id,
                json!({"createImage": {"name": "s"}}),
                "2.45",
            )
            .await;
        images.push(r.body["image_id"].as_str().unwrap().to_owned());
    }
    // Small: (2 + 10.24) s / 10 ≈ 1.2 s. Big (80 GB): (2 + 819.2) / 10 ≈ 82 s.
    cloud.advance(1.3);
    assert_eq!(cloud.image(&images[0]).await["status"], "active");
    assert_eq!(cloud.image(&images[1]).await["status"], "saving");
    cloud.advance(82.0);
    assert_eq!(cloud.image(&images[1]).await["status"], "active");
}

#[tokio::test]
async fn create_image_before_2_45_answers_with_a_location() {
    let cloud = Cloud::start("").await;
    let id = cloud.server_id("admin_vm01").await;
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"createImage": {"name": "old"}}),
            "2.44",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with(&format!("{}/image/images/", cloud.base)),
        "{loc}"
    );
}

#[tokio::test]
async fn start_of_an_active_server_is_a_conflict() {
    let cloud = Cloud::start("").await;
    let id = cloud.server_id("admin_vm01").await;
    let r = cloud
        .action(&cloud.admin, &id, json!({"os-start": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'start' instance {id} while it is in vm_state active")
    );
    let r = cloud
        .action(&cloud.admin, &id, json!({"reboot-ish": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn nova_created_ports_die_with_their_server_others_survive() {
    let cloud = Cloud::start("").await;
    let id = cloud.boot(&cloud.admin, "p1", "1", Some("nova")).await;
    cloud.advance(5.0);
    let r = cloud
        .get(
            &cloud.admin,
            &format!("/networking/v2.0/ports?device_id={id}"),
        )
        .await;
    let ports = r.body["ports"].as_array().unwrap().clone();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["device_owner"], "compute:nova");
    assert_eq!(ports[0]["status"], "ACTIVE");
    let theirs = sample("neutron/ports/port-show-response.json");
    for k in [
        "id",
        "network_id",
        "mac_address",
        "fixed_ips",
        "device_id",
        "device_owner",
        "status",
        "security_groups",
        "project_id",
    ] {
        assert!(
            theirs["port"].get(k).is_some() && ports[0].get(k).is_some(),
            "{k}"
        );
    }

    // A port made beforehand and given to Nova.
    let nets = cloud
        .get(&cloud.admin, "/networking/v2.0/networks?name=net1")
        .await;
    let net = nets.body["networks"][0]["id"].as_str().unwrap().to_owned();
    let r = cloud
        .call(
            Method::POST,
            &cloud.admin,
            "/networking/v2.0/ports",
            Some(json!({"port": {"network_id": net, "name": "keep"}})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let kept = r.body["port"]["id"].as_str().unwrap().to_owned();
    let r = cloud
        .nova_post(
            &cloud.admin,
            "/servers",
            json!({"server": {"name": "p2", "flavorRef": "1",
                "imageRef": cloud.image_id("cirros").await, "networks": [{"port": kept}]}}),
            "2.90",
        )
        .await;
    let id2 = r.body["server"]["id"].as_str().unwrap().to_owned();
    cloud.advance(5.0);
    let r = cloud
        .get(&cloud.admin, &format!("/networking/v2.0/ports/{kept}"))
        .await;
    assert_eq!(r.body["port"]["device_id"], id2.as_str());

    for s in [&id, &id2] {
        let r = cloud
            .call(
                Method::DELETE,
                &cloud.admin,
                &format!("/compute/v2.1/servers/{s}"),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    cloud.advance(2.0);
    let r = cloud
        .get(
            &cloud.admin,
            &format!("/networking/v2.0/ports?device_id={id}"),
        )
        .await;
    assert!(r.body["ports"].as_array().unwrap().is_empty());
    let r = cloud
        .get(
            &cloud.admin,
            &format!(
                "/networking/v2.0/ports/{}",
                ports[0]["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["NeutronError"]["type"], "PortNotFound");
    let r = cloud
        .get(&cloud.admin, &format!("/networking/v2.0/ports/{kept}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["port"]["device_id"], "");
    let r = cloud
        .nova_get(&cloud.admin, &format!("/servers/{id}"), "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn shelve_and_unshelve_into_another_az_keeps_id_and_ip() {
    let cloud = Cloud::start("").await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let id = cloud.server_id("demo_vm01").await;
    let before = cloud.server(&id).await;
    let ip = before["addresses"]["net1"][0]["addr"].clone();
    let r = cloud
        .action(&demo, &id, json!({"shelve": null}), "2.77")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(cloud.server(&id).await["OS-EXT-STS:task_state"], "shelving");
    cloud.advance(20.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "SHELVED_OFFLOADED");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], serde_json::Value::Null);
    // Before 2.77 an AZ cannot be given.
    let r = cloud
        .action(
            &demo,
            &id,
            json!({"unshelve": {"availability_zone": "nova2"}}),
            "2.76",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = cloud
        .action(
            &demo,
            &id,
            json!({"unshelve": {"availability_zone": "nova2"}}),
            "2.77",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(10.0);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "nova2");
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "node-31");
    assert_eq!(s["pinned_availability_zone"], "nova2");
    assert_eq!(s["addresses"]["net1"][0]["addr"], ip);
    // Members may not offload by themselves.
    let r = cloud
        .action(&demo, &id, json!({"shelveOffload": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn changes_since_returns_changed_and_recently_deleted_servers() {
    let cloud = Cloud::start("").await;
    let a = cloud.boot(&cloud.admin, "a", "1", Some("nova")).await;
    cloud.advance(10.0);
    let mark = cloud.server(&a).await["updated"]
        .as_str()
        .unwrap()
        .to_owned();
    cloud.advance(2.0);
    let r = cloud
        .call(
            Method::DELETE,
            &cloud.admin,
            &format!("/compute/v2.1/servers/{a}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    cloud.advance(2.0);
    let since = time::OffsetDateTime::parse(&mark, &time::format_description::well_known::Rfc3339)
        .unwrap()
        + time::Duration::seconds(1);
    let since = since
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = cloud
        .nova_get(
            &cloud.admin,
            &format!("/servers/detail?changes-since={since}"),
            "2.66",
        )
        .await;
    let servers = r.body["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{}", r.text);
    assert_eq!(servers[0]["id"], a.as_str());
    assert_eq!(servers[0]["status"], "DELETED");
    // Without changes-since deleted servers are gone.
    let r = cloud.nova_get(&cloud.admin, "/servers", "").await;
    assert!(
        r.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != a.as_str())
    );
    // changes-before (2.66) bounds the other side.
    let r = cloud
        .nova_get(
            &cloud.admin,
            &format!("/servers/detail?changes-since=2000-01-01T00:00:00Z&changes-before={mark}"),
            "2.66",
        )
        .await;
    assert!(
        r.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != a.as_str())
    );
    let r = cloud
        .nova_get(&cloud.admin, "/servers/detail?changes-since=yesterday", "")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn locked_servers_refuse_member_actions() {
    let cloud = Cloud::start("").await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let id = cloud.server_id("demo_vm01").await;
    let r = cloud.action(&demo, &id, json!({"lock": null}), "").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = cloud.action(&demo, &id, json!({"os-stop": null}), "").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Instance {id} is locked")
    );
}

#[tokio::test]
async fn changes_since_compares_whole_seconds_like_novas_database() {
    // Nova keeps `updated_at` in whole seconds (MariaDB DATETIME) and
    // filters `updated_at >= changes-since`: a change during second T is
    // found by changes-since=T, not by T plus half a second.
    let cloud = Cloud::start("").await;
    let id = cloud.server_id("admin_vm01").await;
    cloud.advance(5.5);
    let r = cloud
        .action(&cloud.admin, &id, json!({"lock": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let updated = cloud.server(&id).await["updated"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = time::OffsetDateTime::parse(&updated, &time::format_description::well_known::Rfc3339)
        .unwrap();
    let listed = |since: time::OffsetDateTime| {
        let since = since
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let cloud = &cloud;
        let id = id.clone();
        async move {
            let r = cloud
                .nova_get(
                    &cloud.admin,
                    &format!("/servers/detail?changes-since={since}"),
                    "",
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{since}: {}", r.text);
            r.body["servers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == id.as_str())
        }
    };
    assert!(listed(t - time::Duration::milliseconds(500)).await);
    assert!(listed(t).await);
    assert!(!listed(t + time::Duration::milliseconds(500)).await);
    assert!(!listed(t + time::Duration::seconds(1)).await);
}
