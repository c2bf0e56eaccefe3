//! Fault injection in the simulator: every fault kind, and determinism
//! (the same seed gives the same faults for the same sequence of calls).

use std::time::Instant;

use crate::support::sim::Cloud;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_nth_snapshot_is_killed() {
    let cloud = Cloud::start("faults:\n  - snapshot_killed: {nth: 2}\n").await;
    let id = cloud.server_id("admin_vm01").await;
    let mut statuses = Vec::new();
    for n in 0..3 {
        let r = cloud
            .action(
                &cloud.admin,
                &id,
                json!({"createImage": {"name": format!("s{n}")}}),
                "2.45",
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        let image = r.body["image_id"].as_str().unwrap().to_owned();
        cloud.advance(15.0);
        statuses.push(
            cloud.image(&image).await["status"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        // The server is usable again either way.
        assert_eq!(
            cloud.server(&id).await["OS-EXT-STS:task_state"],
            serde_json::Value::Null
        );
    }
    assert_eq!(statuses, ["active", "killed", "active"]);
    assert_eq!(cloud.sim.stats().faults_injected["snapshot_killed"], 1);
}

#[tokio::test]
async fn boot_errors_hit_only_their_az() {
    let cloud = Cloud::start("faults:\n  - boot_error: {availability_zone: nova2, nth: 1}\n").await;
    let a = cloud.boot(&cloud.admin, "a", "1", Some("nova")).await;
    let b = cloud.boot(&cloud.admin, "b", "1", Some("nova2")).await;
    let c = cloud.boot(&cloud.admin, "c", "1", Some("nova2")).await;
    cloud.advance(10.0);
    assert_eq!(cloud.server(&a).await["status"], "ACTIVE");
    let s = cloud.server(&b).await;
    assert_eq!(s["status"], "ERROR");
    assert!(
        s["fault"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No valid host was found.")
    );
    assert_eq!(cloud.server(&c).await["status"], "ACTIVE");
}

#[tokio::test]
async fn rate_limits_with_and_without_retry_after() {
    let cloud = Cloud::start(
        "faults:\n  - http_error: {status: 429, retry_after: 3s, service: compute, path: \"^/servers/detail$\", nth: [2]}\n  - http_error: {status: 429, service: image, nth: 1}\n",
    )
    .await;
    let statuses: Vec<(StatusCode, Option<String>)> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let r = cloud.nova_get(&cloud.admin, "/servers/detail", "").await;
            v.push((r.status, r.header("retry-after").map(str::to_owned)));
        }
        v
    };
    assert_eq!(
        statuses,
        [
            (StatusCode::OK, None),
            (StatusCode::TOO_MANY_REQUESTS, Some("3".to_owned())),
            (StatusCode::OK, None)
        ]
    );
    // Other compute routes are not counted by that rule.
    assert_eq!(
        cloud.nova_get(&cloud.admin, "/servers", "").await.status,
        StatusCode::OK
    );
    let r = cloud.get(&cloud.admin, "/image/v2/images").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_none());
    assert!(r.text.contains("429 Too Many Requests"));
    assert_eq!(cloud.sim.stats().faults_injected["http_error 429"], 2);
}

#[tokio::test]
async fn bursts_of_503_cover_a_range_of_calls() {
    let cloud = Cloud::start(
        "faults:\n  - http_error: {status: 503, calls: {from: 3, to: 5}, service: compute}\n",
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            cloud
                .nova_get(&cloud.admin, "/servers", "")
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 503, 503, 503, 200, 200]);
}

#[tokio::test]
async fn service_errors_have_the_services_shape() {
    let cloud = Cloud::start(
        "faults:\n  - http_error: {status: 409, action: createImage, nth: 1, message: \"Cannot 'createImage' right now\"}\n  - http_error: {status: 500, service: network, nth: 1}\n",
    )
    .await;
    let id = cloud.server_id("admin_vm01").await;
    let r = cloud
        .action(&cloud.admin, &id, json!({"os-stop": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(3.0);
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"createImage": {"name": "x"}}),
            "2.45",
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        "Cannot 'createImage' right now"
    );
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"createImage": {"name": "x"}}),
            "2.45",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = cloud.get(&cloud.admin, "/networking/v2.0/ports").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.body["NeutronError"]["message"].is_string());
}

#[tokio::test]
async fn latency_delays_answers() {
    let cloud = Cloud::start("faults:\n  - latency: {delay: 300ms, service: image}\n").await;
    let t = Instant::now();
    let r = cloud.get(&cloud.admin, "/image/v2/images").await;
    assert_eq!(r.status, StatusCode::OK);
    // A lower bound only: the answer cannot come before the injected delay.
    assert!(t.elapsed().as_millis() >= 300);
    assert_eq!(cloud.sim.stats().faults_injected["latency"], 1);
}

async fn run_probabilistic(seed: u64) -> Vec<u16> {
    let cloud = Cloud::start_yaml(&format!(
        "{}\nfaults:\n  - http_error: {{status: 503, probability: 0.3, service: compute}}\n  - boot_error: {{probability: 0.5}}\n",
        crate::support::sim::BASE.replace("seed: 7", &format!("seed: {seed}"))
    ))
    .await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(
            cloud
                .nova_get(&cloud.admin, "/servers", "")
                .await
                .status
                .as_u16(),
        );
    }
    out
}

#[tokio::test]
async fn same_seed_same_faults() {
    let a = run_probabilistic(11).await;
    let b = run_probabilistic(11).await;
    let c = run_probabilistic(12).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&503) && a.contains(&200));
}

#[tokio::test]
async fn same_seed_same_ids_and_boot_outcomes() {
    async fn outcomes(seed: u64) -> Vec<(String, String)> {
        let cloud = Cloud::start_yaml(&format!(
            "{}\nfaults:\n  - boot_error: {{probability: 0.5}}\nprojects:\n  - {{name: admin, quota: {{instances: -1, cores: -1, ram_mb: -1}}}}\n",
            crate::support::sim::BASE.replace("seed: 7", &format!("seed: {seed}"))
        ))
        .await;
        let mut ids = Vec::new();
        for n in 0..12 {
            ids.push(
                cloud
                    .boot(&cloud.admin, &format!("b{n}"), "1", Some("nova"))
                    .await,
            );
        }
        cloud.advance(10.0);
        let mut out = Vec::new();
        for id in ids {
            let s = cloud.server(&id).await;
            out.push((id, s["status"].as_str().unwrap().to_owned()));
        }
        out
    }
    let a = outcomes(5).await;
    assert_eq!(a, outcomes(5).await);
    assert!(a.iter().any(|(_, s)| s == "ERROR") && a.iter().any(|(_, s)| s == "ACTIVE"));
}
