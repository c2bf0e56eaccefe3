//! What the executor records when a command finishes: the journal's
//! step and server lines, and the progress display.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::Finished;
use crate::apply::dispatcher::{Dispatcher, JobState, Outcome, Yielded};
use crate::apply::journal::{Event, Journal};
use crate::apply::progress::Progress;
use crate::apply::step::JobCtx;
use crate::apply::strategy;
use crate::plan::changeset::PlannedMove;

pub(super) fn handle_finished(
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
        error: result.error.as_deref().cloned(),
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
