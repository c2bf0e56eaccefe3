//! The dispatcher: a pure state machine that decides which server may start,
//! which step it runs next, and what a step's outcome means for it and for
//! the servers that come `after` it.
//!
//! It does no I/O and reads no clock: the executor passes the time in
//! (elapsed since the run started) and carries out the commands it returns.
//! That keeps every scheduling rule — limits, ordering, retries, skipping,
//! interruption — testable with property tests, without a cloud.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

use super::limits::{Slots, azs_of};
use crate::plan::changeset::Step;
use crate::plan::file::Limits;

/// One server to move, as the dispatcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub key: String,
    pub source_az: Option<String>,
    pub target_az: String,
    /// Keys that must have finished successfully before this job starts.
    pub after: Vec<String>,
    pub steps: Vec<Step>,
    /// How many times a step may be redone (failed snapshot, boot in ERROR).
    pub retries: u32,
}

/// What the executor is told to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run `step` of job `key`. `attempt`: how many times this step already
    /// ran for the job (0 the first time; more after a redo).
    Run {
        key: String,
        step: Step,
        attempt: u32,
    },
    /// The job failed: undo what it did (restart the source if azmove
    /// stopped it, delete the failed replacement and the snapshot).
    Rollback { key: String, reason: String },
}

impl Command {
    pub fn key(&self) -> &str {
        match self {
            Command::Run { key, .. } | Command::Rollback { key, .. } => key,
        }
    }
}

/// What the executor reports when a command finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The step is done; go on with the next one.
    Done,
    /// The step failed in a way another try may fix (snapshot `killed`,
    /// replacement in ERROR). What it left behind is already cleaned up;
    /// the job goes back to `from` if it has retries left.
    Redo { from: Step, reason: String },
    /// The job cannot go on. With `rollback`, it is undone first; without
    /// (e.g. the replacement is already verified), it is left as it is.
    Failed { reason: String, rollback: bool },
    /// The step stopped at a safe point because the run is being interrupted.
    Interrupted,
    /// The server is someone else's business: another run holds it, a
    /// person changed it mid-move, or it was moved meanwhile. Not a failure
    /// of this run. With `rollback`, what this run made is undone first.
    Yield {
        kind: Yielded,
        reason: String,
        rollback: bool,
    },
}

/// Why a job gave way (see [`Outcome::Yield`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Yielded {
    /// Another live azmove run holds the server: not touched.
    Busy,
    /// Someone else acted on the server during the move.
    Changed,
    /// It was already moved (by another run, or a person) when this run
    /// got to it.
    AlreadyDone,
}

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    /// Not started: waiting for its `after`, for a free slot, or for nothing yet.
    Waiting,
    /// In flight: on step `steps[index]` (or rolling back).
    Running,
    Done,
    Failed {
        reason: String,
    },
    /// Not started because something it comes after failed or was skipped.
    Skipped {
        because: String,
    },
    /// The run was interrupted before this job finished (or started).
    Interrupted,
    /// Another run holds the server; this run left it alone.
    Busy {
        reason: String,
    },
    /// Someone else changed the server mid-move; this run stopped and
    /// undid only its own part.
    Changed {
        reason: String,
    },
    /// Already moved when this run got to it.
    AlreadyDone {
        reason: String,
    },
}

impl JobState {
    pub fn is_terminal(&self) -> bool {
        !matches!(self, JobState::Waiting | JobState::Running)
    }
}

/// One executed step, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    /// `None` for a rollback.
    pub step: Option<Step>,
    pub attempt: u32,
    pub started: Duration,
    pub finished: Option<Duration>,
    /// `done`, `redo: …`, `failed: …`, `interrupted`, or `rolled back`.
    pub outcome: Option<String>,
}

/// A job and its history.
#[derive(Debug, Clone)]
pub struct Job {
    pub spec: JobSpec,
    pub state: JobState,
    /// Index into `spec.steps` of the current (or next) step.
    index: usize,
    /// Redos used so far.
    pub redos: u32,
    /// A command for this job is with the executor.
    busy: bool,
    /// The job's next command, decided but not handed out yet.
    pending: Option<Command>,
    /// The failure being rolled back.
    rollback_reason: Option<String>,
    /// The rollback under way is a yield, not a failure.
    yielding: Option<Yielded>,
    pub started: Option<Duration>,
    pub finished: Option<Duration>,
    pub history: Vec<StepRecord>,
}

impl Job {
    /// The step it is on (or would run next), if any.
    pub fn current_step(&self) -> Option<Step> {
        self.spec.steps.get(self.index).copied()
    }

    /// Steps not yet done, in order.
    pub fn remaining_steps(&self) -> &[Step] {
        self.spec.steps.get(self.index..).unwrap_or(&[])
    }

    /// How many times `step` has run for this job so far.
    fn runs_of(&self, step: Step) -> u32 {
        self.history.iter().filter(|h| h.step == Some(step)).count() as u32
    }

    pub fn is_rolling_back(&self) -> bool {
        self.rollback_reason.is_some() && self.state == JobState::Running
    }
}

/// Scheduling state of a whole run.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    jobs: Vec<Job>,
    index: BTreeMap<String, usize>,
    /// job → jobs that name it in `after`.
    dependents: Vec<Vec<usize>>,
    /// Outcome of keys that are not jobs of this run: `true` when they count
    /// as finished (unchanged, moved earlier), `false` when they failed or
    /// are blocked, so whatever comes after them is skipped.
    external: BTreeMap<String, bool>,
    slots: Slots,
    interrupted: bool,
}

impl Dispatcher {
    /// `jobs` in the order they should be preferred (the changeset's
    /// topological order). Keys in `after` that are neither jobs nor in
    /// `external` are taken as satisfied: the planner only keeps references
    /// to moves it knows, so an unknown one finished in an earlier run.
    pub fn new(jobs: Vec<JobSpec>, external: BTreeMap<String, bool>, limits: &Limits) -> Self {
        let mut index = BTreeMap::new();
        let mut kept = Vec::with_capacity(jobs.len());
        for spec in jobs {
            if index.contains_key(&spec.key) {
                continue;
            }
            index.insert(spec.key.clone(), kept.len());
            kept.push(Job {
                spec,
                state: JobState::Waiting,
                index: 0,
                redos: 0,
                busy: false,
                pending: None,
                rollback_reason: None,
                yielding: None,
                started: None,
                finished: None,
                history: Vec::new(),
            });
        }
        let mut dependents = vec![Vec::new(); kept.len()];
        for (i, job) in kept.iter().enumerate() {
            for dep in &job.spec.after {
                if let Some(&d) = index.get(dep)
                    && !dependents[d].contains(&i)
                {
                    dependents[d].push(i);
                }
            }
        }
        let mut d = Dispatcher {
            jobs: kept,
            index,
            dependents,
            external,
            slots: Slots::new(limits),
            interrupted: false,
        };
        // Whatever comes after a failed or blocked outside key is skipped now.
        let failed_outside: Vec<(usize, String)> = d
            .jobs
            .iter()
            .enumerate()
            .filter_map(|(i, j)| {
                j.spec
                    .after
                    .iter()
                    .find(|k| d.external.get(*k) == Some(&false))
                    .map(|k| (i, k.clone()))
            })
            .collect();
        for (i, k) in failed_outside {
            d.skip_from(i, &k, Duration::ZERO);
        }
        d
    }

    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    pub fn job(&self, key: &str) -> Option<&Job> {
        self.index.get(key).map(|&i| &self.jobs[i])
    }

    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted
    }

    /// Start nothing new; jobs in flight stop after their current command
    /// (rollbacks still finish, since they restore a server).
    pub fn interrupt(&mut self, now: Duration) {
        if self.interrupted {
            return;
        }
        self.interrupted = true;
        for i in 0..self.jobs.len() {
            let job = &mut self.jobs[i];
            match job.state {
                JobState::Waiting => {
                    job.state = JobState::Interrupted;
                }
                JobState::Running if !job.busy && job.rollback_reason.is_none() => {
                    job.pending = None;
                    self.finish(i, JobState::Interrupted, now);
                }
                _ => {}
            }
        }
    }

    /// Everything is settled: no job is waiting or in flight.
    pub fn is_finished(&self) -> bool {
        self.jobs.iter().all(|j| j.state.is_terminal())
    }

    /// Commands that may be handed to the executor now: next steps of jobs
    /// in flight, then first steps of jobs that may start within the limits.
    pub fn next_commands(&mut self, now: Duration) -> Vec<Command> {
        let mut out = Vec::new();
        for job in &mut self.jobs {
            if job.state == JobState::Running
                && !job.busy
                && let Some(cmd) = job.pending.take()
            {
                job.busy = true;
                job.history.push(record_of(&cmd, now));
                out.push(cmd);
            }
        }
        if self.interrupted {
            return out;
        }
        for i in 0..self.jobs.len() {
            if self.jobs[i].state != JobState::Waiting || !self.prerequisites_done(i) {
                continue;
            }
            if self.jobs[i].spec.steps.is_empty() {
                // Nothing left to do: it needs no slot.
                self.jobs[i].started = Some(now);
                self.finish_unslotted(i, JobState::Done, now);
                continue;
            }
            let spec = &self.jobs[i].spec;
            let azs = azs_of(spec.source_az.as_deref(), &spec.target_az);
            if !self.slots.fits(&azs) {
                continue;
            }
            self.slots.take(&azs);
            let job = &mut self.jobs[i];
            job.state = JobState::Running;
            job.started = Some(now);
            job.busy = true;
            let cmd = Command::Run {
                key: job.spec.key.clone(),
                step: job.spec.steps[0],
                attempt: 0,
            };
            job.history.push(record_of(&cmd, now));
            out.push(cmd);
        }
        if out.is_empty() && !self.anything_in_flight() {
            // Nothing runs and nothing may start: whatever still waits
            // depends on something that can never finish (a cycle).
            self.skip_unreachable(now);
        }
        out
    }

    /// The executor finished the command it was given for `key`.
    /// Reports for unknown keys or for jobs with nothing in flight are ignored.
    pub fn report(&mut self, key: &str, outcome: Outcome, now: Duration) {
        let Some(&i) = self.index.get(key) else {
            return;
        };
        if !self.jobs[i].busy || self.jobs[i].state != JobState::Running {
            return;
        }
        let job = &mut self.jobs[i];
        job.busy = false;
        if let Some(rec) = job.history.last_mut() {
            rec.finished = Some(now);
            rec.outcome = Some(describe(&outcome, job.rollback_reason.is_some()));
        }
        if let Some(reason) = job.rollback_reason.clone() {
            // A rollback ended (whatever its outcome): the job has failed,
            // or given way if that is why it was undone and the undoing went well.
            let yielding = job.yielding.take();
            let reason = match outcome {
                Outcome::Done => {
                    if let Some(kind) = yielding {
                        self.give_way(i, kind, reason, now);
                        return;
                    }
                    reason
                }
                Outcome::Failed { reason: r, .. }
                | Outcome::Redo { reason: r, .. }
                | Outcome::Yield { reason: r, .. } => {
                    format!("{reason}; undoing it also failed: {r}")
                }
                Outcome::Interrupted => format!("{reason}; interrupted while undoing it"),
            };
            self.fail(i, reason, now);
            return;
        }
        match outcome {
            Outcome::Done => {
                job.index += 1;
                if job.index >= job.spec.steps.len() {
                    self.finish(i, JobState::Done, now);
                } else if self.interrupted {
                    self.finish(i, JobState::Interrupted, now);
                } else {
                    let step = job.spec.steps[job.index];
                    job.pending = Some(Command::Run {
                        key: job.spec.key.clone(),
                        step,
                        attempt: job.runs_of(step),
                    });
                }
            }
            Outcome::Redo { from, reason } => {
                let back_to = job.spec.steps[..=job.index.min(job.spec.steps.len() - 1)]
                    .iter()
                    .rposition(|s| *s == from);
                match back_to {
                    Some(at) if job.redos < job.spec.retries => {
                        job.redos += 1;
                        job.index = at;
                        if self.interrupted {
                            self.finish(i, JobState::Interrupted, now);
                        } else {
                            job.pending = Some(Command::Run {
                                key: job.spec.key.clone(),
                                step: from,
                                attempt: job.runs_of(from),
                            });
                        }
                    }
                    Some(_) => {
                        let tries = job.redos + 1;
                        self.start_rollback(i, format!("{reason} (after {tries} attempts)"));
                    }
                    None => self.start_rollback(i, reason),
                }
            }
            Outcome::Failed {
                reason,
                rollback: true,
            } => self.start_rollback(i, reason),
            Outcome::Failed {
                reason,
                rollback: false,
            } => self.fail(i, reason, now),
            Outcome::Interrupted => self.finish(i, JobState::Interrupted, now),
            Outcome::Yield {
                kind,
                reason,
                rollback: true,
            } => {
                job.yielding = Some(kind);
                self.start_rollback(i, reason);
            }
            Outcome::Yield {
                kind,
                reason,
                rollback: false,
            } => self.give_way(i, kind, reason, now),
        }
    }

    /// The job ends as someone else's business. What comes after a server
    /// that was already moved may start; after a busy or changed one it may
    /// not (that server is not where the plan wants it).
    fn give_way(&mut self, i: usize, kind: Yielded, reason: String, now: Duration) {
        let state = match kind {
            Yielded::Busy => JobState::Busy { reason },
            Yielded::Changed => JobState::Changed { reason },
            Yielded::AlreadyDone => JobState::AlreadyDone { reason },
        };
        self.finish(i, state, now);
        if kind != Yielded::AlreadyDone {
            let key = self.jobs[i].spec.key.clone();
            for d in self.dependents[i].clone() {
                self.skip_from(d, &key, now);
            }
        }
    }

    fn start_rollback(&mut self, i: usize, reason: String) {
        let job = &mut self.jobs[i];
        job.rollback_reason = Some(reason.clone());
        // Rollbacks run even when interrupted: they put a server back.
        job.pending = Some(Command::Rollback {
            key: job.spec.key.clone(),
            reason,
        });
    }

    fn fail(&mut self, i: usize, reason: String, now: Duration) {
        self.finish(i, JobState::Failed { reason }, now);
        let key = self.jobs[i].spec.key.clone();
        for d in self.dependents[i].clone() {
            self.skip_from(d, &key, now);
        }
    }

    /// Skip job `i` (because of `because`) and everything after it.
    fn skip_from(&mut self, i: usize, because: &str, now: Duration) {
        let mut queue = VecDeque::from([(i, because.to_string())]);
        while let Some((j, why)) = queue.pop_front() {
            if self.jobs[j].state != JobState::Waiting {
                continue;
            }
            self.jobs[j].state = JobState::Skipped { because: why };
            self.jobs[j].finished = Some(now);
            let key = self.jobs[j].spec.key.clone();
            for &d in &self.dependents[j] {
                queue.push_back((d, key.clone()));
            }
        }
    }

    fn skip_unreachable(&mut self, now: Duration) {
        for i in 0..self.jobs.len() {
            if self.jobs[i].state == JobState::Waiting {
                self.jobs[i].state = JobState::Skipped {
                    because: "its `after` entries wait on each other (a cycle)".into(),
                };
                self.jobs[i].finished = Some(now);
            }
        }
    }

    fn finish(&mut self, i: usize, state: JobState, now: Duration) {
        let job = &self.jobs[i];
        let azs: Vec<String> = azs_of(job.spec.source_az.as_deref(), &job.spec.target_az)
            .into_iter()
            .map(str::to_string)
            .collect();
        let azs: Vec<&str> = azs.iter().map(String::as_str).collect();
        self.slots.release(&azs);
        self.finish_unslotted(i, state, now);
    }

    fn finish_unslotted(&mut self, i: usize, state: JobState, now: Duration) {
        let job = &mut self.jobs[i];
        job.state = state;
        job.busy = false;
        job.pending = None;
        job.finished = Some(now);
    }

    fn prerequisites_done(&self, i: usize) -> bool {
        self.jobs[i]
            .spec
            .after
            .iter()
            .all(|k| match self.index.get(k) {
                Some(&d) => matches!(
                    self.jobs[d].state,
                    JobState::Done | JobState::AlreadyDone { .. }
                ),
                None => self.external.get(k).copied().unwrap_or(true),
            })
    }

    fn anything_in_flight(&self) -> bool {
        self.jobs.iter().any(|j| j.state == JobState::Running)
    }
}

fn record_of(cmd: &Command, now: Duration) -> StepRecord {
    match cmd {
        Command::Run { step, attempt, .. } => StepRecord {
            step: Some(*step),
            attempt: *attempt,
            started: now,
            finished: None,
            outcome: None,
        },
        Command::Rollback { .. } => StepRecord {
            step: None,
            attempt: 0,
            started: now,
            finished: None,
            outcome: None,
        },
    }
}

fn describe(outcome: &Outcome, rollback: bool) -> String {
    match (outcome, rollback) {
        (Outcome::Done, true) => "rolled back".into(),
        (Outcome::Done, false) => "done".into(),
        (Outcome::Redo { reason, .. }, _) => format!("redo: {reason}"),
        (Outcome::Failed { reason, .. }, _) => format!("failed: {reason}"),
        (Outcome::Interrupted, _) => "interrupted".into(),
        (Outcome::Yield { kind, reason, .. }, _) => {
            let word = match kind {
                Yielded::Busy => "busy",
                Yielded::Changed => "changed",
                Yielded::AlreadyDone => "already done",
            };
            format!("{word}: {reason}")
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
