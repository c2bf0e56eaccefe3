//! Waiting for the cloud, with as few requests as possible.
//!
//! One background task polls for every wait in the run. Each round is ONE
//! paginated `GET /servers/detail?changes-since=…` covering every server in
//! flight (and noticing replacements azmove created, by their tags), and
//! ONE Glance list filtered on `azmove_plan=<digest>` covering every
//! snapshot in flight. `changes-since` is taken from the cloud's clock (the
//! `Date` of the previous answer, or the newest `updated` seen) minus a
//! margin, never from the local clock.
//!
//! When to poll: each wait has its own next check, and a round happens when
//! the earliest one is due. A wait whose duration is not known yet is
//! checked after `min_interval`, then at intervals growing with its age
//! (`backoff_ratio` × age, capped at `max_interval`), and back to the start
//! when what it waits on changes. Once some waits of a kind have finished,
//! the waiter expects the next ones to take about as long as the fastest
//! of them (per GB of disk for snapshots), sleeps until then, and checks
//! often after that:
//! requests per server then stay about constant however long snapshots
//! take, and the end is noticed within `min_interval`.
//!
//! [`PollMode::Naive`] is the baseline the benchmarks compare against: one
//! `GET` per waited-on server or image every `interval`, like Terraform's
//! provider does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::cloud::Cloud;

mod poll;
mod schedule;

use crate::plan::inventory::{Image, Server, tags};
pub use schedule::{changes_since_value, next_check};
use schedule::{estimate, parse_cloud_time};
use tokio_util::sync::CancellationToken;

/// Tuning of the shared polls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollConfig {
    /// Shortest time between two checks of one wait.
    pub min_interval: Duration,
    /// Longest time between two checks of one wait.
    pub max_interval: Duration,
    /// Interval = this × the wait's age (between the two bounds above).
    pub backoff_ratio: f64,
    /// Subtracted from the cloud's clock for `changes-since`, for clock
    /// skew between API nodes and Nova's one-second `updated_at` resolution.
    pub changes_since_margin: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            min_interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(30),
            backoff_ratio: 0.2,
            changes_since_margin: Duration::from_secs(5),
        }
    }
}

impl PollConfig {
    /// The same schedule `factor` times faster (for simulated clouds that run
    /// faster than real time); the clock margin is kept.
    pub fn scaled(self, factor: f64) -> PollConfig {
        let f = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            1.0
        };
        PollConfig {
            min_interval: self.min_interval.div_f64(f),
            max_interval: self.max_interval.div_f64(f),
            ..self
        }
    }
}

/// How waits are served.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PollMode {
    /// Shared list polls (the default).
    Shared(PollConfig),
    /// One GET per waited-on object every `interval` (baseline for benchmarks).
    Naive { interval: Duration },
}

impl PollMode {
    pub fn name(&self) -> &'static str {
        match self {
            PollMode::Shared(_) => "changes-since",
            PollMode::Naive { .. } => "naive",
        }
    }
}

/// What a wait is for; durations are learned per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitKind {
    /// Source to SHUTOFF after `os-stop`.
    Stop,
    /// Snapshot image to `active` (scales with disk size).
    Image,
    /// Replacement to ACTIVE after `POST /servers`.
    Boot,
    /// Source back to ACTIVE after `os-start` (rollback).
    Start,
    /// Server to SHELVED(_OFFLOADED) after `shelve` / `shelveOffload`
    /// (includes the upload of the shelve image).
    Shelve,
    /// Server ACTIVE in the target AZ after `unshelve`.
    Unshelve,
    /// Cold migration to VERIFY_RESIZE (scales with the disk).
    Migrate,
    /// Live migration to ACTIVE on the destination (scales with RAM).
    LiveMigrate,
    /// A short state change: `confirmResize`, `revertResize`, an abort.
    Settle,
}

/// Why a wait ended without its condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    #[error("gave up after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("interrupted")]
    Interrupted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Server,
    Image,
}

#[derive(Debug)]
struct WaitEntry {
    target: Target,
    id: String,
    registered: Instant,
    since: Instant,
    expected: Option<Duration>,
    last_check: Option<Instant>,
    /// Status the wait last saw, to notice changes.
    last_seen: Option<String>,
    /// Not covered by the shared list (an image of another plan): GET it.
    by_get: bool,
}

#[derive(Debug, Default)]
struct State {
    servers: HashMap<String, Server>,
    gone_servers: HashSet<String>,
    images: HashMap<String, Image>,
    gone_images: HashSet<String>,
    /// When a step told of an image it just made: a list that started
    /// before cannot show it, and must not take it for deleted.
    image_noted_at: HashMap<String, Instant>,
    waits: BTreeMap<u64, WaitEntry>,
    next_wait: u64,
    cursor: Option<String>,
    newest_updated: Option<SystemTime>,
    refresh_servers: bool,
    refresh_images: bool,
    rounds_started: u64,
    /// Round number → whether its server list / image list succeeded.
    round_ok: BTreeMap<u64, (bool, bool)>,
    samples: HashMap<WaitKind, Vec<f64>>,
    requests: u64,
    /// When the last successful server / image list started.
    servers_listed_at: Option<Instant>,
    images_listed_at: Option<Instant>,
    /// When the last `GET /servers/{id}` of each server started (naive polls).
    server_got_at: HashMap<String, Instant>,
    /// The last error of a server / image list, for the step that needed it.
    server_list_error: Option<String>,
    image_list_error: Option<String>,
}

struct Shared {
    cloud: Arc<dyn Cloud>,
    mode: PollMode,
    plan_tag: String,
    state: Mutex<State>,
    rounds_done: watch::Sender<u64>,
    wake: Notify,
}

/// The waiting service of one run. Clones share it.
#[derive(Clone)]
pub struct Waiter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("mode", &self.shared.mode)
            .finish_non_exhaustive()
    }
}

/// Removes a wait when the waiting future ends or is dropped.
struct WaitGuard<'a> {
    waiter: &'a Waiter,
    id: u64,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.waiter.lock().waits.remove(&self.id);
    }
}

impl Waiter {
    /// `plan_tag`: the `azmove_plan` value of this run's snapshots.
    /// `servers`/`images`: what was observed before the run (the cache
    /// starts from it; `changes-since` starts from its newest `updated`).
    pub fn new(
        cloud: Arc<dyn Cloud>,
        mode: PollMode,
        plan_tag: String,
        servers: Vec<Server>,
        images: Vec<Image>,
    ) -> Waiter {
        let mut state = State::default();
        for s in servers {
            state.note_updated(&s.updated);
            state.servers.insert(s.id.clone(), s);
        }
        for i in images {
            state.images.insert(i.id.clone(), i);
        }
        let (tx, _) = watch::channel(0);
        Waiter {
            shared: Arc::new(Shared {
                cloud,
                mode,
                plan_tag,
                state: Mutex::new(state),
                rounds_done: tx,
                wake: Notify::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn mode(&self) -> PollMode {
        self.shared.mode
    }

    /// Requests made by the waiter itself.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// Start the polling task; it runs until the handle is aborted.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move { me.run().await })
    }

    /// The latest known state of a server (`None`: unknown or gone).
    pub fn server(&self, id: &str) -> Option<Server> {
        let st = self.lock();
        if st.gone_servers.contains(id) {
            return None;
        }
        st.servers.get(id).cloned()
    }

    /// Whether the state known of server `id` comes from a read that
    /// started at or after `t`: a full list (`changes-since` lists leave out
    /// only servers that did not change), or a GET of that server. An
    /// action's outcome is judged only on such a state, never on an answer
    /// that was already on its way when the action was sent.
    pub fn server_seen_since(&self, id: &str, t: Instant) -> bool {
        let st = self.lock();
        st.servers_listed_at.is_some_and(|l| l >= t)
            || st.server_got_at.get(id).is_some_and(|g| *g >= t)
    }

    /// Whether the server is known to be deleted.
    pub fn server_gone(&self, id: &str) -> bool {
        self.lock().gone_servers.contains(id)
    }

    /// Known servers (not deleted) for which `pred` holds.
    pub fn servers_where(&self, pred: impl Fn(&Server) -> bool) -> Vec<Server> {
        let st = self.lock();
        st.servers
            .values()
            .filter(|s| !st.gone_servers.contains(&s.id) && s.status != "DELETED" && pred(s))
            .cloned()
            .collect()
    }

    pub fn image(&self, id: &str) -> Option<Image> {
        let st = self.lock();
        if st.gone_images.contains(id) {
            return None;
        }
        st.images.get(id).cloned()
    }

    /// Known images (not deleted) for which `pred` holds.
    pub fn images_where(&self, pred: impl Fn(&Image) -> bool) -> Vec<Image> {
        let st = self.lock();
        st.images
            .values()
            .filter(|i| !st.gone_images.contains(&i.id) && i.status != "deleted" && pred(i))
            .cloned()
            .collect()
    }

    /// Record what a step learnt itself (an answer to its own call).
    pub fn note_server(&self, server: Server) {
        let mut st = self.lock();
        st.gone_servers.remove(&server.id);
        st.servers.insert(server.id.clone(), server);
    }

    pub fn note_server_gone(&self, id: &str) {
        let mut st = self.lock();
        st.gone_servers.insert(id.to_string());
    }

    pub fn note_image(&self, image: Image) {
        let mut st = self.lock();
        st.gone_images.remove(&image.id);
        st.image_noted_at.insert(image.id.clone(), Instant::now());
        st.images.insert(image.id.clone(), image);
    }

    pub fn note_image_gone(&self, id: &str) {
        let mut st = self.lock();
        st.gone_images.insert(id.to_string());
        st.images.remove(id);
    }

    /// Wait for a server list that starts after this call (coalesced with
    /// every other refresh asked for meanwhile). `Err` if it failed.
    pub async fn refresh_servers(&self) -> Result<(), String> {
        self.refresh(true).await
    }

    /// The same for the image list.
    pub async fn refresh_images(&self) -> Result<(), String> {
        self.refresh(false).await
    }

    /// Make sure the server states are at most `max_age` old: nothing to
    /// do when a list started that recently (other waits keep it fresh),
    /// otherwise a refresh.
    pub async fn servers_within(&self, max_age: Duration) -> Result<(), String> {
        let fresh = self
            .lock()
            .servers_listed_at
            .is_some_and(|t| t.elapsed() <= max_age);
        if fresh {
            Ok(())
        } else {
            self.refresh(true).await
        }
    }

    /// The same for the image states.
    pub async fn images_within(&self, max_age: Duration) -> Result<(), String> {
        let fresh = self
            .lock()
            .images_listed_at
            .is_some_and(|t| t.elapsed() <= max_age);
        if fresh {
            Ok(())
        } else {
            self.refresh(false).await
        }
    }

    async fn refresh(&self, servers: bool) -> Result<(), String> {
        let target = {
            let mut st = self.lock();
            if servers {
                st.refresh_servers = true;
            } else {
                st.refresh_images = true;
            }
            st.rounds_started + 1
        };
        self.shared.wake.notify_one();
        let mut rx = self.shared.rounds_done.subscribe();
        if rx.wait_for(|done| *done >= target).await.is_err() {
            return Err("the polling task ended".into());
        }
        let st = self.lock();
        let ok = st
            .round_ok
            .range(target..)
            .next()
            .map(|(_, (s, i))| if servers { *s } else { *i })
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
        let error = if servers {
            &st.server_list_error
        } else {
            &st.image_list_error
        };
        Err(match error {
            Some(e) => e.clone(),
            None => format!(
                "could not list the {}",
                if servers { "servers" } else { "images" }
            ),
        })
    }

    /// Wait until `done` returns `Some` for the server's state (`None` when
    /// it is unknown or deleted). `size_gb` scales the learned duration.
    pub async fn wait_server<T>(
        &self,
        id: &str,
        kind: WaitKind,
        timeout: Duration,
        stop: &CancellationToken,
        done: impl Fn(Option<&Server>) -> Option<T>,
    ) -> Result<T, WaitError> {
        let status = |w: &Waiter| {
            w.server(id)
                .map(|s| format!("{}/{:?}", s.status, s.task_state))
        };
        self.wait(
            Target::Server,
            id,
            kind,
            None,
            timeout,
            stop,
            status,
            |w: &Waiter| done(w.server(id).as_ref()),
        )
        .await
    }

    /// Wait until `done` returns `Some` for the image's state.
    pub async fn wait_image<T>(
        &self,
        id: &str,
        size_gb: Option<u64>,
        timeout: Duration,
        stop: &CancellationToken,
        done: impl Fn(Option<&Image>) -> Option<T>,
    ) -> Result<T, WaitError> {
        let status = |w: &Waiter| w.image(id).map(|i| i.status);
        self.wait(
            Target::Image,
            id,
            WaitKind::Image,
            size_gb,
            timeout,
            stop,
            status,
            |w: &Waiter| done(w.image(id).as_ref()),
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn wait<T>(
        &self,
        target: Target,
        id: &str,
        kind: WaitKind,
        size_gb: Option<u64>,
        timeout: Duration,
        stop: &CancellationToken,
        status: impl Fn(&Waiter) -> Option<String>,
        check: impl Fn(&Waiter) -> Option<T>,
    ) -> Result<T, WaitError> {
        let size = size_gb.unwrap_or(1).max(1) as f64;
        let mut rx = self.shared.rounds_done.subscribe();
        if let Some(v) = check(self) {
            return Ok(v);
        }
        let now = Instant::now();
        let deadline = now + timeout;
        let seen = status(self);
        let wait_id = {
            let mut st = self.lock();
            let expected = st.samples.get(&kind).and_then(|s| estimate(s, size));
            let by_get = target == Target::Image
                && st
                    .images
                    .get(id)
                    .is_some_and(|i| i.properties.get(tags::PLAN) != Some(&self.shared.plan_tag));
            let n = st.next_wait;
            st.next_wait += 1;
            st.waits.insert(
                n,
                WaitEntry {
                    target,
                    id: id.to_string(),
                    registered: now,
                    since: now,
                    expected,
                    last_check: None,
                    last_seen: seen,
                    by_get,
                },
            );
            n
        };
        let _guard = WaitGuard {
            waiter: self,
            id: wait_id,
        };
        self.shared.wake.notify_one();
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Err(WaitError::Interrupted);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Err(WaitError::Timeout(timeout)),
                _ = stop.cancelled() => return Err(WaitError::Interrupted),
            }
            if let Some(v) = check(self) {
                let mut st = self.lock();
                if let Some(w) = st.waits.get(&wait_id) {
                    let took = Instant::now() - w.registered;
                    let samples = st.samples.entry(kind).or_default();
                    samples.push(took.as_secs_f64() / size);
                    if samples.len() > 32 {
                        samples.remove(0);
                    }
                }
                return Ok(v);
            }
            let seen = status(self);
            let mut st = self.lock();
            if let Some(w) = st.waits.get_mut(&wait_id)
                && w.last_seen != seen
            {
                // Something moved: without a learned duration, look again soon.
                w.last_seen = seen;
                if w.expected.is_none() {
                    w.since = Instant::now();
                }
            }
        }
    }
}

impl State {
    fn note_updated(&mut self, updated: &str) {
        if let Some(t) = parse_cloud_time(updated)
            && self.newest_updated.is_none_or(|n| t > n)
        {
            self.newest_updated = Some(t);
        }
    }
}

#[cfg(test)]
mod tests;
