//! Scale: a 10,000-server scenario loads, and every page of
//! `GET /servers/detail` comes back with each server exactly once.
//! Prints load time, list time and peak RSS; asserts only correctness.

use std::collections::HashSet;
use std::time::Instant;

use azmove::sim;
use serde_json::Value;

use crate::support::peak_rss_kib;
use crate::support::scenario::ScenarioBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_servers_load_and_list_completely() {
    let t0 = Instant::now();
    let scenario = ScenarioBuilder::fleet(3, 10_000).build();
    let handle = sim::start(scenario, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let load = t0.elapsed();

    let http = reqwest::Client::new();
    let auth: Value = serde_json::json!({"auth": {"identity": {"methods": ["password"],
        "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "secret"}}}}});
    let r = http
        .post(format!("{}/identity/v3/auth/tokens", handle.base_url()))
        .json(&auth)
        .send()
        .await
        .unwrap();
    let token = r.headers()["x-subject-token"].to_str().unwrap().to_owned();

    let t1 = Instant::now();
    let mut seen = HashSet::new();
    let mut pages = 0;
    let mut next = Some(format!("{}/compute/v2.1/servers/detail", handle.base_url()));
    while let Some(url) = next {
        let body: Value = http
            .get(&url)
            .header("X-Auth-Token", &token)
            .header("OpenStack-API-Version", "compute 2.96")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for s in body["servers"].as_array().unwrap() {
            assert!(seen.insert(s["id"].as_str().unwrap().to_owned()));
            assert_eq!(s["OS-EXT-AZ:availability_zone"], "nova");
        }
        pages += 1;
        next = body["servers_links"][0]["href"].as_str().map(str::to_owned);
    }
    let list = t1.elapsed();
    assert_eq!(seen.len(), 10_000);
    // Like Nova, a full last page still carries a `next` link; the page
    // after it is empty.
    assert_eq!(pages, 11);
    println!(
        "10,000 servers: load {:.3} s, full paginated list {:.3} s ({pages} pages), peak RSS {} MiB",
        load.as_secs_f64(),
        list.as_secs_f64(),
        peak_rss_kib()
            .map(|k| (k / 1024).to_string())
            .unwrap_or_else(|| "?".into())
    );
    handle.shutdown().await;
}
