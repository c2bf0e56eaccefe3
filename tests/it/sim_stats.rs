//! The simulator's own observations: `GET /_sim/stats` and the admin hooks.

use crate::support::sim::Cloud;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn stats_count_requests_per_api_method_and_route() {
    let cloud = Cloud::start("").await;
    for _ in 0..3 {
        cloud.nova_get(&cloud.admin, "/servers/detail", "").await;
    }
    cloud.get(&cloud.admin, "/image/v2/images").await;
    let id = cloud.server_id("admin_vm01").await;
    cloud
        .nova_get(&cloud.admin, &format!("/servers/{id}"), "")
        .await;
    let r = cloud.get("", "/_sim/stats").await;
    assert_eq!(r.status, StatusCode::OK);
    let s = &r.body;
    assert_eq!(s["requests_by_route"]["compute GET /servers/detail"], 3);
    assert_eq!(s["requests_by_route"]["compute GET /servers/{id}"], 1);
    assert_eq!(s["requests_by_route"]["compute GET /servers"], 1);
    assert_eq!(s["requests_by_route"]["image GET /images"], 1);
    assert_eq!(s["requests_by_method"]["compute GET"], 5);
    assert_eq!(s["requests_by_api"]["identity"], 1);
    assert!(s["max_requests_per_second"].as_u64().unwrap() >= 1);
    // The stats endpoint does not count itself, and matches the handle.
    let again = cloud.sim.stats();
    assert_eq!(again.requests_total, s["requests_total"].as_u64().unwrap());
}

#[tokio::test]
async fn stats_track_operations_per_az_and_resources() {
    let cloud = Cloud::start("").await;
    let ids = [
        cloud.boot(&cloud.admin, "t1", "1", Some("nova2")).await,
        cloud.boot(&cloud.admin, "t2", "1", Some("nova2")).await,
        cloud.boot(&cloud.admin, "t3", "1", Some("nova2")).await,
    ];
    let src = cloud.server_id("admin_vm01").await;
    cloud
        .action(
            &cloud.admin,
            &src,
            json!({"createImage": {"name": "s"}}),
            "2.45",
        )
        .await;
    let s = cloud.sim.stats();
    assert_eq!(s.operations.in_flight, 4);
    assert_eq!(s.operations.in_flight_by_target_az["nova2"], 3);
    assert_eq!(s.operations.in_flight_by_source_az["nova"], 1);
    cloud.advance(20.0);
    let r = cloud
        .call(
            Method::DELETE,
            &cloud.admin,
            &format!("/compute/v2.1/servers/{}", ids[0]),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    cloud.advance(2.0);
    let s = cloud.sim.stats();
    assert_eq!(s.operations.in_flight, 0);
    assert_eq!(s.operations.max_in_flight, 4);
    assert_eq!(s.operations.max_in_flight_by_target_az["nova2"], 3);
    assert_eq!(s.operations.started["boot"], 3);
    assert_eq!(s.operations.started["snapshot"], 1);
    let created_servers: Vec<_> = s.created.iter().filter(|e| e.kind == "server").collect();
    assert_eq!(created_servers.len(), 3);
    assert_eq!(s.created.iter().filter(|e| e.kind == "port").count(), 3);
    assert_eq!(s.created.iter().filter(|e| e.kind == "image").count(), 1);
    let deleted: Vec<_> = s
        .deleted
        .iter()
        .map(|e| (e.kind.as_str(), e.id.as_str()))
        .collect();
    assert!(deleted.contains(&("server", ids[0].as_str())));
    assert_eq!(deleted.iter().filter(|(k, _)| *k == "port").count(), 1);
}

#[tokio::test]
async fn hooks_change_the_cloud_behind_the_clients_back() {
    let cloud = Cloud::start("").await;
    let id = cloud.server_id("admin_vm01").await;
    let r = cloud
        .call(
            Method::POST,
            "",
            "/_sim/servers/admin_vm01",
            Some(json!({"status": "SHUTOFF", "metadata": {"owner": "ops"}})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let s = cloud.server(&id).await;
    assert_eq!(s["status"], "SHUTOFF");
    assert_eq!(s["metadata"]["owner"], "ops");
    let r = cloud
        .call(
            Method::POST,
            "",
            "/_sim/hosts/node-31",
            Some(json!({"enabled": false})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let b = cloud.boot(&cloud.admin, "b", "1", Some("nova2")).await;
    cloud.advance(10.0);
    assert_eq!(cloud.server(&b).await["status"], "ERROR");
    let r = cloud
        .nova_get(&cloud.admin, "/os-availability-zone", "")
        .await;
    let nova2 = r.body["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["zoneName"] == "nova2")
        .unwrap()
        .clone();
    assert_eq!(nova2["zoneState"]["available"], false);
    let r = cloud
        .call(
            Method::POST,
            "",
            "/_sim/clock/advance",
            Some(json!({"seconds": 5})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["now"].is_string());
}
