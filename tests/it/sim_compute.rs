//! Nova in the simulator: microversion negotiation, the server views per
//! microversion and role (checked against Nova's own API samples),
//! filters, pagination, flavors and availability zones.

use std::collections::HashSet;

use crate::support::sim::{Cloud, keys, sample};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn microversion_headers_follow_the_request() {
    let cloud = Cloud::start("").await;
    let r = cloud.nova_get(&cloud.admin, "/servers", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.1"));
    assert_eq!(r.header("x-openstack-nova-api-version"), Some("2.1"));
    assert_eq!(
        r.header("vary"),
        Some("OpenStack-API-Version, X-OpenStack-Nova-API-Version")
    );
    assert!(
        r.header("x-compute-request-id")
            .is_some_and(|v| v.starts_with("req-"))
    );
    assert_eq!(
        r.header("x-compute-request-id"),
        r.header("x-openstack-request-id")
    );

    let r = cloud.nova_get(&cloud.admin, "/servers", "2.47").await;
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.47"));
    let r = cloud.nova_get(&cloud.admin, "/servers", "latest").await;
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.104"));
    let r = cloud
        .call(
            reqwest::Method::GET,
            &cloud.admin,
            "/compute/v2.1/servers",
            None,
            &[("X-OpenStack-Nova-API-Version", "2.60")],
        )
        .await;
    assert_eq!(r.header("x-openstack-nova-api-version"), Some("2.60"));
}

#[tokio::test]
async fn unsupported_microversions_get_406_and_bad_ones_400() {
    let cloud = Cloud::start("").await;
    let r = cloud.nova_get(&cloud.admin, "/servers", "2.105").await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        r.body["computeFault"]["message"],
        "Version 2.105 is not supported by the API. Minimum is 2.1 and maximum is 2.104."
    );
    let r = cloud.nova_get(&cloud.admin, "/servers", "3.0").await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    let r = cloud.nova_get(&cloud.admin, "/servers", "2.x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["badRequest"]["code"], 400);
}

#[tokio::test]
async fn max_microversion_is_configurable() {
    let cloud = Cloud::start("max_microversion: \"2.60\"\n").await;
    let r = cloud.get("", "/compute/v2.1").await;
    assert_eq!(r.body["version"]["version"], "2.60");
    assert_eq!(r.body["version"]["min_version"], "2.1");
    let r = cloud.nova_get(&cloud.admin, "/servers", "2.61").await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    let r = cloud.nova_get(&cloud.admin, "/servers", "latest").await;
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.60"));
}

#[tokio::test]
async fn version_documents_match_nova_samples() {
    let cloud = Cloud::start("").await;
    let r = cloud.get("", "/compute/").await;
    let ours = &r.body["versions"];
    let theirs = sample("nova/versions/versions-get-resp.json");
    assert_eq!(keys(&ours[1]), keys(&theirs["versions"][1]));
    assert_eq!(ours[1]["version"], "2.104");
    let r = cloud.get("", "/compute/v2.1/").await;
    let theirs = sample("nova/versions/v21-version-get-resp.json");
    assert_eq!(keys(&r.body["version"]), keys(&theirs["version"]));
}

/// The server of the detail list at a microversion, for a user.
async fn detail_of(cloud: &Cloud, token: &str, mv: &str) -> Value {
    let r = cloud.nova_get(token, "/servers/detail", mv).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["servers"][0].clone()
}

#[tokio::test]
async fn server_fields_match_nova_samples_per_microversion_and_role() {
    let cloud = Cloud::start("").await;
    let admin = cloud.admin.clone();
    // Nova's samples are rendered for the admin at 2.1 and 2.47 and for a
    // project member from 2.90 on (OS-EXT-SRV-ATTR:hostname only).
    for (mv, file) in [
        ("2.1", "nova/servers/servers-details-resp.json"),
        ("2.3", "nova/servers/v2.3/servers-details-resp.json"),
        ("2.16", "nova/servers/v2.16/servers-details-resp.json"),
        ("2.47", "nova/servers/v2.47/servers-details-resp.json"),
        ("2.63", "nova/servers/v2.63/servers-details-resp.json"),
        ("2.73", "nova/servers/v2.73/servers-details-resp.json"),
    ] {
        let ours = detail_of(&cloud, &admin, mv).await;
        let theirs = &sample(file)["servers"][0];
        assert_eq!(keys(&ours), keys(theirs), "admin view at {mv} vs {file}");
    }
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    for (mv, file) in [
        ("2.90", "nova/servers/v2.90/servers-details-resp.json"),
        ("2.96", "nova/servers/v2.96/servers-details-resp.json"),
        ("2.98", "nova/servers/v2.98/servers-details-resp.json"),
        ("2.100", "nova/servers/v2.100/servers-details-resp.json"),
    ] {
        let ours = detail_of(&cloud, &demo, mv).await;
        let theirs = &sample(file)["servers"][0];
        assert_eq!(keys(&ours), keys(theirs), "member view at {mv} vs {file}");
    }
    // Embedded flavor from 2.47, with the sample's keys.
    let ours = detail_of(&cloud, &admin, "2.47").await;
    let theirs = &sample("nova/servers/v2.47/servers-details-resp.json")["servers"][0];
    assert_eq!(keys(&ours["flavor"]), keys(&theirs["flavor"]));
    assert_eq!(ours["flavor"]["original_name"], "m1.tiny");
    let old = detail_of(&cloud, &admin, "2.46").await;
    assert_eq!(old["flavor"]["id"], "1");
    // Image properties from 2.98.
    let ours = detail_of(&cloud, &admin, "2.98").await;
    assert!(ours["image"]["properties"].is_object());
    // GET one server adds server_groups from 2.71.
    let id = ours["id"].as_str().unwrap();
    let r = cloud
        .nova_get(&admin, &format!("/servers/{id}"), "2.71")
        .await;
    let theirs = &sample("nova/servers/v2.71/server-get-resp.json")["server"];
    assert_eq!(keys(&r.body["server"]), keys(theirs));
}

#[tokio::test]
async fn members_see_their_project_only_and_no_host() {
    let cloud = Cloud::start("").await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let r = cloud.nova_get(&demo, "/servers/detail", "2.96").await;
    let servers = r.body["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0]["name"], "demo_vm01");
    assert!(
        servers[0]
            .get("OS-EXT-SRV-ATTR:hypervisor_hostname")
            .is_none()
    );
    assert!(servers[0].get("OS-EXT-SRV-ATTR:host").is_none());
    assert!(servers[0].get("host_status").is_none());
    assert_eq!(servers[0]["OS-EXT-AZ:availability_zone"], "nova");
    // all_tenants is admin-only.
    let r = cloud
        .nova_get(&demo, "/servers/detail?all_tenants=1", "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["forbidden"]["message"],
        "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed."
    );
    // Another project's server does not exist for a member.
    let admin_vm = cloud.server_id("admin_vm01").await;
    let r = cloud
        .nova_get(&demo, &format!("/servers/{admin_vm}"), "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["itemNotFound"]["message"],
        format!("Instance {admin_vm} could not be found.")
    );
    // The admin sees the host; without all_tenants only its own project.
    let r = cloud
        .nova_get(&cloud.admin, "/servers/detail", "2.96")
        .await;
    let servers = r.body["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0]["OS-EXT-SRV-ATTR:hypervisor_hostname"], "node-27");
    let r = cloud
        .nova_get(&cloud.admin, "/servers/detail?all_tenants=1", "2.96")
        .await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn filters_narrow_the_list() {
    let cloud = Cloud::start(
        "  - generate: {count: 5, name: \"web-{i:02}\", availability_zone: nova2, flavor: m1.tiny, image: cirros, project: admin}\n",
    )
    .await;
    let ids = |r: &crate::support::sim::Reply| -> Vec<String> {
        r.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = cloud
        .nova_get(&cloud.admin, "/servers?name=^web-0[13]$", "")
        .await;
    let mut names = ids(&r);
    names.sort();
    assert_eq!(names, ["web-01", "web-03"]);
    let r = cloud
        .nova_get(&cloud.admin, "/servers/detail?availability_zone=nova2", "")
        .await;
    assert_eq!(ids(&r).len(), 5);
    let r = cloud
        .nova_get(&cloud.admin, "/servers/detail?host=node-27", "")
        .await;
    assert_eq!(ids(&r), ["admin_vm01"]);
    let r = cloud
        .nova_get(&cloud.admin, "/servers/detail?status=SHUTOFF", "")
        .await;
    assert!(ids(&r).is_empty());
    // Unknown query parameters are refused from 2.75.
    let r = cloud
        .nova_get(&cloud.admin, "/servers?colour=red", "2.75")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = cloud
        .nova_get(&cloud.admin, "/servers?colour=red", "2.74")
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn members_cannot_filter_by_host_and_by_az_only_from_2_83() {
    let cloud = Cloud::start("").await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    // Nova silently ignores filters a member may not use.
    let r = cloud.nova_get(&demo, "/servers?host=nowhere", "2.90").await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 1);
    let r = cloud
        .nova_get(&demo, "/servers?availability_zone=nova2", "2.82")
        .await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 1);
    let r = cloud
        .nova_get(&demo, "/servers?availability_zone=nova2", "2.83")
        .await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn pagination_walks_every_server_once() {
    let yaml = format!(
        "{}\n  - generate: {{count: 2500, name: \"vm-{{i:05}}\", availability_zone: nova, flavor: m1.tiny, image: cirros, project: admin}}\n",
        crate::support::sim::BASE.replace(
            "vcpus: 8, ram_mb: 16384, disk_gb: 200",
            "vcpus: 2000, ram_mb: 2000000, disk_gb: 20000"
        )
    );
    let cloud = Cloud::start_yaml(&yaml).await;
    let mut seen = HashSet::new();
    let mut next = Some(format!("{}/compute/v2.1/servers/detail", cloud.base));
    let mut pages = 0;
    while let Some(url) = next {
        let r = cloud.get(&cloud.admin, &url).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let page = r.body["servers"].as_array().unwrap();
        assert!(page.len() <= 1000);
        for s in page {
            assert!(
                seen.insert(s["id"].as_str().unwrap().to_owned()),
                "duplicate"
            );
        }
        next = r.body["servers_links"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["rel"] == "next"))
            .and_then(|x| x["href"].as_str())
            .map(str::to_owned);
        pages += 1;
    }
    assert_eq!(seen.len(), 2501);
    assert_eq!(pages, 3);
    // limit is honoured and a bad marker is a 400.
    let r = cloud.nova_get(&cloud.admin, "/servers?limit=7", "").await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 7);
    let href = r.body["servers_links"][0]["href"].as_str().unwrap();
    assert!(
        href.contains("limit=7") && href.contains("marker="),
        "{href}"
    );
    let r = cloud
        .nova_get(&cloud.admin, "/servers?marker=nope", "")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["badRequest"]["message"], "marker [nope] not found");
}

#[tokio::test]
async fn flavors_follow_the_microversion() {
    let cloud = Cloud::start("").await;
    let r = cloud
        .nova_get(&cloud.admin, "/flavors/detail", "2.61")
        .await;
    let ours = &r.body["flavors"][0];
    let theirs = &sample("nova/flavors/v2.61/flavors-detail-resp.json")["flavors"][0];
    assert_eq!(keys(ours), keys(theirs));
    let r = cloud.nova_get(&cloud.admin, "/flavors/1", "2.102").await;
    let theirs = &sample("nova/flavors/v2.102/flavor-get-resp.json")["flavor"];
    assert_eq!(keys(&r.body["flavor"]), keys(theirs));
    let r = cloud.nova_get(&cloud.admin, "/flavors", "2.55").await;
    let theirs = &sample("nova/flavors/v2.55/flavors-list-resp.json")["flavors"][0];
    assert_eq!(keys(&r.body["flavors"][0]), keys(theirs));
    let r = cloud.nova_get(&cloud.admin, "/flavors/1", "").await;
    assert_eq!(r.body["flavor"]["swap"], "");
    let r = cloud.nova_get(&cloud.admin, "/flavors/99", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn availability_zones_list_and_admin_detail() {
    let cloud = Cloud::start("").await;
    let r = cloud
        .nova_get(&cloud.admin, "/os-availability-zone", "")
        .await;
    let zones: Vec<&str> = r.body["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|z| z["zoneName"].as_str())
        .collect();
    assert_eq!(zones, ["nova", "nova2"]);
    let theirs = &sample("nova/os-availability-zone/availability-zone-list-resp.json")["availabilityZoneInfo"]
        [0];
    assert_eq!(keys(&r.body["availabilityZoneInfo"][0]), keys(theirs));
    let r = cloud
        .nova_get(&cloud.admin, "/os-availability-zone/detail", "")
        .await;
    let nova2 = r.body["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["zoneName"] == "nova2")
        .unwrap()
        .clone();
    assert!(nova2["hosts"]["node-31"]["nova-compute"]["available"] == true);
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let r = cloud
        .nova_get(&demo, "/os-availability-zone/detail", "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn limits_report_quota_and_usage() {
    let cloud = Cloud::start("").await;
    let r = cloud.nova_get(&cloud.admin, "/limits", "2.57").await;
    let theirs = &sample("nova/limits/v2.57/limit-get-resp.json")["limits"]["absolute"];
    let abs = &r.body["limits"]["absolute"];
    assert_eq!(keys(abs), keys(theirs));
    assert_eq!(abs["totalInstancesUsed"], 1);
    assert_eq!(abs["maxTotalInstances"], 10);
}
