//! The conflicts two operators (or two azmove runs) meet on a real cloud:
//! metadata writes refused by the server's state, and Nova's
//! compare-and-swap on task_state lost by the second of two overlapping
//! actions (`races.task_state_window`).

use std::time::{Duration, Instant};

use crate::support::sim::{Cloud, Reply};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Nova's answer to an action that lost the task_state swap (wsgi.py's
/// "Unexpected API Error", `[DEFAULT] support` text of Nova ≥ 2025.1).
fn unexpected(class: &str) -> Value {
    json!({"computeFault": {"code": 500, "message": format!(
        "Unexpected API Error. Please contact the administrator\n<class 'nova.exception.{class}'>"
    )}})
}

fn conflict(message: String) -> Value {
    json!({"conflictingRequest": {"code": 409, "message": message}})
}

async fn meta(
    cloud: &Cloud,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    cloud
        .call(
            method,
            token,
            &format!("/compute/v2.1/servers/{path}"),
            body,
            &[],
        )
        .await
}

/// Every metadata write, with the action name Nova puts in its 409.
fn writes(id: &str) -> Vec<(Method, String, Option<Value>, &'static str)> {
    vec![
        (
            Method::POST,
            format!("{id}/metadata"),
            Some(json!({"metadata": {"x": "1"}})),
            "update metadata",
        ),
        (
            Method::PUT,
            format!("{id}/metadata"),
            Some(json!({"metadata": {"a": "1"}})),
            "update metadata",
        ),
        (
            Method::PUT,
            format!("{id}/metadata/a"),
            Some(json!({"meta": {"a": "2"}})),
            "update metadata",
        ),
        (
            Method::DELETE,
            format!("{id}/metadata/a"),
            None,
            "delete metadata",
        ),
    ]
}

/// Every metadata write is refused with Nova's 409 naming `attr state`.
async fn all_writes_refused(cloud: &Cloud, token: &str, id: &str, attr: &str, state: &str) {
    for (method, path, body, action) in writes(id) {
        let r = meta(cloud, token, method.clone(), &path, body).await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(
            r.body,
            conflict(format!(
                "Cannot '{action}' instance {id} while it is in {attr} {state}"
            )),
            "{method} {path}"
        );
    }
}

async fn status(cloud: &Cloud, id: &str) -> (String, Value) {
    let s = cloud.server(id).await;
    (
        s["status"].as_str().unwrap_or_default().to_owned(),
        s["OS-EXT-STS:task_state"].clone(),
    )
}

#[tokio::test]
async fn metadata_writes_follow_novas_state_check() {
    let cloud = Cloud::start("").await;
    let id = cloud.server_id("admin_vm01").await;
    let admin = cloud.admin.clone();
    // ACTIVE: every verb works.
    let r = meta(
        &cloud,
        &admin,
        Method::POST,
        &format!("{id}/metadata"),
        Some(json!({"metadata": {"a": "1"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = meta(
        &cloud,
        &admin,
        Method::PUT,
        &format!("{id}/metadata/b"),
        Some(json!({"meta": {"b": "2"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // A task in progress: refused on the task_state.
    let r = cloud
        .action(&admin, &id, json!({"os-stop": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    all_writes_refused(&cloud, &admin, &id, "task_state", "powering-off").await;
    // SHUTOFF (vm_state stopped) is allowed.
    cloud.advance(3.0);
    assert_eq!(status(&cloud, &id).await.0, "SHUTOFF");
    let r = meta(
        &cloud,
        &admin,
        Method::POST,
        &format!("{id}/metadata"),
        Some(json!({"metadata": {"c": "3"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = meta(
        &cloud,
        &admin,
        Method::DELETE,
        &format!("{id}/metadata/c"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    // A snapshot's upload.
    let r = cloud
        .action(
            &admin,
            &id,
            json!({"createImage": {"name": "snap"}}),
            "2.45",
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(2.5);
    assert_eq!(status(&cloud, &id).await.1, "image_uploading");
    all_writes_refused(&cloud, &admin, &id, "task_state", "image_uploading").await;
    cloud.advance(15.0);

    // SHELVED_OFFLOADED: refused on the vm_state, whatever the verb.
    let r = cloud.action(&admin, &id, json!({"shelve": null}), "").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    cloud.advance(20.0);
    assert_eq!(
        status(&cloud, &id).await,
        ("SHELVED_OFFLOADED".to_owned(), Value::Null)
    );
    all_writes_refused(&cloud, &admin, &id, "vm_state", "shelved_offloaded").await;
    // A key that is not there is a 404 before any state check, as in Nova.
    let r = meta(
        &cloud,
        &admin,
        Method::DELETE,
        &format!("{id}/metadata/nope"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"itemNotFound": {"code": 404, "message": "Metadata item was not found"}})
    );
    // Reading is fine, and nothing was changed by the refused writes.
    let r = meta(&cloud, &admin, Method::GET, &format!("{id}/metadata"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"metadata": {"a": "1", "b": "2"}}));
    // Unshelved, it takes writes again.
    let r = cloud
        .action(&admin, &id, json!({"unshelve": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    cloud.advance(10.0);
    assert_eq!(status(&cloud, &id).await.0, "ACTIVE");
    let r = meta(
        &cloud,
        &admin,
        Method::DELETE,
        &format!("{id}/metadata/a"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

#[tokio::test]
async fn metadata_writes_are_refused_in_resize_build_error_and_when_locked() {
    let cloud = Cloud::start("").await;
    let admin = cloud.admin.clone();
    let id = cloud.server_id("admin_vm01").await;
    meta(
        &cloud,
        &admin,
        Method::POST,
        &format!("{id}/metadata"),
        Some(json!({"metadata": {"a": "1"}})),
    )
    .await;
    // VERIFY_RESIZE is vm_state resized.
    let r = cloud
        .action(&admin, &id, json!({"migrate": null}), "2.56")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    all_writes_refused(&cloud, &admin, &id, "task_state", "resize_prep").await;
    cloud.advance(30.0);
    assert_eq!(status(&cloud, &id).await.0, "VERIFY_RESIZE");
    all_writes_refused(&cloud, &admin, &id, "vm_state", "resized").await;

    // BUILD is vm_state building.
    let b = cloud.boot(&admin, "b", "1", Some("nova2")).await;
    let r = meta(
        &cloud,
        &admin,
        Method::POST,
        &format!("{b}/metadata"),
        Some(json!({"metadata": {"x": "1"}})),
    )
    .await;
    assert_eq!(
        r.body,
        conflict(format!(
            "Cannot 'update metadata' instance {b} while it is in vm_state building"
        ))
    );

    // ERROR, set by someone else.
    let demo_vm = cloud.server_id("demo_vm01").await;
    let r = cloud
        .call(
            Method::POST,
            "",
            &format!("/_sim/servers/{demo_vm}"),
            Some(json!({"status": "ERROR"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = meta(
        &cloud,
        &admin,
        Method::POST,
        &format!("{demo_vm}/metadata"),
        Some(json!({"metadata": {"x": "1"}})),
    )
    .await;
    assert_eq!(
        r.body,
        conflict(format!(
            "Cannot 'update metadata' instance {demo_vm} while it is in vm_state error"
        ))
    );

    // Locked: members are refused first, admins are not.
    cloud
        .call(
            Method::POST,
            "",
            &format!("/_sim/servers/{demo_vm}"),
            Some(json!({"status": "ACTIVE"})),
            &[],
        )
        .await;
    let demo = cloud.login("demo", "demo-pw", "demo").await;
    let r = cloud
        .action(&demo, &demo_vm, json!({"lock": null}), "")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = meta(
        &cloud,
        &demo,
        Method::POST,
        &format!("{demo_vm}/metadata"),
        Some(json!({"metadata": {"x": "1"}})),
    )
    .await;
    assert_eq!(r.body, conflict(format!("Instance {demo_vm} is locked")));
    let r = meta(
        &cloud,
        &admin,
        Method::POST,
        &format!("{demo_vm}/metadata"),
        Some(json!({"metadata": {"x": "1"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// 400 ms of cloud time at time_scale 1: wide enough for the second
/// client's request to overlap with the first's, whatever the machine.
const WINDOW: &str = "races: {task_state_window: 400ms}\n";

/// One request of a race: method, path under the compute endpoint, body.
type Req = (Method, String, Option<Value>);

fn action(id: &str, body: Value) -> Req {
    (Method::POST, format!("/servers/{id}/action"), Some(body))
}

/// `first` from the usual client, then — 50 ms later, while the first is
/// still being answered — `second` from another client (another operator).
/// Returns both answers and how long the first one took.
async fn race(cloud: &Cloud, first: Req, second: Req) -> (Reply, Reply, Duration) {
    let other = reqwest::Client::new();
    let mv = [("OpenStack-API-Version", "compute 2.100")];
    let a = async {
        let t = Instant::now();
        let r = cloud
            .call(
                first.0,
                &cloud.admin,
                &format!("/compute/v2.1{}", first.1),
                first.2,
                &mv,
            )
            .await;
        (r, t.elapsed())
    };
    let b = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cloud
            .call_via(
                &other,
                second.0,
                &cloud.admin,
                &format!("/compute/v2.1{}", second.1),
                second.2,
                &mv,
            )
            .await
    };
    let ((a, took), b) = tokio::join!(a, b);
    (a, b, took)
}

fn races_lost(cloud: &Cloud) -> u64 {
    cloud
        .sim
        .stats()
        .faults_injected
        .get("task_state_race")
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn the_second_of_two_overlapping_actions_loses_with_novas_500() {
    let cloud = Cloud::start(WINDOW).await;
    let id = cloud.server_id("admin_vm01").await;
    let stop = json!({"os-stop": null});
    let (a, b, took) = race(&cloud, action(&id, stop.clone()), action(&id, stop.clone())).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    // The winner answers once its save is done: after the window.
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert_eq!(b.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", b.text);
    assert_eq!(b.body, unexpected("UnexpectedTaskStateError"));
    assert_eq!(races_lost(&cloud), 1);
    // The loser did nothing: one stop, as the first asked.
    let stats = cloud.sim.stats();
    assert_eq!(stats.operations.started["stop"], 1);
    assert_eq!(status(&cloud, &id).await.1, "powering-off");

    // After the window (and always for one client's requests in sequence):
    // Nova's usual 409.
    let r = cloud.action(&cloud.admin, &id, stop, "").await;
    assert_eq!(
        r.body,
        conflict(format!(
            "Cannot 'stop' instance {id} while it is in task_state powering-off"
        ))
    );
    let r = cloud
        .action(
            &cloud.admin,
            &id,
            json!({"createImage": {"name": "s"}}),
            "2.45",
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(races_lost(&cloud), 1);
}

#[tokio::test]
async fn a_lost_snapshot_leaves_its_image_queued() {
    let cloud = Cloud::start(WINDOW).await;
    let id = cloud.server_id("admin_vm01").await;
    let (a, b, _) = race(
        &cloud,
        action(&id, json!({"createImage": {"name": "first"}})),
        action(&id, json!({"createImage": {"name": "second"}})),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(b.body, unexpected("UnexpectedTaskStateError"));
    // Nova creates the Glance image before it swaps the task_state: the
    // loser's image stays behind, queued, and never gets data.
    cloud.advance(30.0);
    let r = cloud
        .get(&cloud.admin, "/image/v2/images?name=second")
        .await;
    let images = r.body["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{}", r.text);
    assert_eq!(images[0]["status"], "queued");
    assert_eq!(images[0]["instance_uuid"], id.as_str());
    let first = a.body["image_id"].as_str().unwrap();
    assert_eq!(cloud.image(first).await["status"], "active");
}

#[tokio::test]
async fn shelve_answers_a_lost_race_with_a_409() {
    let cloud = Cloud::start(WINDOW).await;
    let id = cloud.server_id("admin_vm01").await;
    let (a, b, _) = race(
        &cloud,
        action(&id, json!({"os-stop": null})),
        action(&id, json!({"shelve": null})),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    // shelve.py catches UnexpectedTaskStateError and shows its message.
    assert_eq!(
        b.body,
        conflict(format!(
            "Conflict updating instance {id}. Expected: {{'task_state': [None]}}. Actual: {{'task_state': 'powering-off'}}"
        ))
    );
    cloud.advance(30.0);
    assert_eq!(status(&cloud, &id).await.0, "SHUTOFF");
}

#[tokio::test]
async fn actions_racing_a_delete_lose_to_it() {
    let cloud = Cloud::start(WINDOW).await;
    let a_id = cloud.boot(&cloud.admin, "a", "1", Some("nova")).await;
    let b_id = cloud.boot(&cloud.admin, "b", "1", Some("nova")).await;
    cloud.advance(10.0);
    let (a, b, _) = race(
        &cloud,
        (Method::DELETE, format!("/servers/{a_id}"), None),
        action(&a_id, json!({"os-stop": null})),
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_eq!(b.body, unexpected("UnexpectedDeletingTaskStateError"));
    // A snapshot racing a delete: Nova deletes the image it made and
    // answers as for a server being deleted.
    let (a, b, _) = race(
        &cloud,
        (Method::DELETE, format!("/servers/{b_id}"), None),
        action(&b_id, json!({"createImage": {"name": "late"}})),
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        b.body,
        conflict(format!(
            "Cannot 'createImage' instance {b_id} while it is in task_state deleting"
        ))
    );
    let r = cloud.get(&cloud.admin, "/image/v2/images?name=late").await;
    assert_eq!(r.body["images"], json!([]), "{}", r.text);
}

#[tokio::test]
async fn lock_and_vm_state_are_checked_before_the_swap() {
    let cloud = Cloud::start(WINDOW).await;
    let id = cloud.server_id("admin_vm01").await;
    // The racing request read the server too: ACTIVE cannot be started.
    let (_, b, _) = race(
        &cloud,
        action(&id, json!({"os-stop": null})),
        action(&id, json!({"os-start": null})),
    )
    .await;
    assert_eq!(
        b.body,
        conflict(format!(
            "Cannot 'start' instance {id} while it is in vm_state active"
        ))
    );
    // Metadata writes do not swap task_state: a task set is a 409, even
    // within the window (the simulator never lets a race help a request).
    cloud.advance(5.0);
    let (a, b, _) = race(
        &cloud,
        action(&id, json!({"os-start": null})),
        (
            Method::POST,
            format!("/servers/{id}/metadata"),
            Some(json!({"metadata": {"k": "v"}})),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    assert_eq!(
        b.body,
        conflict(format!(
            "Cannot 'update metadata' instance {id} while it is in task_state powering-on"
        ))
    );
    assert_eq!(races_lost(&cloud), 0);
}

#[tokio::test]
async fn moves_lose_races_before_they_record_a_migration() {
    let cloud = Cloud::start(WINDOW).await;
    let id = cloud.server_id("admin_vm01").await;
    let (a, b, _) = race(
        &cloud,
        action(&id, json!({"os-stop": null})),
        action(&id, json!({"migrate": {"host": "node-31"}})),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(b.body, unexpected("UnexpectedTaskStateError"));
    let r = cloud.nova_get(&cloud.admin, "/os-migrations", "2.59").await;
    assert_eq!(r.body["migrations"], json!([]), "{}", r.text);
}

#[tokio::test]
async fn a_zero_window_turns_races_off() {
    let cloud = Cloud::start("races: {task_state_window: 0}\n").await;
    let id = cloud.server_id("admin_vm01").await;
    let stop = json!({"os-stop": null});
    let (a, b, _) = race(&cloud, action(&id, stop.clone()), action(&id, stop)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(
        b.body,
        conflict(format!(
            "Cannot 'stop' instance {id} while it is in task_state powering-off"
        ))
    );
    assert_eq!(races_lost(&cloud), 0);
}
