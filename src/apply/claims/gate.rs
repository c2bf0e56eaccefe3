//! The gate every move passes before its first change: claim the server,
//! then look at it again. What another run (or a person) did before the
//! claim was won is visible only from then on, so the move may find its
//! work already done, or its server gone.

use std::time::Duration;

use super::{ClaimBook, ClaimResult};
use crate::apply::dispatcher::Yielded;
use crate::apply::step::{JobCtx, ReadError, RunEnv, StepError, StepResult, read_servers};
use crate::apply::strategy;
use crate::plan::changeset::PlannedMove;
use crate::plan::inventory::{Server, tags};
use tokio_util::sync::CancellationToken;

/// Claim the move's server. `None`: the move may go on; `Some`: how it ends.
pub async fn pass(
    env: &RunEnv,
    book: &ClaimBook,
    mv: &PlannedMove,
    ctx: &mut JobCtx,
    stop: &CancellationToken,
) -> Option<StepResult> {
    let source = mv.source.as_ref()?;
    let project = env.waiter.server(&source.id).and_then(|s| s.tenant_id);
    match book
        .claim(&source.id, &source.name, project.as_deref())
        .await
    {
        Ok(ClaimResult::Won { took_over }) => {
            ctx.claimed = true;
            if !took_over.is_empty() {
                tracing::info!(
                    "{}: took over from run{} {} (no longer alive)",
                    mv.display_name(),
                    if took_over.len() == 1 { "" } else { "s" },
                    took_over.join(", ")
                );
            }
        }
        Ok(ClaimResult::Busy { run, since, detail }) => {
            return Some(StepResult::yielded(
                Yielded::Busy,
                format!(
                    "in progress by azmove run {run}{}{}: not touched; run again once it has finished",
                    if since.is_empty() {
                        String::new()
                    } else {
                        format!(" since {since}")
                    },
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({detail})")
                    }
                ),
            ));
        }
        Err(e) => {
            let error = StepError::call(
                &source.id,
                None,
                "could not claim the server for this run (nothing was changed)",
                &e,
            );
            let mut r = StepResult::failed(error.message.clone(), false);
            r.request_ids.extend(error.request_id.clone());
            r.error = Some(Box::new(error));
            return Some(r);
        }
    }
    // The state as it is now that the server is ours: a list that started
    // after the claim was won.
    match read_servers(env, stop, Duration::ZERO).await {
        Ok(()) => {}
        Err(ReadError::Interrupted) => return Some(StepResult::interrupted()),
        Err(ReadError::Failed(e)) => {
            return Some(StepResult::failed(
                format!("could not read the servers' state: {e}"),
                false,
            ));
        }
    }
    let now = env.waiter.server(&source.id);
    let gone = now.is_none() && env.waiter.server_gone(&source.id);
    let replacement = |target: &str| {
        env.waiter
            .servers_where(|s| {
                s.metadata.get(tags::SOURCE).map(String::as_str) == Some(source.id.as_str())
                    && s.metadata.get(tags::TARGET).map(String::as_str) == Some(target)
                    && s.status == "ACTIVE"
                    && s.availability_zone.as_deref() == Some(target)
            })
            .into_iter()
            .next()
    };
    finished_elsewhere(mv, now.as_ref(), gone, replacement(&mv.target_az).as_ref())
}

/// Whether the move was finished (or its server removed) by someone else
/// between the plan and the claim. Pure, for tests.
pub fn finished_elsewhere(
    mv: &PlannedMove,
    now: Option<&Server>,
    gone: bool,
    replacement: Option<&Server>,
) -> Option<StepResult> {
    let target = mv.target_az.as_str();
    let by = |s: &Server| {
        s.metadata
            .get(crate::apply::claims::rules::RUN)
            .map(|r| format!(" by azmove run {r}"))
            .unwrap_or_default()
    };
    if strategy::of(mv.strategy).moves_in_place() {
        return match now {
            None if gone => Some(StepResult::changed(
                "the server was deleted by someone else before this run got to it",
                false,
            )),
            Some(s)
                if s.availability_zone.as_deref() == Some(target)
                    && s.task_state.is_none()
                    && matches!(s.status.as_str(), "ACTIVE" | "SHUTOFF")
                    && !s.metadata.contains_key(tags::MOVING_TO) =>
            {
                Some(StepResult::yielded(
                    Yielded::AlreadyDone,
                    format!("already in {target}: moved meanwhile, by another run or a person"),
                ))
            }
            _ => None,
        };
    }
    match (now, replacement) {
        (Some(s), _) if s.metadata.contains_key(tags::MOVED_TO) => Some(StepResult::yielded(
            Yielded::AlreadyDone,
            format!(
                "already moved meanwhile: the source is tagged {}={}",
                tags::MOVED_TO,
                s.metadata.get(tags::MOVED_TO).map_or("", String::as_str)
            ),
        )),
        (None, Some(r)) if gone => Some(StepResult::yielded(
            Yielded::AlreadyDone,
            format!(
                "already moved meanwhile{}: replacement {} is ACTIVE in {target} and the source is gone",
                by(r),
                r.id
            ),
        )),
        (None, None) if gone => Some(StepResult::changed(
            "the source was deleted by someone else before this run got to it",
            false,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::dispatcher::Outcome;
    use crate::plan::changeset::{Action, Existing, ServerSpec};
    use crate::plan::file::{Options, Strategy};
    use std::collections::BTreeMap;

    fn mv(strategy: Strategy) -> PlannedMove {
        PlannedMove {
            key: "src".into(),
            entry: "vm".into(),
            source: Some(ServerSpec {
                id: "src".into(),
                name: "vm".into(),
                ..Default::default()
            }),
            target_az: "nova2".into(),
            action: Action::Move,
            strategy,
            strategy_reason: String::new(),
            steps: vec![],
            after: vec![],
            settings: Options::default().resolve(),
            boot: None,
            existing: Existing::default(),
            fingerprint: None,
            effects: Default::default(),
        }
    }

    fn server(az: &str, status: &str, meta: &[(&str, &str)]) -> Server {
        Server {
            id: "src".into(),
            status: status.into(),
            availability_zone: Some(az.into()),
            metadata: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            ..Default::default()
        }
    }

    fn kind(r: Option<StepResult>) -> Option<Yielded> {
        match r?.outcome {
            Outcome::Yield { kind, .. } => Some(kind),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_snapshot_move_finished_by_another_run_is_already_done() {
        let m = mv(Strategy::Snapshot);
        let tagged = server("nova", "SHUTOFF", &[(tags::MOVED_TO, "new")]);
        assert_eq!(
            kind(finished_elsewhere(&m, Some(&tagged), false, None)),
            Some(Yielded::AlreadyDone)
        );
        let rep = server("nova2", "ACTIVE", &[(tags::SOURCE, "src")]);
        assert_eq!(
            kind(finished_elsewhere(&m, None, true, Some(&rep))),
            Some(Yielded::AlreadyDone)
        );
        assert_eq!(
            kind(finished_elsewhere(&m, None, true, None)),
            Some(Yielded::Changed)
        );
    }

    #[test]
    fn a_move_half_done_by_a_dead_run_goes_on() {
        let m = mv(Strategy::Snapshot);
        // Stopped by the dead run, replacement booting: resume.
        let src = server("nova", "SHUTOFF", &[(tags::STOPPED_BY, "run-a")]);
        assert!(finished_elsewhere(&m, Some(&src), false, None).is_none());
        let m = mv(Strategy::Shelve);
        let moving = server("nova2", "ACTIVE", &[(tags::MOVING_TO, "nova2")]);
        assert!(finished_elsewhere(&m, Some(&moving), false, None).is_none());
        let offloaded = server("nova", "SHELVED_OFFLOADED", &[]);
        assert!(finished_elsewhere(&m, Some(&offloaded), false, None).is_none());
    }

    #[test]
    fn an_in_place_move_finished_meanwhile_is_already_done() {
        let m = mv(Strategy::Live);
        let there = server("nova2", "ACTIVE", &[]);
        assert_eq!(
            kind(finished_elsewhere(&m, Some(&there), false, None)),
            Some(Yielded::AlreadyDone)
        );
        assert_eq!(
            kind(finished_elsewhere(&m, None, true, None)),
            Some(Yielded::Changed)
        );
    }
}
