//! Glance, Neutron and Cinder in the simulator: list filters and paging,
//! error shapes, floating IPs and volumes, compared with upstream samples.

mod sim_support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use sim_support::{Cloud, keys, sample};

const EXTRA: &str = r#"
  - {name: vol_vm, project: admin, availability_zone: nova2, flavor: m1.tiny, image: cirros,
     networks: [net1], volumes: [data1]}
volumes:
  - {name: data1, project: admin, size_gb: 10, availability_zone: nova2}
  - {name: spare, project: admin, size_gb: 5, availability_zone: nova, bootable: true}
"#;

#[tokio::test]
async fn glance_lists_filter_and_page() {
    let cloud = Cloud::start("").await;
    let id = cloud.server_id("admin_vm01").await;
    let mut images = Vec::new();
    for n in 0..3 {
        let r = cloud
            .action(&cloud.admin, &id, json!({"createImage": {"name": format!("snap-{n}"), "metadata": {"azmove_source": id}}}), "2.45")
            .await;
        images.push(r.body["image_id"].as_str().unwrap().to_owned());
        cloud.advance(15.0);
    }
    let r = cloud.get(&cloud.admin, "/image/v2/images?limit=2").await;
    assert_eq!(r.status, StatusCode::OK);
    let theirs = sample("glance/v2/images-list-response.json");
    for k in keys(&theirs) {
        assert!(r.body.get(&k).is_some(), "list lacks {k}");
    }
    let page = r.body["images"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    // Newest first.
    assert_eq!(page[0]["id"], images[2].as_str());
    let next = r.body["next"].as_str().unwrap().to_owned();
    assert!(
        next.starts_with("/v2/images?") && next.contains("marker="),
        "{next}"
    );
    let r = cloud.get(&cloud.admin, &format!("/image{next}")).await;
    let ids: Vec<&str> = r.body["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [images[0].as_str(), cloud.image_id("cirros").await.as_str()]
    );
    assert!(r.body.get("next").is_none());

    let r = cloud
        .get(
            &cloud.admin,
            &format!("/image/v2/images?azmove_source={id}&status=active"),
        )
        .await;
    assert_eq!(r.body["images"].as_array().unwrap().len(), 3);
    let second = cloud.image(&images[1]).await;
    let since = second["updated_at"].as_str().unwrap();
    let r = cloud
        .get(
            &cloud.admin,
            &format!("/image/v2/images?updated_at=gt:{since}&azmove_source={id}"),
        )
        .await;
    let ids: Vec<&str> = r.body["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids, [images[2].as_str()]);
    let r = cloud
        .get(&cloud.admin, "/image/v2/images?name=snap-1")
        .await;
    assert_eq!(r.body["images"][0]["id"], images[1].as_str());

    // Delete, then it is gone with Glance's 404.
    let r = cloud
        .call(
            Method::DELETE,
            &cloud.admin,
            &format!("/image/v2/images/{}", images[0]),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = cloud
        .get(&cloud.admin, &format!("/image/v2/images/{}", images[0]))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.text
            .contains(&format!("No image found with ID {}", images[0])),
        "{}",
        r.text
    );
    // Members do not see the admin project's private snapshots.
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let r = cloud.get(&demo, "/image/v2/images").await;
    let names: Vec<&str> = r.body["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(names, ["cirros"]);
}

#[tokio::test]
async fn glance_patch_sets_properties() {
    let cloud = Cloud::start("").await;
    let image = cloud.image_id("cirros").await;
    let r = cloud
        .call(
            Method::PATCH,
            &cloud.admin,
            &format!("/image/v2/images/{image}"),
            Some(json!([{"op": "add", "path": "/azmove_plan", "value": "abc"}, {"op": "replace", "path": "/name", "value": "cirros2"}])),
            &[("Content-Type", "application/openstack-images-v2.1-json-patch")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["azmove_plan"], "abc");
    assert_eq!(r.body["name"], "cirros2");
}

#[tokio::test]
async fn neutron_filters_by_repeated_device_ids_and_pages() {
    let cloud = Cloud::start("").await;
    let a = cloud.server_id("admin_vm01").await;
    let d = cloud.server_id("demo_vm01").await;
    let r = cloud
        .get(
            &cloud.admin,
            &format!("/networking/v2.0/ports?device_id={a}&device_id={d}"),
        )
        .await;
    let devices: Vec<&str> = r.body["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["device_id"].as_str())
        .collect();
    assert_eq!(devices.len(), 2);
    assert!(devices.contains(&a.as_str()) && devices.contains(&d.as_str()));
    // Admins see bindings; members do not.
    assert!(r.body["ports"][0]["binding:host_id"].is_string());
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let r = cloud.get(&demo, "/networking/v2.0/ports").await;
    let ports = r.body["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1);
    assert!(ports[0].get("binding:host_id").is_none());
    // fields= trims, limit pages.
    let r = cloud
        .get(
            &cloud.admin,
            "/networking/v2.0/ports?fields=id&fields=device_id&limit=1",
        )
        .await;
    assert_eq!(keys(&r.body["ports"][0]), ["device_id", "id"]);
    assert_eq!(r.body["ports_links"][0]["rel"], "next");
    // Filters by name, and the sample's fields are there.
    let r = cloud
        .get(&cloud.admin, "/networking/v2.0/networks?name=net1")
        .await;
    let net = &r.body["networks"][0];
    for k in [
        "id",
        "name",
        "subnets",
        "shared",
        "router:external",
        "status",
        "project_id",
    ] {
        assert!(
            sample("neutron/networks/network-show-response.json")["network"]
                .get(k)
                .is_some()
        );
        assert!(net.get(k).is_some(), "network lacks {k}");
    }
    let r = cloud
        .get(&cloud.admin, "/networking/v2.0/networks/nope")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["NeutronError"]["type"], "NetworkNotFound");
    let r = cloud
        .get(&demo, "/networking/v2.0/security-groups?name=default")
        .await;
    assert_eq!(r.body["security_groups"].as_array().unwrap().len(), 1);
    // Admins see every project's.
    let r = cloud
        .get(
            &cloud.admin,
            "/networking/v2.0/security-groups?name=default",
        )
        .await;
    assert_eq!(r.body["security_groups"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn floating_ips_move_between_ports() {
    let cloud = Cloud::start_yaml(&format!(
        "{}\n  - {{name: other, project: admin, availability_zone: nova, flavor: m1.tiny, image: cirros, networks: [net1]}}\nfloating_ips:\n  - {{address: 172.24.4.10, network: public, project: admin, server: admin_vm01}}\n",
        sim_support::BASE.replace(
            "networks:\n",
            "networks:\n  - name: public\n    external: true\n    subnets: [{name: pub, cidr: 172.24.4.0/24}]\n"
        )
    ))
    .await;
    let r = cloud
        .get(&cloud.admin, "/networking/v2.0/floatingips")
        .await;
    let fip = r.body["floatingips"][0].clone();
    let theirs = sample("neutron/floatingips/floatingip-show-response.json");
    for k in [
        "id",
        "floating_ip_address",
        "port_id",
        "fixed_ip_address",
        "floating_network_id",
        "status",
    ] {
        assert!(
            theirs["floatingip"].get(k).is_some() && fip.get(k).is_some(),
            "{k}"
        );
    }
    let vm = cloud.server_id("admin_vm01").await;
    let s = cloud.server(&vm).await;
    let kinds: Vec<&str> = s["addresses"]["net1"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["OS-EXT-IPS:type"].as_str())
        .collect();
    assert_eq!(kinds, ["fixed", "floating"]);
    let other = cloud.server_id("other").await;
    let port = cloud
        .get(
            &cloud.admin,
            &format!("/networking/v2.0/ports?device_id={other}"),
        )
        .await;
    let port_id = port.body["ports"][0]["id"].as_str().unwrap().to_owned();
    let r = cloud
        .call(
            Method::PUT,
            &cloud.admin,
            &format!(
                "/networking/v2.0/floatingips/{}",
                fip["id"].as_str().unwrap()
            ),
            Some(json!({"floatingip": {"port_id": port_id}})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["floatingip"]["port_id"], port_id.as_str());
    assert_eq!(
        r.body["floatingip"]["fixed_ip_address"],
        port.body["ports"][0]["fixed_ips"][0]["ip_address"]
    );
    let s = cloud.server(&vm).await;
    assert_eq!(s["addresses"]["net1"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn cinder_lists_volumes_with_az_and_attachments() {
    let cloud = Cloud::start(EXTRA).await;
    let token_project = {
        let r = cloud.get(&cloud.admin, "/identity/v3/auth/projects").await;
        r.body["projects"][0]["id"].as_str().unwrap().to_owned()
    };
    let r = cloud
        .get(
            &cloud.admin,
            &format!("/volume/v3/{token_project}/volumes/detail"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let vols = r.body["volumes"].as_array().unwrap();
    assert_eq!(vols.len(), 2);
    let data = vols.iter().find(|v| v["name"] == "data1").unwrap();
    assert_eq!(data["availability_zone"], "nova2");
    assert_eq!(data["status"], "in-use");
    assert_eq!(data["bootable"], "false");
    let vm = cloud.server_id("vol_vm").await;
    assert_eq!(data["attachments"][0]["server_id"], vm.as_str());
    let theirs = &sample("cinder/volumes/volumes-list-detailed-response.json")["volumes"][0];
    for k in keys(theirs) {
        assert!(data.get(&k).is_some(), "volume lacks {k}");
    }
    // Nova shows the attachment too.
    let r = cloud
        .nova_get(
            &cloud.admin,
            &format!("/servers/{vm}/os-volume_attachments"),
            "2.89",
        )
        .await;
    let theirs = &sample("nova/os-volume_attachments/v2.89/list-volume-attachments-resp.json")["volumeAttachments"]
        [0];
    assert_eq!(keys(&r.body["volumeAttachments"][0]), keys(theirs));
    let s = cloud.server(&vm).await;
    assert_eq!(
        s["os-extended-volumes:volumes_attached"][0]["id"],
        data["id"]
    );
    let r = cloud
        .get(
            &cloud.admin,
            &format!("/volume/v3/{token_project}/os-availability-zone"),
        )
        .await;
    assert_eq!(r.body["availabilityZoneInfo"].as_array().unwrap().len(), 2);
    // Another project's URL is refused.
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let r = cloud
        .get(&demo, &format!("/volume/v3/{token_project}/volumes"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn interfaces_match_the_nova_sample() {
    let cloud = Cloud::start("").await;
    let vm = cloud.server_id("admin_vm01").await;
    let r = cloud
        .nova_get(&cloud.admin, &format!("/servers/{vm}/os-interface"), "2.70")
        .await;
    let theirs = &sample("nova/os-attach-interfaces/v2.70/attach-interfaces-list-resp.json")["interfaceAttachments"]
        [0];
    assert_eq!(keys(&r.body["interfaceAttachments"][0]), keys(theirs));
    assert_eq!(r.body["interfaceAttachments"][0]["port_state"], "ACTIVE");
}
