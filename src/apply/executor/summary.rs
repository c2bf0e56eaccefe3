//! What the report says of each entry once the run ends.

use std::collections::HashMap;

use super::RunInput;
use crate::apply::dispatcher::{Dispatcher, JobState};
use crate::apply::report::{ServerOutcome, ServerReport, StepTiming};
use crate::apply::step::JobCtx;
use crate::apply::strategy;
use crate::apply::waiter::Waiter;
use crate::plan::changeset::{Action, Changeset};

pub(super) fn server_reports(
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
                errors: ctx.map(|c| c.errors.clone()).unwrap_or_default(),
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
