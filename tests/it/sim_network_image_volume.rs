//! Glance, Neutron and Cinder in the simulator: list filters and paging,
//! error shapes, floating IPs and volumes, compared with upstream samples.

use crate::support::sim::{Cloud, keys, sample};
use reqwest::{Method, StatusCode};
use serde_json::json;

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
        crate::support::sim::BASE.replace(
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

const JSON_PATCH: (&str, &str) = (
    "Content-Type",
    "application/openstack-images-v2.1-json-patch",
);

/// Ids of an image list answer.
fn image_ids(r: &crate::support::sim::Reply) -> Vec<String> {
    r.body["images"]
        .as_array()
        .unwrap_or_else(|| panic!("not an image list: {}", r.text))
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect()
}

fn at(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[tokio::test]
async fn glance_hidden_records_are_listed_only_when_asked_for() {
    let cloud = Cloud::start("").await;
    let demo_project = cloud.server(&cloud.server_id("demo_vm01").await).await["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // An admin files a hidden record in the demo project: no data, so queued.
    let r = cloud
        .call(
            Method::POST,
            &cloud.admin,
            "/image/v2/images",
            Some(
                json!({"name": "claim-s1", "os_hidden": true, "visibility": "private",
                "container_format": "bare", "disk_format": "raw",
                "owner": demo_project, "azmove_claim": "s1"}),
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["os_hidden"], true);
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["owner"], demo_project.as_str());
    assert_eq!(r.body["azmove_claim"], "s1");
    let claim = r.body["id"].as_str().unwrap().to_owned();
    // Whole seconds, as Glance shows them.
    let created = r.body["created_at"].as_str().unwrap().to_owned();
    assert!(created.len() == 20 && created.ends_with('Z'), "{created}");

    let plain = cloud.get(&cloud.admin, "/image/v2/images").await;
    assert!(!image_ids(&plain).contains(&claim), "{}", plain.text);
    let r = cloud
        .get(&cloud.admin, "/image/v2/images?os_hidden=false")
        .await;
    assert!(!image_ids(&r).contains(&claim));
    let r = cloud
        .get(&cloud.admin, "/image/v2/images?os_hidden=true")
        .await;
    assert_eq!(image_ids(&r), [claim.as_str()], "only hidden ones");
    let r = cloud
        .get(
            &cloud.admin,
            "/image/v2/images?os_hidden=True&azmove_claim=s1",
        )
        .await;
    assert_eq!(image_ids(&r), [claim.as_str()]);
    let r = cloud
        .get(
            &cloud.admin,
            "/image/v2/images?os_hidden=true&azmove_claim=s2",
        )
        .await;
    assert_eq!(image_ids(&r), Vec::<String>::new());
    let r = cloud
        .get(&cloud.admin, "/image/v2/images?os_hidden=maybe")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text.contains(
            "Invalid value 'maybe' for 'os_hidden' filter. Valid values are 'true' or 'false'."
        ),
        "{}",
        r.text
    );
    // Shown by id, to its owner project's members too.
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let r = cloud
        .get(&demo, "/image/v2/images?os_hidden=true&azmove_claim=s1")
        .await;
    assert_eq!(image_ids(&r), [claim.as_str()]);
    let r = cloud.get(&demo, &format!("/image/v2/images/{claim}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["os_hidden"], true);

    // Deleted: gone from every list at once.
    let r = cloud
        .call(
            Method::DELETE,
            &cloud.admin,
            &format!("/image/v2/images/{claim}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = cloud
        .get(&demo, "/image/v2/images?os_hidden=true&azmove_claim=s1")
        .await;
    assert_eq!(image_ids(&r), Vec::<String>::new());
}

#[tokio::test]
async fn glance_owner_on_create_is_for_admins() {
    let cloud = Cloud::start("").await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let admin_project = cloud.server(&cloud.server_id("admin_vm01").await).await["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = cloud
        .call(
            Method::POST,
            &demo,
            "/image/v2/images",
            Some(json!({"name": "x", "os_hidden": true, "owner": admin_project})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text.contains(&format!(
            "You are not permitted to create images owned by '{admin_project}'"
        )),
        "{}",
        r.text
    );
    // os_hidden must be a boolean, and nothing was created.
    let r = cloud
        .call(
            Method::POST,
            &demo,
            "/image/v2/images",
            Some(json!({"name": "x", "os_hidden": "yes"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.text.contains(
            "Provided object does not match schema 'image': 'yes' is not of type 'boolean'"
        ),
        "{}",
        r.text
    );
    let r = cloud
        .call(
            Method::GET,
            &demo,
            "/image/v2/images?os_hidden=true",
            None,
            &[],
        )
        .await;
    assert_eq!(image_ids(&r), Vec::<String>::new());
}

#[tokio::test]
async fn glance_patch_moves_updated_at_to_the_clouds_now() {
    let cloud = Cloud::start("").await;
    let r = cloud
        .call(
            Method::POST,
            &cloud.admin,
            "/image/v2/images",
            Some(json!({"name": "claim", "os_hidden": true, "azmove_claim": "s1"})),
            &[],
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let created = at(r.body["updated_at"].as_str().unwrap());
    cloud.advance(90.0);
    let path = format!("/image/v2/images/{id}");
    let r = cloud
        .call(
            Method::PATCH,
            &cloud.admin,
            &path,
            Some(json!([{"op": "add", "path": "/azmove_beat", "value": "1"},
                        {"op": "replace", "path": "/azmove_claim", "value": "s2"}])),
            &[JSON_PATCH],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["azmove_claim"], "s2");
    assert_eq!(r.body["azmove_beat"], "1");
    assert_eq!(r.body["os_hidden"], true);
    let updated = at(r.body["updated_at"].as_str().unwrap());
    assert!(
        updated - created >= time::Duration::seconds(89),
        "{created} → {updated}"
    );
    // The Date of the answer is the same clock (whole seconds).
    let date = httpdate::parse_http_date(r.header("date").unwrap()).unwrap();
    let date = time::OffsetDateTime::from(date);
    assert!(
        (date - updated).abs() <= time::Duration::seconds(1),
        "{date} vs {updated}"
    );
    // The property filter sees the new value, the time filter the new time.
    let r = cloud
        .get(
            &cloud.admin,
            &format!(
                "/image/v2/images?os_hidden=true&azmove_claim=s2&updated_at=gte:{}",
                iso(updated)
            ),
        )
        .await;
    assert_eq!(image_ids(&r), [id.as_str()]);

    // Glance's refusals: a missing property cannot be replaced, base
    // attributes cannot be removed, and the content type is JSON patch.
    for (ops, status, text) in [
        (
            json!([{"op": "replace", "path": "/nope", "value": "1"}]),
            StatusCode::CONFLICT,
            "Property nope does not exist.",
        ),
        (
            json!([{"op": "remove", "path": "/nope"}]),
            StatusCode::CONFLICT,
            "Property nope does not exist.",
        ),
        (
            json!([{"op": "remove", "path": "/os_hidden"}]),
            StatusCode::FORBIDDEN,
            "Property os_hidden may not be removed.",
        ),
        (
            json!([{"op": "replace", "path": "/status", "value": "active"}]),
            StatusCode::FORBIDDEN,
            "Attribute 'status' is read-only.",
        ),
    ] {
        let r = cloud
            .call(
                Method::PATCH,
                &cloud.admin,
                &path,
                Some(ops.clone()),
                &[JSON_PATCH],
            )
            .await;
        assert_eq!(r.status, status, "{ops}: {}", r.text);
        assert!(r.text.contains(text), "{ops}: {}", r.text);
    }
    let r = cloud
        .call(
            Method::PATCH,
            &cloud.admin,
            &path,
            Some(json!([{"op": "remove", "path": "/azmove_beat"}])),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    assert!(r.header("accept-patch").is_some());
    // Unhidden, it joins the plain list.
    let r = cloud
        .call(
            Method::PATCH,
            &cloud.admin,
            &path,
            Some(
                json!([{"op": "replace", "path": "/os_hidden", "value": false},
                        {"op": "remove", "path": "/azmove_beat"}]),
            ),
            &[JSON_PATCH],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body.get("azmove_beat").is_none());
    let r = cloud.get(&cloud.admin, "/image/v2/images").await;
    assert!(image_ids(&r).contains(&id));
}

fn iso(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn every_answer_is_dated_by_the_clouds_clock() {
    let cloud = Cloud::start("").await;
    // Less than the tokens' hour.
    cloud.advance(1800.0);
    let wall = time::OffsetDateTime::now_utc();
    for path in [
        "/image/v2/images",
        "/compute/v2.1/servers/detail",
        "/networking/v2.0/ports",
    ] {
        let r = cloud.get(&cloud.admin, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let date = r
            .header("date")
            .unwrap_or_else(|| panic!("{path} has no Date"));
        let date = time::OffsetDateTime::from(httpdate::parse_http_date(date).unwrap());
        let ahead = date - wall;
        assert!(
            ahead >= time::Duration::seconds(1798) && ahead <= time::Duration::seconds(1805),
            "{path}: Date {date} is {ahead} ahead of the wall clock"
        );
    }
}
