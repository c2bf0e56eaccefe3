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

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::cloud::Cloud;
use crate::plan::inventory::{Image, Server, tags};
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

/// When a wait should next be checked, given when it started (or last saw
/// a change), what it is expected to take, and when it was last checked.
pub fn next_check(
    cfg: &PollConfig,
    since: Instant,
    expected: Option<Duration>,
    last_check: Option<Instant>,
) -> Instant {
    let start = match expected {
        // The expectation is already a low estimate (see `estimate`): most
        // waits are over by then, and one check settles them.
        Some(e) => since + e.max(cfg.min_interval),
        None => since + cfg.min_interval,
    };
    match last_check {
        Some(l) if l >= start => {
            let origin = if expected.is_some() { start } else { since };
            let interval = (l - origin)
                .mul_f64(cfg.backoff_ratio.max(0.0))
                .clamp(cfg.min_interval, cfg.max_interval.max(cfg.min_interval));
            l + interval
        }
        _ => start,
    }
}

/// Expected duration from past samples: the low tenth of what was seen
/// (times `size`), so that a fast one is not noticed late.
fn estimate(samples: &[f64], size: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let low = s[(s.len() - 1) / 10];
    Duration::try_from_secs_f64(low * size).ok()
}

/// A cloud timestamp minus `margin`, as `changes-since` wants it.
pub fn changes_since_value(cloud_now: SystemTime, margin: Duration) -> String {
    let t = cloud_now.checked_sub(margin).unwrap_or(cloud_now);
    OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Parse a Nova/Glance timestamp (`2026-01-01T10:00:00Z`, with or without zone).
fn parse_cloud_time(s: &str) -> Option<SystemTime> {
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .ok()?;
    Some(t.into())
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

    /// What the next round must cover and when it is due.
    fn next_round(&self) -> Option<(Instant, bool, bool)> {
        let st = self.lock();
        let now = Instant::now();
        if st.refresh_servers || st.refresh_images {
            return Some((now, st.refresh_servers, st.refresh_images));
        }
        let mut due: Option<Instant> = None;
        for w in st.waits.values() {
            let t = match self.shared.mode {
                PollMode::Shared(cfg) => next_check(&cfg, w.since, w.expected, w.last_check),
                PollMode::Naive { interval } => w.last_check.unwrap_or(w.since) + interval,
            };
            due = Some(due.map_or(t, |d| d.min(t)));
        }
        let due = due?;
        // Everything due within a short while goes in the same round.
        let slack = match self.shared.mode {
            PollMode::Shared(cfg) => cfg.min_interval / 2,
            PollMode::Naive { .. } => Duration::ZERO,
        };
        let horizon = due + slack;
        let mut servers = false;
        let mut images = false;
        for w in st.waits.values() {
            let t = match self.shared.mode {
                PollMode::Shared(cfg) => next_check(&cfg, w.since, w.expected, w.last_check),
                PollMode::Naive { interval } => w.last_check.unwrap_or(w.since) + interval,
            };
            if t <= horizon {
                match w.target {
                    Target::Server => servers = true,
                    Target::Image => images = true,
                }
            }
        }
        Some((due, servers, images))
    }

    async fn run(&self) {
        loop {
            match self.next_round() {
                None => self.shared.wake.notified().await,
                Some((due, servers, images)) => {
                    if due > Instant::now() {
                        tokio::select! {
                            _ = tokio::time::sleep_until(due) => {}
                            _ = self.shared.wake.notified() => continue,
                        }
                    }
                    self.round(servers, images).await;
                }
            }
        }
    }

    /// One round of polling.
    async fn round(&self, want_servers: bool, want_images: bool) {
        let (round, refresh_servers, refresh_images) = {
            let mut st = self.lock();
            st.rounds_started += 1;
            let r = (st.rounds_started, st.refresh_servers, st.refresh_images);
            st.refresh_servers = false;
            st.refresh_images = false;
            r
        };
        let started = Instant::now();
        let mut servers_ok = true;
        let mut images_ok = true;
        match self.shared.mode {
            PollMode::Shared(cfg) => {
                if want_servers || refresh_servers {
                    servers_ok = self.poll_servers(&cfg).await;
                }
                if want_images || refresh_images {
                    images_ok = self.poll_images().await;
                }
                images_ok &= self.get_uncovered_images(started).await;
            }
            PollMode::Naive { interval } => {
                if refresh_servers {
                    servers_ok = self.poll_servers(&PollConfig::default()).await;
                }
                if refresh_images {
                    images_ok = self.poll_images().await;
                }
                self.get_each_due(started, interval).await;
            }
        }
        {
            let mut st = self.lock();
            for w in st.waits.values_mut() {
                let covered = match (self.shared.mode, w.target) {
                    (PollMode::Shared(_), Target::Server) => want_servers || refresh_servers,
                    (PollMode::Shared(_), Target::Image) => {
                        !w.by_get && (want_images || refresh_images)
                    }
                    (PollMode::Naive { .. }, _) => w.last_check.is_some_and(|l| l >= started),
                };
                if covered {
                    w.last_check = Some(started);
                }
            }
            let shared = matches!(self.shared.mode, PollMode::Shared(_));
            if servers_ok && ((shared && want_servers) || refresh_servers) {
                st.servers_listed_at = Some(started);
            }
            if images_ok && ((shared && want_images) || refresh_images) {
                st.images_listed_at = Some(started);
            }
            st.round_ok.insert(round, (servers_ok, images_ok));
            while st.round_ok.len() > 64 {
                st.round_ok.pop_first();
            }
        }
        self.shared.rounds_done.send_replace(round);
    }

    async fn poll_servers(&self, cfg: &PollConfig) -> bool {
        let cursor = {
            let st = self.lock();
            st.cursor.clone().or_else(|| {
                st.newest_updated
                    .map(|t| changes_since_value(t, cfg.changes_since_margin))
            })
        };
        self.lock().requests += 1;
        match self
            .shared
            .cloud
            .servers_changed_since(cursor.as_deref())
            .await
        {
            Ok(list) => {
                let mut st = self.lock();
                for s in list.servers {
                    st.note_updated(&s.updated);
                    if s.status == "DELETED" {
                        st.gone_servers.insert(s.id.clone());
                    } else {
                        st.gone_servers.remove(&s.id);
                    }
                    st.servers.insert(s.id.clone(), s);
                }
                let from_clock = list
                    .cloud_time
                    .map(|t| changes_since_value(t, cfg.changes_since_margin));
                let from_updated = st
                    .newest_updated
                    .map(|t| changes_since_value(t, cfg.changes_since_margin));
                st.cursor = from_clock.or(from_updated).or(cursor);
                true
            }
            Err(e) => {
                tracing::warn!("could not poll the servers: {e}");
                self.lock().server_list_error = Some(e.to_string());
                false
            }
        }
    }

    async fn poll_images(&self) -> bool {
        let started = Instant::now();
        self.lock().requests += 1;
        match self
            .shared
            .cloud
            .images_with_property(tags::PLAN, &self.shared.plan_tag)
            .await
        {
            Ok(images) => {
                let mut st = self.lock();
                let listed: HashSet<String> = images.iter().map(|i| i.id.clone()).collect();
                // Ours and not listed any more: deleted (Glance does not list those).
                let vanished: Vec<String> = st
                    .images
                    .values()
                    .filter(|i| i.properties.get(tags::PLAN) == Some(&self.shared.plan_tag))
                    .filter(|i| !listed.contains(&i.id))
                    .filter(|i| st.image_noted_at.get(&i.id).is_none_or(|t| *t < started))
                    .map(|i| i.id.clone())
                    .collect();
                for id in vanished {
                    st.images.remove(&id);
                    st.gone_images.insert(id);
                }
                // Waited-on images never seen and not listed: gone too
                // (Nova deletes the image of a snapshot that failed early).
                let unknown: Vec<String> = st
                    .waits
                    .values()
                    .filter(|w| w.target == Target::Image && !w.by_get && !listed.contains(&w.id))
                    .filter(|w| !st.images.contains_key(&w.id))
                    .map(|w| w.id.clone())
                    .collect();
                for id in unknown {
                    st.gone_images.insert(id);
                }
                for i in images {
                    st.gone_images.remove(&i.id);
                    st.images.insert(i.id.clone(), i);
                }
                true
            }
            Err(e) => {
                tracing::warn!("could not poll the snapshots: {e}");
                self.lock().image_list_error = Some(e.to_string());
                false
            }
        }
    }

    /// Images of other plans that a wait adopted: not in the shared list.
    async fn get_uncovered_images(&self, now: Instant) -> bool {
        let PollMode::Shared(cfg) = self.shared.mode else {
            return true;
        };
        let due: Vec<(u64, String)> = {
            let st = self.lock();
            st.waits
                .iter()
                .filter(|(_, w)| {
                    w.by_get
                        && next_check(&cfg, w.since, w.expected, w.last_check)
                            <= now + cfg.min_interval / 2
                })
                .map(|(n, w)| (*n, w.id.clone()))
                .collect()
        };
        let mut ok = true;
        let mut fetched = HashSet::new();
        for (n, id) in due {
            if fetched.insert(id.clone()) {
                ok &= self.get_image(&id).await;
            }
            if let Some(w) = self.lock().waits.get_mut(&n) {
                w.last_check = Some(now);
            }
        }
        ok
    }

    /// Naive mode: a GET for every wait that is due.
    async fn get_each_due(&self, now: Instant, interval: Duration) {
        let due: Vec<(Target, String, u64)> = {
            let st = self.lock();
            st.waits
                .iter()
                .filter(|(_, w)| w.last_check.unwrap_or(w.since) + interval <= now)
                .map(|(n, w)| (w.target, w.id.clone(), *n))
                .collect()
        };
        let mut fetched: HashSet<(Target, String)> = HashSet::new();
        for (target, id, n) in due {
            if fetched.insert((target, id.clone())) {
                match target {
                    Target::Server => {
                        self.get_server(&id).await;
                    }
                    Target::Image => {
                        self.get_image(&id).await;
                    }
                }
            }
            if let Some(w) = self.lock().waits.get_mut(&n) {
                w.last_check = Some(now);
            }
        }
    }

    async fn get_server(&self, id: &str) -> bool {
        let started = Instant::now();
        self.lock().requests += 1;
        let got = self.shared.cloud.server(id).await;
        if got.is_ok() {
            self.lock().server_got_at.insert(id.to_string(), started);
        }
        match got {
            Ok(Some(s)) => {
                if s.status == "DELETED" {
                    self.note_server_gone(id);
                }
                self.note_server(s);
                true
            }
            Ok(None) => {
                self.note_server_gone(id);
                true
            }
            Err(e) => {
                tracing::warn!("could not read server {id}: {e}");
                false
            }
        }
    }

    async fn get_image(&self, id: &str) -> bool {
        self.lock().requests += 1;
        match self.shared.cloud.image(id).await {
            Ok(Some(i)) => {
                self.note_image(i);
                true
            }
            Ok(None) => {
                self.note_image_gone(id);
                true
            }
            Err(e) => {
                tracing::warn!("could not read image {id}: {e}");
                false
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
mod tests {
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
}
