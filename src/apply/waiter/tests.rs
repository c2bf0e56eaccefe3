use super::*;

fn cfg() -> PollConfig {
    PollConfig {
        min_interval: Duration::from_secs(2),
        max_interval: Duration::from_secs(30),
        backoff_ratio: 0.2,
        changes_since_margin: Duration::from_secs(5),
    }
}

#[test]
fn unknown_durations_back_off_with_age_up_to_the_cap() {
    let c = cfg();
    let t0 = Instant::now();
    assert_eq!(next_check(&c, t0, None, None), t0 + Duration::from_secs(2));
    let at = |s: u64| t0 + Duration::from_secs(s);
    // Young: the minimum interval.
    assert_eq!(next_check(&c, t0, None, Some(at(4))), at(6));
    // Older: a fifth of the age.
    assert_eq!(next_check(&c, t0, None, Some(at(100))), at(120));
    // Old: capped.
    assert_eq!(next_check(&c, t0, None, Some(at(1000))), at(1030));
}

#[test]
fn known_durations_sleep_until_near_the_end_then_check_often() {
    let c = cfg();
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let expected = Some(Duration::from_secs(600));
    assert_eq!(next_check(&c, t0, expected, None), at(600));
    assert_eq!(next_check(&c, t0, expected, Some(at(600))), at(602));
    assert_eq!(next_check(&c, t0, expected, Some(at(700))), at(720));
}

#[test]
fn estimate_takes_the_low_tenth_scaled_by_size() {
    assert_eq!(estimate(&[], 1.0), None);
    let samples: Vec<f64> = (1..=20).map(f64::from).collect();
    assert_eq!(estimate(&samples, 10.0), Some(Duration::from_secs(20)));
}

/// A cloud whose images become `active` at a set (virtual) time, and
/// which counts the calls made to it.
#[derive(Default)]
struct FakeImages {
    ready_at: Mutex<HashMap<String, Instant>>,
    lists: std::sync::atomic::AtomicU64,
    gets: std::sync::atomic::AtomicU64,
}

impl FakeImages {
    fn image(&self, id: &str) -> Option<Image> {
        let ready = *self.ready_at.lock().ok()?.get(id)?;
        Some(Image {
            id: id.to_string(),
            name: id.to_string(),
            status: if Instant::now() >= ready {
                "active"
            } else {
                "saving"
            }
            .to_string(),
            properties: [(tags::PLAN.to_string(), "plan".to_string())].into(),
            size: None,
            created_at: String::new(),
            updated_at: String::new(),
        })
    }
}

use crate::apply::cloud::{BootRequest, ServerList};
use crate::openstack::Error;
use futures::future::BoxFuture;
use std::sync::atomic::Ordering;

impl Cloud for FakeImages {
    fn servers_changed_since<'a>(
        &'a self,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ServerList, Error>> {
        Box::pin(async { Ok(ServerList::default()) })
    }
    fn server<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Server>, Error>> {
        Box::pin(async { Ok(None) })
    }
    fn images_with_property<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Image>, Error>> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        let ids: Vec<String> = self
            .ready_at
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let images = ids.iter().filter_map(|id| self.image(id)).collect();
        Box::pin(async move { Ok(images) })
    }
    fn image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Image>, Error>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let image = FakeImages::image(self, id);
        Box::pin(async move { Ok(image) })
    }
    fn stop_server<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    fn start_server<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    fn create_image<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async { Ok(String::new()) })
    }
    fn delete_image<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    fn boot_server<'a>(&'a self, _: &'a BootRequest) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async { Ok(String::new()) })
    }
    fn delete_server<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    fn set_server_metadata<'a>(
        &'a self,
        _: &'a str,
        _: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    fn delete_server_metadata<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    fn requests_sent(&self) -> Option<u64> {
        None
    }
}

/// Snapshot waits of `duration`, in 5 batches of 4 at once (like
/// concurrency 4). Returns (requests in the first batch, requests in
/// the other four).
async fn snapshot_batches(mode: PollMode, duration: Duration) -> (u64, u64) {
    let fake = Arc::new(FakeImages::default());
    let waiter = Waiter::new(fake.clone(), mode, "plan".into(), vec![], vec![]);
    let poller = waiter.spawn();
    let mut first = 0;
    for batch in 0..5 {
        let mut tasks = Vec::new();
        for n in 0..4 {
            let id = format!("img-{batch}-{n}");
            if let Ok(mut m) = fake.ready_at.lock() {
                m.insert(id.clone(), Instant::now() + duration);
            }
            let w = waiter.clone();
            tasks.push(tokio::spawn(async move {
                let stop = CancellationToken::new();
                w.wait_image(&id, Some(10), Duration::from_secs(7200), &stop, |i| {
                    i.filter(|i| i.status == "active").map(|_| ())
                })
                .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("task"), Ok(()));
        }
        if batch == 0 {
            first = waiter.requests();
        }
    }
    poller.abort();
    let total = waiter.requests();
    assert_eq!(
        total,
        fake.lists.load(Ordering::SeqCst) + fake.gets.load(Ordering::SeqCst)
    );
    (first, total - first)
}

#[tokio::test(start_paused = true)]
async fn requests_per_server_do_not_grow_with_snapshot_duration() {
    let shared = PollMode::Shared(cfg());
    let (_, short) = snapshot_batches(shared, Duration::from_secs(180)).await;
    let (_, long) = snapshot_batches(shared, Duration::from_secs(1800)).await;
    // 16 servers after the first batch: once durations are learned, a
    // ten times longer snapshot costs no more than one extra request
    // per batch of four.
    assert!(
        long <= short + 4,
        "3 min: {short} requests, 30 min: {long} requests"
    );
    // Against the baseline: one GET per server every 5 s.
    let (_, naive) = snapshot_batches(
        PollMode::Naive {
            interval: Duration::from_secs(5),
        },
        Duration::from_secs(1800),
    )
    .await;
    assert!(
        naive >= 16 * 300,
        "naive polling made only {naive} requests"
    );
    assert!(long * 100 < naive, "shared: {long}, naive: {naive}");
}

#[tokio::test(start_paused = true)]
async fn an_unlearned_wait_backs_off() {
    let (first_short, _) =
        snapshot_batches(PollMode::Shared(cfg()), Duration::from_secs(180)).await;
    let (first_long, _) =
        snapshot_batches(PollMode::Shared(cfg()), Duration::from_secs(1800)).await;
    // With a 30 s cap, 30 min need at most 1800/30 polls plus the ramp.
    assert!(first_long <= 1800 / 30 + 25, "{first_long}");
    assert!(first_short < first_long);
}

#[test]
fn changes_since_uses_the_given_clock_minus_the_margin() {
    let t = parse_cloud_time("2026-03-01T10:00:07Z").expect("time");
    assert_eq!(
        changes_since_value(t, Duration::from_secs(5)),
        "2026-03-01T10:00:02Z"
    );
    assert!(parse_cloud_time("2026-03-01T10:00:07").is_some());
    assert!(parse_cloud_time("2026-03-01T10:00:07.123456+00:00").is_some());
}
