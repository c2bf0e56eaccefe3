//! The executor: the only part of the engine that does I/O. It asks the
//! dispatcher what may run, runs each step as a tokio task against the
//! cloud, reports outcomes back, and records everything in the journal,
//! the progress display and the final report.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::claims::fence::FencedCloud;
use super::claims::gate;
use super::claims::{ClaimBook, ServerSets};
use super::cloud::Cloud;
use super::dispatcher::{Command, Dispatcher, JobSpec, JobState, Outcome, Yielded};
use super::journal::{Event, Journal, now_rfc3339};
use super::progress::{Progress, ProgressMode};
use super::report::{ApplyReport, REPORT_FORMAT, ServerOutcome, ServerReport, StepTiming};
use super::signals::StopSignal;
use super::step::{JobCtx, RunEnv, StepResult};
use super::strategy::{self, Job};
use super::waiter::{PollMode, Waiter};
use crate::plan::changeset::{Action, Changeset, PlannedMove};
use crate::plan::inventory::{AvailabilityZone, Image, Server};

/// What a run works on, besides the cloud.
#[derive(Debug, Clone)]
pub struct RunInput {
    pub changeset: Changeset,
    /// Servers observed just before the run (the waiter starts from them).
    pub servers: Vec<Server>,
    /// azmove's images observed just before the run.
    pub images: Vec<Image>,
    pub availability_zones: Vec<AvailabilityZone>,
    /// Moves refused because their server changed since the saved plan was
    /// made: key → what changed.
    pub stale: BTreeMap<String, Vec<String>>,
    /// Moves whose server another live azmove run holds (key → why): they
    /// are reported `busy` and not touched.
    pub busy: BTreeMap<String, String>,
    /// `plan` (planned just now) or `saved` (from `plan -o`), for the journal.
    pub origin: String,
}

/// How a run behaves.
#[derive(Debug)]
pub struct ApplyOptions {
    pub poll: PollMode,
    pub progress: ProgressMode,
    pub journal: Arc<Journal>,
    /// Raised by Ctrl-C: the first stops gracefully, the second at once
    /// (calls in flight are dropped; the report is still made).
    pub stop: StopSignal,
    /// The command that resumes this run, shown when something remains.
    pub resume_command: Option<String>,
    /// This run's claims (see `apply::claims`): every server is claimed
    /// before its first change. `None` only where nothing else can act on
    /// the cloud (unit tests with a fake cloud).
    pub claims: Option<Arc<ClaimBook>>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            poll: PollMode::Shared(Default::default()),
            progress: ProgressMode::Quiet,
            journal: Arc::new(Journal::disabled()),
            stop: StopSignal::never(),
            resume_command: None,
            claims: None,
        }
    }
}

/// A finished command, sent back by its task.
struct Finished {
    key: String,
    ctx: JobCtx,
    result: StepResult,
    elapsed: Duration,
    label: String,
    attempt: u32,
}

/// Execute the changeset's moves and report on every entry.
pub async fn execute(cloud: Arc<dyn Cloud>, input: RunInput, options: ApplyOptions) -> ApplyReport {
    let started_at = now_rfc3339();
    let t0 = Instant::now();
    let requests_before = cloud.requests_sent();
    // Once the lease lapses, another run may hold the servers: every change
    // goes through the fence.
    let claims = options.claims.clone();
    let cloud: Arc<dyn Cloud> = match &claims {
        Some(book) => Arc::new(FencedCloud::new(cloud, book.lease())),
        None => cloud,
    };
    let heartbeat = claims.as_ref().map(|b| b.spawn_heartbeat());
    let cs = &input.changeset;

    let moves: BTreeMap<String, Arc<PlannedMove>> = cs
        .moves
        .iter()
        .map(|m| (m.key.clone(), Arc::new(m.clone())))
        .collect();
    let mut jobs = Vec::new();
    let mut external = BTreeMap::new();
    for m in &cs.moves {
        let runs = m.is_move()
            && m.source.is_some()
            && !input.stale.contains_key(&m.key)
            && !input.busy.contains_key(&m.key);
        if runs {
            jobs.push(JobSpec {
                key: m.key.clone(),
                source_az: m.source.as_ref().and_then(|s| s.availability_zone.clone()),
                target_az: m.target_az.clone(),
                after: m.after.clone(),
                steps: m.steps.clone(),
                retries: m.settings.retries,
            });
        } else {
            external.insert(m.key.clone(), matches!(m.action, Action::NoChange { .. }));
        }
    }
    let mut dispatcher = Dispatcher::new(jobs, external, &cs.limits);

    let poll = budget_polls(options.poll, cs.limits.requests_per_second);
    let waiter = Waiter::new(
        cloud.clone(),
        poll,
        cs.short_digest().to_string(),
        input.servers.clone(),
        input.images.clone(),
    );
    let poller = waiter.spawn();
    let hosts_by_az = input
        .availability_zones
        .iter()
        .filter_map(|az| {
            az.hosts
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| (az.name.clone(), h.iter().map(|h| h.name.clone()).collect()))
        })
        .collect();
    // What a step reads before acting may be as old as the longest poll
    // interval: the polls of other waits keep it that fresh at no cost,
    // and the few decisions that need the state of this very moment (the
    // check before deleting a source) read it again themselves.
    let fresh_within = match poll {
        PollMode::Shared(cfg) => cfg.max_interval,
        PollMode::Naive { interval } => interval,
    };
    let zone_hosts = input
        .availability_zones
        .iter()
        .filter_map(|az| az.hosts.clone().map(|h| (az.name.clone(), h)))
        .collect();
    let env = Arc::new(RunEnv {
        cloud: cloud.clone(),
        waiter: waiter.clone(),
        hosts_by_az,
        fresh_within,
        zone_hosts,
        host_book: Default::default(),
        run_id: claims.as_ref().map(|b| b.run().to_string()),
        stop_now: options.stop.now().clone(),
    });

    let journal = options.journal.clone();
    journal.record(Event::RunStarted {
        azmove_version: env!("CARGO_PKG_VERSION").to_string(),
        plan_path: cs.plan_path.clone(),
        plan_digest: cs.plan_digest.clone(),
        cloud: cs.cloud.clone(),
        servers: dispatcher.jobs().len(),
        source: input.origin.clone(),
        polling: poll.name().to_string(),
    });
    for (key, changed) in &input.stale {
        let name = moves
            .get(key)
            .map(|m| m.display_name().to_string())
            .unwrap_or_default();
        journal.record(Event::Stale {
            server: key.clone(),
            name,
            changed: changed.clone(),
        });
    }

    let progress = Progress::new(options.progress, dispatcher.jobs().len());
    let mut ctxs: HashMap<String, JobCtx> = HashMap::new();
    for m in moves.values() {
        ctxs.insert(
            m.key.clone(),
            JobCtx {
                snapshot_id: m
                    .existing
                    .snapshot_id
                    .clone()
                    .filter(|_| m.existing.snapshot_status.as_deref() != Some("killed")),
                replacement_id: m
                    .existing
                    .replacement_id
                    .clone()
                    .filter(|_| m.existing.replacement_status.as_deref() != Some("ERROR")),
                ..JobCtx::default()
            },
        );
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Finished>();
    let stop = options.stop.clone();
    let mut in_flight = 0usize;
    let mut tasks = Vec::new();
    let mut releases = Vec::new();

    loop {
        let now = t0.elapsed();
        for cmd in dispatcher.next_commands(now) {
            let key = cmd.key().to_string();
            let Some(mv) = moves.get(&key).cloned() else {
                continue;
            };
            let ctx = ctxs.remove(&key).unwrap_or_default();
            let (label, attempt) = match &cmd {
                Command::Run { step, attempt, .. } => {
                    progress.step(&key, mv.display_name(), *step, *attempt);
                    (step.as_str().to_string(), *attempt)
                }
                Command::Rollback { reason, .. } => {
                    progress.rollback(
                        &key,
                        mv.display_name(),
                        reason,
                        strategy::of(mv.strategy).moves_in_place(),
                    );
                    ("rollback".to_string(), 0)
                }
            };
            journal.record(Event::StepStarted {
                server: key.clone(),
                name: mv.display_name().to_string(),
                step: label.clone(),
                attempt,
            });
            in_flight += 1;
            tasks.retain(|t: &AbortHandle| !t.is_finished());
            tasks.push(spawn_command(
                cmd,
                env.clone(),
                claims.clone(),
                mv,
                ctx,
                stop.clone(),
                tx.clone(),
                label,
                attempt,
            ));
        }
        if dispatcher.is_finished() && in_flight == 0 {
            break;
        }
        tokio::select! {
            biased;
            // A second Ctrl-C: what is in flight is dropped where it is
            // (every step is safe to resume), and the run ends now.
            () = stop.now().cancelled() => {
                if !dispatcher.is_interrupted() {
                    interrupt(&mut dispatcher, &progress, &journal, t0.elapsed());
                }
                for t in &tasks {
                    t.abort();
                }
                break;
            }
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                in_flight = in_flight.saturating_sub(1);
                let key = msg.key.clone();
                handle_finished(msg, &mut dispatcher, &mut ctxs, &moves, &journal, &progress, t0.elapsed());
                // A finished move gives its server back at once.
                if let Some(book) = &claims
                    && dispatcher.job(&key).is_some_and(|j| j.state.is_terminal())
                    && let Some(ctx) = ctxs.get_mut(&key)
                    && std::mem::take(&mut ctx.claimed)
                    && let Some(id) = moves.get(&key).and_then(|m| m.source.as_ref()).map(|s| s.id.clone())
                {
                    let book = book.clone();
                    releases.push(tokio::spawn(async move { book.release(&id).await }));
                }
            }
            () = stop.stopped(), if !dispatcher.is_interrupted() => {
                interrupt(&mut dispatcher, &progress, &journal, t0.elapsed());
            }
        }
    }
    poller.abort();
    // Stopped at once: nothing more is asked of the cloud. The claims stay
    // as a killed run leaves them, for the next run to take over.
    let at_once = stop.is_stopped_now();
    for r in releases {
        if at_once {
            r.abort();
        } else {
            let _ = r.await;
        }
    }
    if let Some(h) = heartbeat {
        h.abort();
    }
    if let Some(book) = claims.as_ref().filter(|_| !at_once) {
        let sets = ServerSets {
            plan: cs
                .moves
                .iter()
                .filter_map(|m| m.source.as_ref().map(|s| s.id.clone()))
                .collect(),
            existing: waiter
                .servers_where(|s| s.status != "DELETED")
                .into_iter()
                .map(|s| s.id)
                .collect(),
        };
        book.close(&sets).await;
    }
    progress.finish();

    let elapsed = t0.elapsed();
    let servers = server_reports(cs, &dispatcher, &ctxs, &input, &waiter);
    let counts = ApplyReport::counts_of(&servers);
    let api_requests = match (cloud.requests_sent(), requests_before) {
        (Some(a), Some(b)) => Some(a.saturating_sub(b)),
        _ => None,
    };
    journal.record(Event::RunFinished {
        moved: counts.moved,
        unchanged: counts.unchanged,
        failed: counts.failed,
        skipped: counts.skipped,
        interrupted: counts.interrupted,
        elapsed_ms: elapsed.as_millis() as u64,
        api_requests,
    });
    let mut report = ApplyReport {
        format: REPORT_FORMAT,
        azmove_version: env!("CARGO_PKG_VERSION").to_string(),
        plan_path: cs.plan_path.clone(),
        plan_digest: cs.plan_digest.clone(),
        cloud: cs.cloud.clone(),
        started_at,
        finished_at: now_rfc3339(),
        elapsed_s: elapsed.as_secs_f64(),
        interrupted: dispatcher.is_interrupted(),
        counts,
        api_requests,
        polling: poll.name().to_string(),
        journal: journal.path().map(|p| p.display().to_string()),
        resume: None,
        servers,
    };
    if !report.is_success() {
        report.resume = options.resume_command.clone();
    }
    report
}

/// The first Ctrl-C: nothing new starts; calls in flight are let finish.
fn interrupt(dispatcher: &mut Dispatcher, progress: &Progress, journal: &Journal, now: Duration) {
    dispatcher.interrupt(now);
    let remaining = dispatcher
        .jobs()
        .iter()
        .filter(|j| j.state != JobState::Done)
        .count();
    progress.note("stopping: no new server starts; letting calls in flight finish");
    journal.record(Event::Interrupted { remaining });
}

/// Share of the request budget (`requests_per_second`) that polls of one
/// kind (servers, or images) may take at most.
const POLL_SHARE: f64 = 0.1;

/// Keep polls from eating the request budget: when the rate limit is what
/// bounds the run, a poll spends a request a step could have used, so no
/// kind of poll runs more often than `POLL_SHARE` of the limit allows.
pub fn budget_polls(poll: PollMode, requests_per_second: f64) -> PollMode {
    match poll {
        PollMode::Shared(mut cfg)
            if requests_per_second.is_finite() && requests_per_second > 0.0 =>
        {
            let floor = Duration::from_secs_f64(1.0 / (POLL_SHARE * requests_per_second));
            cfg.min_interval = cfg.min_interval.max(floor);
            cfg.max_interval = cfg.max_interval.max(cfg.min_interval);
            PollMode::Shared(cfg)
        }
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_command(
    cmd: Command,
    env: Arc<RunEnv>,
    claims: Option<Arc<ClaimBook>>,
    mv: Arc<PlannedMove>,
    ctx: JobCtx,
    stop: StopSignal,
    tx: mpsc::UnboundedSender<Finished>,
    label: String,
    attempt: u32,
) -> AbortHandle {
    let key = cmd.key().to_string();
    let backup = ctx.clone();
    let started = Instant::now();
    let inner = tokio::spawn(async move {
        let mut ctx = ctx;
        let graceful = stop.graceful().clone();
        // Before its first change, the move claims its server.
        if let (Command::Run { .. }, Some(book)) = (&cmd, &claims)
            && !ctx.claimed
            && let Some(r) = gate::pass(&env, book, &mv, &mut ctx, &graceful).await
        {
            return (ctx, r);
        }
        let result = match cmd {
            Command::Run { step, .. } => {
                let job = Job {
                    env: &env,
                    mv: &mv,
                    ctx: &mut ctx,
                    stop: graceful,
                };
                strategy::run_step(job, step).await
            }
            // A rollback puts a server back: the first Ctrl-C does not cut it short.
            Command::Rollback { .. } => {
                let job = Job {
                    env: &env,
                    mv: &mv,
                    ctx: &mut ctx,
                    stop: stop.now().clone(),
                };
                strategy::rollback(job).await
            }
        };
        (ctx, result)
    });
    let handle = inner.abort_handle();
    tokio::spawn(async move {
        let (ctx, result) = match inner.await {
            Ok(done) => done,
            Err(e) => {
                let reason = format!("internal error while running {label}: {e}");
                (
                    backup,
                    StepResult {
                        outcome: Outcome::Failed {
                            reason: reason.clone(),
                            rollback: false,
                        },
                        message: Some(reason),
                        object_id: None,
                        request_ids: Vec::new(),
                    },
                )
            }
        };
        let _ = tx.send(Finished {
            key,
            ctx,
            result,
            elapsed: started.elapsed(),
            label,
            attempt,
        });
    });
    handle
}

fn handle_finished(
    msg: Finished,
    dispatcher: &mut Dispatcher,
    ctxs: &mut HashMap<String, JobCtx>,
    moves: &BTreeMap<String, Arc<PlannedMove>>,
    journal: &Journal,
    progress: &Progress,
    now: Duration,
) {
    let Finished {
        key,
        ctx,
        result,
        elapsed,
        label,
        attempt,
    } = msg;
    let name = moves
        .get(&key)
        .map(|m| m.display_name().to_string())
        .unwrap_or_default();
    let outcome_word = match &result.outcome {
        Outcome::Done => "done",
        Outcome::Redo { .. } => "redo",
        Outcome::Failed { .. } => "failed",
        Outcome::Interrupted => "interrupted",
        Outcome::Yield { kind, .. } => match kind {
            Yielded::Busy => "busy",
            Yielded::Changed => "changed",
            Yielded::AlreadyDone => "already done",
        },
    };
    journal.record(Event::StepFinished {
        server: key.clone(),
        name: name.clone(),
        step: label,
        attempt,
        outcome: outcome_word.to_string(),
        elapsed_ms: elapsed.as_millis() as u64,
        message: result.message.clone(),
        request_ids: result.request_ids.clone(),
        object_id: result.object_id.clone(),
    });
    ctxs.insert(key.clone(), ctx);
    dispatcher.report(&key, result.outcome, now);
    let Some(job) = dispatcher.job(&key) else {
        return;
    };
    let replacement = ctxs.get(&key).and_then(|c| c.replacement_id.clone());
    let downtime = ctxs
        .get(&key)
        .and_then(|c| c.downtime)
        .map(|d| d.duration.as_secs_f64());
    let in_place = moves
        .get(&key)
        .is_some_and(|m| strategy::of(m.strategy).moves_in_place());
    let (word, detail) = match &job.state {
        JobState::Done if in_place => (
            "moved",
            ctxs.get(&key)
                .and_then(|c| c.source_state.clone())
                .unwrap_or_else(|| "moved in place".into()),
        ),
        JobState::Done => (
            "moved",
            replacement
                .as_ref()
                .map(|r| format!("replacement {r}"))
                .unwrap_or_default(),
        ),
        JobState::Failed { reason } => ("failed", reason.clone()),
        JobState::Busy { reason } => ("busy", reason.clone()),
        JobState::Changed { reason } => ("changed", reason.clone()),
        JobState::AlreadyDone { reason } => ("unchanged", reason.clone()),
        JobState::Interrupted => ("interrupted", "run again to continue".to_string()),
        _ => return,
    };
    progress.finished(&key, &name, word, &detail);
    journal.record(Event::ServerFinished {
        server: key.clone(),
        name: name.clone(),
        outcome: word.to_string(),
        replacement,
        message: (!detail.is_empty() && word != "moved").then_some(detail),
        downtime_s: downtime,
    });
    // Servers skipped because this one did not succeed.
    if matches!(
        job.state,
        JobState::Failed { .. } | JobState::Busy { .. } | JobState::Changed { .. }
    ) {
        for other in dispatcher.jobs() {
            if let JobState::Skipped { because } = &other.state
                && other.finished == Some(now)
            {
                let oname = moves
                    .get(&other.spec.key)
                    .map(|m| m.display_name().to_string())
                    .unwrap_or_default();
                let bname = moves
                    .get(because)
                    .map(|m| m.display_name().to_string())
                    .unwrap_or_else(|| because.clone());
                let why = format!("comes after {bname}, which did not succeed");
                progress.finished(&other.spec.key, &oname, "skipped", &why);
                journal.record(Event::ServerFinished {
                    server: other.spec.key.clone(),
                    name: oname,
                    outcome: "skipped".into(),
                    replacement: None,
                    message: Some(why),
                    downtime_s: None,
                });
            }
        }
    }
}

fn server_reports(
    cs: &Changeset,
    dispatcher: &Dispatcher,
    ctxs: &HashMap<String, JobCtx>,
    input: &RunInput,
    waiter: &Waiter,
) -> Vec<ServerReport> {
    let stale = &input.stale;
    let name_of = |key: &str| {
        cs.get(key)
            .map(|m| m.display_name().to_string())
            .unwrap_or_else(|| key.to_string())
    };
    cs.moves
        .iter()
        .map(|m| {
            let src = m.source.as_ref();
            let ctx = ctxs.get(&m.key);
            let mut r = ServerReport {
                key: m.key.clone(),
                name: m.display_name().to_string(),
                entry: m.entry.clone(),
                outcome: ServerOutcome::Unchanged,
                source_id: src.map(|s| s.id.clone()),
                from_az: src.and_then(|s| s.availability_zone.clone()),
                from_host: src.and_then(|s| s.host.clone()),
                target_az: m.target_az.clone(),
                replacement_id: None,
                replacement_az: None,
                replacement_host: None,
                snapshot_id: ctx.and_then(|c| c.snapshot_id.clone()),
                source_after: m.settings.source_after.as_str().to_string(),
                source_state: ctx.and_then(|c| c.source_state.clone()),
                message: None,
                request_ids: ctx.map(|c| c.request_ids.clone()).unwrap_or_default(),
                remaining_steps: Vec::new(),
                steps: Vec::new(),
                elapsed_s: None,
                strategy: m.strategy.as_str().to_string(),
                downtime_seconds: ctx
                    .and_then(|c| c.downtime)
                    .map(|d| d.duration.as_secs_f64()),
                downtime_from: ctx.and_then(|c| c.downtime).map(|d| d.from.to_string()),
                server_az: None,
                server_host: None,
                server_pinned_az: None,
            };
            if strategy::of(m.strategy).moves_in_place() {
                let now = src
                    .and_then(|s| waiter.server(&s.id))
                    .or_else(|| ctx.and_then(|c| c.server.clone()));
                if let Some(now) = now {
                    r.server_az = now.availability_zone.clone();
                    r.server_host = now.host.clone();
                    r.server_pinned_az = now.pinned_availability_zone.clone();
                }
            }
            if let Some(why) = input.busy.get(&m.key) {
                r.outcome = ServerOutcome::Busy;
                r.message = Some(why.clone());
                r.remaining_steps = m.steps.clone();
                return r;
            }
            if let Some(changed) = stale.get(&m.key) {
                r.outcome = ServerOutcome::Stale;
                r.message = Some(format!(
                    "changed since the plan was saved ({}); run `azmove plan` again and review it",
                    changed.join("; ")
                ));
                r.remaining_steps = m.steps.clone();
                return r;
            }
            match &m.action {
                Action::NoChange { reason } => {
                    r.message = Some(reason.clone());
                    return r;
                }
                Action::Blocked { reasons } => {
                    r.outcome = ServerOutcome::Blocked;
                    r.message = Some(
                        reasons
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "),
                    );
                    return r;
                }
                Action::Move => {}
            }
            let Some(job) = dispatcher.job(&m.key) else {
                r.outcome = ServerOutcome::Blocked;
                r.message = Some("the entry resolved to no server".into());
                return r;
            };
            let replacement = ctx
                .and_then(|c| c.replacement_id.as_deref())
                .and_then(|id| {
                    waiter
                        .server(id)
                        .or_else(|| ctx.and_then(|c| c.replacement.clone()))
                });
            r.replacement_id = ctx.and_then(|c| c.replacement_id.clone());
            r.replacement_az = replacement
                .as_ref()
                .and_then(|s| s.availability_zone.clone());
            r.replacement_host = replacement.as_ref().and_then(|s| s.host.clone());
            r.steps = job
                .history
                .iter()
                .map(|h| StepTiming {
                    step: h
                        .step
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "rollback".into()),
                    attempt: h.attempt,
                    started_s: h.started.as_secs_f64(),
                    elapsed_s: h
                        .finished
                        .map(|f| f.saturating_sub(h.started).as_secs_f64()),
                    outcome: h.outcome.clone(),
                })
                .collect();
            r.elapsed_s = match (job.started, job.finished) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64()),
                _ => None,
            };
            match &job.state {
                JobState::Done => r.outcome = ServerOutcome::Moved,
                JobState::AlreadyDone { reason } => {
                    r.outcome = ServerOutcome::Unchanged;
                    r.message = Some(reason.clone());
                }
                JobState::Busy { reason } => {
                    r.outcome = ServerOutcome::Busy;
                    r.message = Some(reason.clone());
                    r.remaining_steps = m.steps.clone();
                }
                JobState::Changed { reason } | JobState::Failed { reason } => {
                    r.outcome = if matches!(job.state, JobState::Changed { .. }) {
                        ServerOutcome::Changed
                    } else {
                        ServerOutcome::Failed
                    };
                    r.message = Some(reason.clone());
                    r.remaining_steps = job.remaining_steps().to_vec();
                    // Rolled back: the replacement and snapshot are gone.
                    if job.history.iter().any(|h| h.step.is_none()) {
                        r.replacement_id = None;
                        r.replacement_az = None;
                        r.replacement_host = None;
                        r.snapshot_id = None;
                    }
                }
                JobState::Skipped { because } => {
                    r.outcome = ServerOutcome::Skipped;
                    r.message = Some(format!(
                        "not started: it comes after {}, which did not succeed",
                        name_of(because)
                    ));
                    r.remaining_steps = m.steps.clone();
                }
                JobState::Interrupted | JobState::Waiting | JobState::Running => {
                    r.outcome = ServerOutcome::Interrupted;
                    r.remaining_steps = job.remaining_steps().to_vec();
                    r.message = Some(if job.started.is_some() {
                        format!(
                            "interrupted; remaining: {}",
                            steps_text(job.remaining_steps())
                        )
                    } else {
                        "not started (interrupted)".to_string()
                    });
                }
            }
            r
        })
        .collect()
}

fn steps_text(steps: &[crate::plan::changeset::Step]) -> String {
    steps
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
