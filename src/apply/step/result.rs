//! A step's answer to the dispatcher, and what it reports besides.

use super::StepError;
use crate::apply::dispatcher::{Outcome, Yielded};
use crate::plan::changeset::Step;

/// What a step reports, beyond its outcome.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub outcome: Outcome,
    pub message: Option<String>,
    /// The object the step created or found (snapshot, replacement).
    pub object_id: Option<String>,
    pub request_ids: Vec<String>,
    /// The failed call that ended the step, when one did.
    pub error: Option<Box<StepError>>,
}

impl StepResult {
    pub(crate) fn done() -> StepResult {
        StepResult {
            outcome: Outcome::Done,
            message: None,
            object_id: None,
            request_ids: Vec::new(),
            error: None,
        }
    }

    pub(crate) fn done_with(object_id: Option<String>, message: impl Into<String>) -> StepResult {
        StepResult {
            outcome: Outcome::Done,
            message: Some(message.into()),
            object_id,
            request_ids: Vec::new(),
            error: None,
        }
    }

    pub(crate) fn interrupted() -> StepResult {
        StepResult {
            outcome: Outcome::Interrupted,
            message: None,
            object_id: None,
            request_ids: Vec::new(),
            error: None,
        }
    }

    pub(crate) fn failed(reason: impl Into<String>, rollback: bool) -> StepResult {
        let reason = reason.into();
        StepResult {
            message: Some(reason.clone()),
            outcome: Outcome::Failed { reason, rollback },
            object_id: None,
            request_ids: Vec::new(),
            error: None,
        }
    }

    /// Someone else changed the server mid-move: not a failure of this run.
    /// With `rollback`, this run's own part is undone first.
    pub(crate) fn changed(reason: impl Into<String>, rollback: bool) -> StepResult {
        let reason = reason.into();
        StepResult {
            message: Some(reason.clone()),
            outcome: Outcome::Yield {
                kind: Yielded::Changed,
                reason,
                rollback,
            },
            object_id: None,
            request_ids: Vec::new(),
            error: None,
        }
    }

    /// Someone else's business for another reason (busy, already moved).
    pub(crate) fn yielded(kind: Yielded, reason: impl Into<String>) -> StepResult {
        let reason = reason.into();
        StepResult {
            message: Some(reason.clone()),
            outcome: Outcome::Yield {
                kind,
                reason,
                rollback: false,
            },
            object_id: None,
            request_ids: Vec::new(),
            error: None,
        }
    }

    pub(crate) fn redo(from: Step, reason: impl Into<String>) -> StepResult {
        let reason = reason.into();
        StepResult {
            message: Some(reason.clone()),
            outcome: Outcome::Redo { from, reason },
            object_id: None,
            request_ids: Vec::new(),
            error: None,
        }
    }
}
