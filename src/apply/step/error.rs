//! A call that failed a step, as the cloud reported it: kept typed (HTTP
//! status, request id) from the step to the journal and the report, so
//! that whoever reads them can quote the request id to the cloud's
//! operators.

use serde::Serialize;

use super::{JobCtx, StepResult};
use crate::openstack::Error;
use crate::plan::changeset::Step;

/// A failed call of one step of one server's move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// The server the step acted on (its UUID).
    pub server: String,
    /// The step; none outside one (claiming the server, undoing a move).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// What failed and why, as the user reads it.
    pub message: String,
    /// The HTTP status, when the cloud answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The cloud's request id, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl StepError {
    /// `what` failed on `server` with `e`; the message is `what: e`.
    pub fn call(server: &str, step: Option<Step>, what: &str, e: &Error) -> StepError {
        StepError {
            server: server.to_string(),
            step: step.map(|s| s.as_str().to_string()),
            message: format!("{what}: {e}"),
            http_status: e.status(),
            request_id: e.request_id().map(str::to_string),
        }
    }
}

impl JobCtx {
    /// A call failed the step answering `r`: `r` and the move keep it.
    pub fn note_call_error(&mut self, r: &mut StepResult, error: StepError) {
        if let Some(id) = &error.request_id {
            self.request_ids.push(id.clone());
            r.request_ids.push(id.clone());
        }
        self.errors.push(error.clone());
        r.error = Some(Box::new(error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::error::{ApiError, Service};

    #[test]
    fn a_failed_call_keeps_its_status_and_request_id_and_its_message() {
        let e = Error::Api(Box::new(ApiError {
            service: Service::Compute,
            method: "POST".into(),
            path: "/servers/s1/action".into(),
            status: 409,
            message: Some("Cannot 'os-stop' instance".into()),
            request_id: Some("req-1".into()),
        }));
        let err = StepError::call(
            "s1",
            Some(Step::StopSource),
            "could not stop the source",
            &e,
        );
        assert_eq!(err.message, format!("could not stop the source: {e}"));
        assert_eq!(err.http_status, Some(409));
        assert_eq!(err.request_id.as_deref(), Some("req-1"));
        assert_eq!(err.step.as_deref(), Some(Step::StopSource.as_str()));

        let mut ctx = JobCtx::default();
        let mut r = StepResult::failed(err.message.clone(), false);
        ctx.note_call_error(&mut r, err.clone());
        assert_eq!(ctx.request_ids, ["req-1"]);
        assert_eq!(r.request_ids, ["req-1"]);
        assert_eq!(r.error.as_deref(), Some(&err));
        assert_eq!(ctx.errors, [err]);
    }
}
