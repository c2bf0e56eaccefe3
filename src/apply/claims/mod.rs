//! Claims: how runs of azmove keep off each other's servers.
//!
//! Before its first change to a server, a run claims it; a server claimed
//! by another live run is left alone and reported `busy`. The protocol and
//! why it is safe are in [`rules`]; this module does the I/O:
//!
//! - a **run record** per run (a hidden Glance image, one per project the
//!   run touches) whose heartbeat the run renews every quarter lease;
//! - a **claim record** per server (a hidden Glance image naming the server
//!   and the run), written, read back and decided on by [`rules::decide`];
//! - the [`Lease`]: a run that could not renew its heartbeat for three
//!   quarters of the lease stops changing anything ([`fence`]), because
//!   others may soon call it dead and take its servers over.
//!
//! Hidden images stay out of every plain image list; `openstack image list
//! --hidden` shows them, `azmove plan` shows the claims on its servers, and
//! `azmove unlock RUN` removes a dead run's records.

pub mod fence;
pub mod gate;
pub mod local;
pub mod rules;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::time::Instant;

use self::local::ThisMachine;
use self::rules::{
    CLAIM, CLAIM_PLAN, CLAIM_SERVER_NAME, Claim, Decision, Liveness, LocalProcesses, RECORD, RUN,
    RUN_BEAT, RUN_HOST, RUN_LEASE, RUN_PLAN, RUN_PROC, RUN_RECORD, RUN_USER, RunRecord,
};
use super::cloud::Cloud;
use crate::openstack::Error;

/// How long a run's claims hold without a heartbeat, unless set otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

/// Who runs, for the records other people will read.
#[derive(Debug, Clone)]
pub struct RunIdentity {
    pub run: String,
    pub plan: String,
    pub user: Option<String>,
    pub host: Option<String>,
}

/// The run's lease as this process sees it: valid while the last renewal
/// that the cloud accepted was sent less than three quarters of the lease
/// ago, by both the monotonic and the wall clock (the wall clock counts a
/// suspended laptop's sleep, which the monotonic one does not).
#[derive(Debug)]
pub struct Lease {
    ttl: Duration,
    renewed_mono: Mutex<Instant>,
    renewed_wall: Mutex<SystemTime>,
    /// Set for good once the lease lapsed: a run never acts again after it.
    lost: std::sync::atomic::AtomicBool,
}

impl Lease {
    pub fn new(ttl: Duration) -> Lease {
        Lease {
            ttl,
            renewed_mono: Mutex::new(Instant::now()),
            renewed_wall: Mutex::new(SystemTime::now()),
            lost: Default::default(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn renewed(&self, sent_mono: Instant, sent_wall: SystemTime) {
        // A renewal after a lapse does not bring the lease back: others may
        // have taken the servers over meanwhile.
        if !self.is_valid() {
            return;
        }
        *self.renewed_mono.lock().unwrap_or_else(|e| e.into_inner()) = sent_mono;
        *self.renewed_wall.lock().unwrap_or_else(|e| e.into_inner()) = sent_wall;
    }

    /// Whether this run may still act on the servers it claimed.
    pub fn is_valid(&self) -> bool {
        if self.lost.load(Ordering::SeqCst) {
            return false;
        }
        let window = self.ttl.mul_f64(0.75);
        let mono = self
            .renewed_mono
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed();
        let wall = SystemTime::now()
            .duration_since(*self.renewed_wall.lock().unwrap_or_else(|e| e.into_inner()))
            .unwrap_or_default();
        let ok = mono < window && wall < window;
        if !ok {
            self.lost.store(true, Ordering::SeqCst);
        }
        ok
    }
}

/// The result of claiming a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimResult {
    /// Mine; `took_over` names dead runs whose claims were removed.
    Won { took_over: Vec<String> },
    /// Another live run holds it.
    Busy {
        run: String,
        since: String,
        detail: String,
    },
}

/// A run's claims.
pub struct ClaimBook {
    cloud: Arc<dyn Cloud>,
    me: RunIdentity,
    lease: Arc<Lease>,
    machine: ThisMachine,
    /// The caller's own project: records go there unless the server is in another.
    own_project: Option<String>,
    /// Run records by project (`None`: the caller's own).
    run_records: tokio::sync::Mutex<BTreeMap<Option<String>, String>>,
    /// Claim records held, by server.
    held: Mutex<HashMap<String, Vec<String>>>,
    /// What is known of other runs: dead stays dead; alive is re-read after
    /// a quarter lease.
    others: Mutex<HashMap<String, (Liveness, Instant)>>,
    beats: AtomicU64,
}

impl std::fmt::Debug for ClaimBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimBook")
            .field("run", &self.me.run)
            .finish()
    }
}

impl ClaimBook {
    /// Register the run with the cloud (its first run record). Nothing is
    /// claimed yet.
    pub async fn open(
        cloud: Arc<dyn Cloud>,
        me: RunIdentity,
        ttl: Duration,
        own_project: Option<String>,
    ) -> Result<Arc<ClaimBook>, Error> {
        let book = Arc::new(ClaimBook {
            cloud,
            me,
            lease: Arc::new(Lease::new(ttl)),
            machine: ThisMachine::detect(),
            own_project,
            run_records: Default::default(),
            held: Default::default(),
            others: Default::default(),
            beats: AtomicU64::new(0),
        });
        book.run_record_in(None).await?;
        Ok(book)
    }

    pub fn run(&self) -> &str {
        &self.me.run
    }

    pub fn lease(&self) -> Arc<Lease> {
        self.lease.clone()
    }

    /// The run record in `project` (the caller's own for `None`), made on
    /// first use.
    async fn run_record_in(&self, project: Option<&str>) -> Result<String, Error> {
        let key = project
            .filter(|p| Some(*p) != self.own_project.as_deref())
            .map(str::to_string);
        let mut records = self.run_records.lock().await;
        if let Some(id) = records.get(&key) {
            return Ok(id.clone());
        }
        let mut props = BTreeMap::from([
            (RECORD.to_string(), "run".to_string()),
            (RUN_RECORD.to_string(), self.me.run.clone()),
            (RUN_PLAN.to_string(), clip(&self.me.plan)),
            (RUN_BEAT.to_string(), "0".to_string()),
            (RUN_LEASE.to_string(), self.lease.ttl.as_secs().to_string()),
        ]);
        if let Some(u) = &self.me.user {
            props.insert(RUN_USER.into(), clip(u));
        }
        if let Some(h) = &self.me.host {
            props.insert(RUN_HOST.into(), clip(h));
        }
        if let Some(k) = self.machine.me() {
            props.insert(RUN_PROC.into(), k.encode());
        }
        let name = format!("azmove-run-{}", self.me.run);
        let sent = (Instant::now(), SystemTime::now());
        let image = self
            .cloud
            .create_hidden_record(&name, &props, key.as_deref())
            .await?;
        if records.is_empty() {
            self.lease.renewed(sent.0, sent.1);
        }
        records.insert(key, image.id.clone());
        Ok(image.id)
    }

    /// Renew the heartbeat of every run record, every quarter lease, until
    /// the task is aborted.
    pub fn spawn_heartbeat(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let book = self.clone();
        tokio::spawn(async move {
            let every = book.lease.ttl / 4;
            loop {
                tokio::time::sleep(every).await;
                book.beat().await;
            }
        })
    }

    async fn beat(&self) {
        let n = self.beats.fetch_add(1, Ordering::Relaxed) + 1;
        let props = BTreeMap::from([(RUN_BEAT.to_string(), n.to_string())]);
        let ids: Vec<String> = self.run_records.lock().await.values().cloned().collect();
        let sent = (Instant::now(), SystemTime::now());
        let mut all_ok = true;
        for id in ids {
            if let Err(e) = self.cloud.set_image_properties(&id, &props).await {
                all_ok = false;
                tracing::warn!(
                    "could not renew this run's claims (heartbeat of record {id}): {e}; the run stops changing servers if this lasts {}",
                    humantime::format_duration(self.lease.ttl.mul_f64(0.75))
                );
            }
        }
        if all_ok {
            self.lease.renewed(sent.0, sent.1);
        }
    }

    /// Claim `server_id` for this run (see [`rules`]). `project` is the
    /// server's project, when known.
    pub async fn claim(
        &self,
        server_id: &str,
        server_name: &str,
        project: Option<&str>,
    ) -> Result<ClaimResult, Error> {
        if !self.lease.is_valid() {
            return Err(Error::Config(
                "this run's lease on its claims lapsed (its heartbeat could not be renewed), so it claims nothing more".into(),
            ));
        }
        let owner = project.filter(|p| Some(*p) != self.own_project.as_deref());
        if owner.is_some() {
            // Members of that project must see this run alive too.
            self.run_record_in(owner).await?;
        }
        const ATTEMPTS: u32 = 4;
        let mut last_holder = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                let pause = {
                    let mut rng = rand::rng();
                    Duration::from_millis(rng.random_range(200..1200) * u64::from(attempt))
                };
                tokio::time::sleep(pause).await;
                // Still held by a live run? Then do not even write.
                let claims = self.claims_on(server_id).await?;
                if let Decision::Lost { holder } = self.decide(&claims).await? {
                    last_holder = Some(holder);
                    continue;
                }
            }
            let props = BTreeMap::from([
                (RECORD.to_string(), "claim".to_string()),
                (CLAIM.to_string(), server_id.to_string()),
                (RUN.to_string(), self.me.run.clone()),
                (CLAIM_SERVER_NAME.to_string(), clip(server_name)),
                (CLAIM_PLAN.to_string(), clip(&self.me.plan)),
            ]);
            let name = format!("azmove-claim-{server_id}");
            let mine = self
                .cloud
                .create_hidden_record(&name, &props, owner)
                .await?;
            self.note_held(server_id, &mine.id);
            let claims = self.claims_on(server_id).await?;
            for c in claims.iter().filter(|c| c.run == self.me.run) {
                self.note_held(server_id, &c.record_id);
            }
            match self.decide(&claims).await? {
                Decision::Won { stale } => {
                    let mut took_over = Vec::new();
                    for c in stale {
                        if let Err(e) = self.cloud.delete_image(&c.record_id).await {
                            tracing::debug!(
                                "could not remove a dead run's claim {}: {e}",
                                c.record_id
                            );
                        }
                        if !took_over.contains(&c.run) {
                            took_over.push(c.run);
                        }
                    }
                    return Ok(ClaimResult::Won { took_over });
                }
                Decision::Lost { holder } => {
                    self.release(server_id).await;
                    last_holder = Some(holder);
                }
            }
        }
        let holder = last_holder.unwrap_or_else(|| Claim {
            record_id: String::new(),
            server_id: server_id.into(),
            run: "another run".into(),
            server_name: None,
            plan: None,
            created_at: String::new(),
        });
        let detail = self.describe_run(&holder.run).await;
        Ok(ClaimResult::Busy {
            run: holder.run,
            since: holder.created_at,
            detail,
        })
    }

    fn note_held(&self, server_id: &str, record: &str) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let v = held.entry(server_id.to_string()).or_default();
        if !v.iter().any(|r| r == record) {
            v.push(record.to_string());
        }
    }

    /// Every claim on `server_id`, read now.
    async fn claims_on(&self, server_id: &str) -> Result<Vec<Claim>, Error> {
        let (images, _) = self.cloud.hidden_records(CLAIM, server_id).await?;
        Ok(images
            .iter()
            .filter_map(Claim::from_image)
            .filter(|c| c.server_id == server_id)
            .collect())
    }

    async fn decide(&self, claims: &[Claim]) -> Result<Decision, Error> {
        let mut alive = BTreeMap::new();
        for c in claims.iter().filter(|c| c.run != self.me.run) {
            if !alive.contains_key(&c.run) {
                let l = self.liveness_of(&c.run).await?;
                alive.insert(c.run.clone(), l.is_alive());
            }
        }
        Ok(rules::decide(&self.me.run, claims, |r| {
            alive.get(r).copied().unwrap_or(false)
        }))
    }

    /// Whether run `run` is alive; dead is remembered for good (a run whose
    /// lease lapsed never acts again), alive for a quarter lease.
    pub async fn liveness_of(&self, run: &str) -> Result<Liveness, Error> {
        if let Some((l, at)) = self
            .others
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(run)
            && (!l.is_alive() || at.elapsed() < self.lease.ttl / 4)
        {
            return Ok(l.clone());
        }
        let l = read_liveness(self.cloud.as_ref(), run, self.lease.ttl, &self.machine).await?;
        self.others
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run.to_string(), (l.clone(), Instant::now()));
        Ok(l)
    }

    async fn describe_run(&self, run: &str) -> String {
        match self.cloud.hidden_records(RUN_RECORD, run).await {
            Ok((images, _)) => images
                .iter()
                .filter_map(RunRecord::from_image)
                .next()
                .map(|r| describe_record(&r))
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Give up the claim on `server_id` (every record of this run on it).
    pub async fn release(&self, server_id: &str) {
        let records = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(server_id)
            .unwrap_or_default();
        for id in records {
            if let Err(e) = self.cloud.delete_image(&id).await {
                tracing::warn!(
                    "could not remove this run's claim record {id} on server {server_id}: {e}; it expires with the run's lease"
                );
            }
        }
    }

    /// End the run: release every claim, then the run records, then sweep
    /// what dead runs left on this plan's servers and on servers that no
    /// longer exist.
    pub async fn close(&self, plan_servers: &ServerSets) {
        let servers: Vec<String> = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for s in servers {
            self.release(&s).await;
        }
        let records: Vec<String> = self.run_records.lock().await.values().cloned().collect();
        for id in records {
            if let Err(e) = self.cloud.delete_image(&id).await {
                tracing::warn!("could not remove this run's record {id}: {e}");
            }
        }
        if let Err(e) = self.sweep(plan_servers).await {
            tracing::debug!("could not sweep the records of dead runs: {e}");
        }
    }

    /// Remove what dead runs left behind (a run killed with SIGKILL keeps
    /// its claims and its record): their claims on this plan's servers —
    /// this run has just moved those servers or found them done, so the
    /// claims say nothing true any more — and on servers that no longer
    /// exist, and then the records of dead runs that hold no claim at all. Dead claims on other servers stay,
    /// for `azmove plan` to show and the next run of their plan to take over.
    async fn sweep(&self, sets: &ServerSets) -> Result<(), Error> {
        let (run_images, date) = self.cloud.hidden_records(RECORD, "run").await?;
        let (claim_images, _) = self.cloud.hidden_records(RECORD, "claim").await?;
        let now = date.unwrap_or_else(SystemTime::now);
        let records: Vec<RunRecord> = run_images
            .iter()
            .filter_map(RunRecord::from_image)
            .filter(|r| r.run != self.me.run)
            .collect();
        let by_run = rules::runs_by_id(&records);
        let dead = |run: &str| {
            let recs = by_run.get(run).cloned().unwrap_or_default();
            !rules::liveness(&recs, now, self.lease.ttl, &self.machine).is_alive()
        };
        let mut claiming = std::collections::BTreeSet::new();
        for c in claim_images.iter().filter_map(Claim::from_image) {
            if c.run == self.me.run {
                continue;
            }
            let ours_or_gone =
                sets.plan.contains(&c.server_id) || !sets.existing.contains(&c.server_id);
            if ours_or_gone && dead(&c.run) {
                self.cloud.delete_image(&c.record_id).await?;
            } else {
                claiming.insert(c.run);
            }
        }
        for (run, recs) in &by_run {
            if claiming.contains(run) || !dead(run) {
                continue;
            }
            for r in recs {
                self.cloud.delete_image(&r.record_id).await?;
            }
        }
        Ok(())
    }
}

/// Read whether `run` is alive: its run records, judged on the cloud's clock.
pub async fn read_liveness(
    cloud: &dyn Cloud,
    run: &str,
    ttl: Duration,
    local: &(dyn LocalProcesses + Sync),
) -> Result<Liveness, Error> {
    let (images, date) = cloud.hidden_records(RUN_RECORD, run).await?;
    let records: Vec<RunRecord> = images
        .iter()
        .filter_map(RunRecord::from_image)
        .filter(|r| r.run == run)
        .collect();
    let now = date.unwrap_or_else(SystemTime::now);
    Ok(rules::liveness(&records, now, ttl, local))
}

/// "alice on build-7, plan plans/drain.yaml".
pub fn describe_record(r: &RunRecord) -> String {
    let mut parts = Vec::new();
    if let Some(u) = &r.user {
        parts.push(u.clone());
    }
    if let Some(h) = &r.host {
        parts.push(format!("on {h}"));
    }
    let mut out = parts.join(" ");
    if let Some(p) = &r.plan {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&format!("plan {p}"));
    }
    out
}

/// Glance limits property values to 255 characters.
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The servers a run knows of when it ends, for the sweep.
#[derive(Debug, Clone, Default)]
pub struct ServerSets {
    /// The plan's servers.
    pub plan: std::collections::BTreeSet<String>,
    /// Every server the run saw exist (its last poll).
    pub existing: std::collections::BTreeSet<String>,
}

/// A claim with what is known of its run, for people (`azmove plan`) and
/// for the check before an apply.
#[derive(Debug, Clone)]
pub struct ClaimView {
    pub claim: Claim,
    pub liveness: Liveness,
    /// "alice on build-7 plan p.yaml", when the run record says.
    pub who: String,
}

/// Every claim on the servers `ids`, with its run's liveness: two list
/// requests, whatever the number of servers.
pub async fn claims_on(
    cloud: &dyn Cloud,
    ids: &std::collections::BTreeSet<String>,
    default_lease: Duration,
) -> Result<Vec<ClaimView>, Error> {
    let (claim_images, _) = cloud.hidden_records(RECORD, "claim").await?;
    let claims: Vec<Claim> = claim_images
        .iter()
        .filter_map(Claim::from_image)
        .filter(|c| ids.contains(&c.server_id))
        .collect();
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let (run_images, date) = cloud.hidden_records(RECORD, "run").await?;
    let now = date.unwrap_or_else(SystemTime::now);
    let records: Vec<RunRecord> = run_images
        .iter()
        .filter_map(RunRecord::from_image)
        .collect();
    let runs = rules::runs_by_id(&records);
    let here = ThisMachine::detect();
    Ok(claims
        .into_iter()
        .map(|claim| {
            let records = runs.get(&claim.run).cloned().unwrap_or_default();
            ClaimView {
                liveness: rules::liveness(&records, now, default_lease, &here),
                who: records.first().map(describe_record).unwrap_or_default(),
                claim,
            }
        })
        .collect())
}

/// The servers of `ids` that a live run other than `me` holds, with the
/// words for the report.
pub async fn held_by_others(
    cloud: &dyn Cloud,
    me: Option<&str>,
    ids: &std::collections::BTreeSet<String>,
    default_lease: Duration,
) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for v in claims_on(cloud, ids, default_lease).await? {
        if Some(v.claim.run.as_str()) == me || !v.liveness.is_alive() {
            continue;
        }
        out.entry(v.claim.server_id.clone()).or_insert_with(|| {
            format!(
                "in progress by azmove run {} since {}{}: not touched; run again once it has finished",
                v.claim.run,
                v.claim.created_at,
                if v.who.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", v.who)
                }
            )
        });
    }
    Ok(out)
}
