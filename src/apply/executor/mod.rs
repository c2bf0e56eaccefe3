//! The executor: the only part of the engine that does I/O. It asks the
//! dispatcher what may run, runs each step as a tokio task against the
//! cloud, reports outcomes back, and records everything in the journal,
//! the progress display and the final report.

mod finished;
mod summary;

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
use super::dispatcher::{Command, Dispatcher, JobSpec, JobState};
use super::journal::{Event, Journal, now_rfc3339};
use super::progress::{Progress, ProgressMode};
use super::report::{ApplyReport, REPORT_FORMAT};
use super::signals::StopSignal;
use super::step::{JobCtx, RunEnv, StepResult};
use super::strategy::{self, Job};
use super::waiter::{PollMode, Waiter};
use crate::plan::changeset::{Action, Changeset, PlannedMove};
use crate::plan::inventory::{AvailabilityZone, Image, Server};
use finished::handle_finished;
use summary::server_reports;

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
                (backup, StepResult::failed(reason, false))
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
