//! The shelve strategy: `shelve` (Nova uploads an image and, with the
//! default `shelved_offload_time = 0`, offloads at once), `shelveOffload`
//! when it did not, then `unshelve` with the target AZ (2.77). The server
//! keeps its UUID and ports, and its pin follows the unshelve. Members may
//! do all of it except `shelveOffload`, which is admin-only by default.

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::in_place::{InPlace, InPlaceStrategy, StepOutcome, Timeouts, at_rest, place};
use crate::apply::step::StepResult;
use crate::apply::waiter::WaitKind;
use crate::plan::changeset::Step;
use crate::plan::inventory::Server;

/// Shelve, offload, and unshelve into the target AZ.
pub struct Shelve;

impl InPlaceStrategy for Shelve {
    const NAME: &'static str = "shelve";

    const STEPS: &'static [Step] = &[
        Step::MarkMoving,
        Step::Shelve,
        Step::ShelveOffload,
        Step::Unshelve,
        Step::Verify,
        Step::RestorePowerState,
        Step::Finish,
    ];

    fn own_step<'m>(m: &'m mut InPlace<'_>, step: Step) -> Option<BoxFuture<'m, StepOutcome>> {
        match step {
            Step::Shelve => Some(Box::pin(m.shelve())),
            Step::ShelveOffload => Some(Box::pin(m.shelve_offload())),
            Step::Unshelve => Some(Box::pin(m.unshelve())),
            _ => None,
        }
    }
}

fn shelved(s: &Server) -> bool {
    matches!(s.status.as_str(), "SHELVED" | "SHELVED_OFFLOADED")
}
impl InPlace<'_> {
    pub(in crate::apply::strategy) async fn shelve(&mut self) -> StepOutcome {
        let mut s = self.read().await?;
        for _ in 0..3 {
            if shelved(&s) && s.task_state.is_none() {
                return Ok(StepResult::done_with(None, format!("already {}", s.status)));
            }
            if self.in_target(&s) && at_rest(&s) {
                return Ok(StepResult::done_with(
                    None,
                    "already unshelved into the target AZ",
                ));
            }
            match s.task_state.as_deref() {
                Some(t) if t.starts_with("shelving") => return self.wait_shelved(&s).await,
                Some(_) => {
                    s = self.idle(Timeouts::short(self.mv)).await?;
                    continue;
                }
                None => {}
            }
            if !matches!(
                s.status.as_str(),
                "ACTIVE" | "SHUTOFF" | "PAUSED" | "SUSPENDED"
            ) {
                return Err(self.fail(format!("a {} server cannot be shelved", s.status), true));
            }
            match self.cloud().shelve(self.id).await {
                Ok(()) => {
                    if s.status != "SHUTOFF" {
                        self.ctx.down("shelve");
                    }
                    self.note_task(&s, "shelving");
                    return self.wait_shelved(&s).await;
                }
                Err(e) if e.is_conflict() => s = self.reread().await?,
                Err(e) if e.status() == Some(403) => {
                    return Err(self.call_fail(
                        "the cloud's policy does not allow this project to shelve the server",
                        &e,
                        true,
                    ));
                }
                Err(e) => return Err(self.call_fail("shelve was refused", &e, true)),
            }
        }
        Err(self.fail(
            format!("the server kept changing state: {}", place(&s)),
            true,
        ))
    }

    /// Wait for SHELVED or SHELVED_OFFLOADED after `shelve`.
    pub(in crate::apply::strategy) async fn wait_shelved(
        &mut self,
        before: &Server,
    ) -> StepOutcome {
        let accepted = Instant::now();
        let was = before.status.clone();
        let got = self
            .wait(
                WaitKind::Shelve,
                Timeouts::shelve(self.mv),
                accepted,
                move |s, fresh| match s {
                    None => Some(Err("the server no longer exists".to_string())),
                    Some(s) if shelved(s) && s.task_state.is_none() => Some(Ok(s.status.clone())),
                    Some(s) if s.status == "ERROR" => Some(Err(format!(
                        "the server went into ERROR while shelving{}",
                        s.fault
                            .as_deref()
                            .map(|f| format!(": {f}"))
                            .unwrap_or_default()
                    ))),
                    Some(s) if fresh && s.task_state.is_none() => Some(Err(format!(
                        "the shelve did not happen: the server is {} again (it was {was})",
                        s.status
                    ))),
                    Some(_) => None,
                },
            )
            .await;
        match got {
            Ok(Ok(status)) => Ok(StepResult::done_with(None, status)),
            Ok(Err(why)) => Err(self.fail(why, true)),
            Err(e) => Err(self.wait_fail("the server was not shelved in time", e, true)),
        }
    }

    pub(in crate::apply::strategy) async fn shelve_offload(&mut self) -> StepOutcome {
        let mut s = self.read().await?;
        for _ in 0..3 {
            if s.status == "SHELVED_OFFLOADED" && s.task_state.is_none() {
                return Ok(StepResult::done_with(None, "offloaded"));
            }
            if self.in_target(&s) && at_rest(&s) {
                return Ok(StepResult::done_with(
                    None,
                    "already unshelved into the target AZ",
                ));
            }
            if s.task_state.is_some() {
                s = self.idle(Timeouts::shelve(self.mv)).await?;
                continue;
            }
            if s.status != "SHELVED" {
                return Ok(StepResult::redo(
                    Step::Shelve,
                    format!("the server is not shelved: {}", place(&s)),
                ));
            }
            match self.cloud().shelve_offload(self.id).await {
                Ok(()) => {
                    self.note_task(&s, "shelving_offloading");
                    return self.wait_offloaded().await;
                }
                Err(e) if e.is_conflict() => s = self.reread().await?,
                Err(e) if e.status() == Some(403) => {
                    return Err(self.call_fail(
                        "the cloud keeps shelved servers on their host (shelved_offload_time is not 0), and only an admin may offload them; run as an admin, or choose another strategy",
                        &e,
                        true,
                    ));
                }
                Err(e) => return Err(self.call_fail("shelveOffload was refused", &e, true)),
            }
        }
        Err(self.fail(
            format!("the server kept changing state: {}", place(&s)),
            true,
        ))
    }

    pub(in crate::apply::strategy) async fn wait_offloaded(&mut self) -> StepOutcome {
        let accepted = Instant::now();
        let got = self
            .wait(
                WaitKind::Shelve,
                Timeouts::shelve(self.mv),
                accepted,
                |s, fresh| match s {
                    None => Some(Err("the server no longer exists".to_string())),
                    Some(s) if s.status == "SHELVED_OFFLOADED" && s.task_state.is_none() => {
                        Some(Ok(()))
                    }
                    Some(s) if fresh && s.task_state.is_none() => Some(Err(format!(
                        "the offload did not happen: the server is {}",
                        s.status
                    ))),
                    Some(_) => None,
                },
            )
            .await;
        match got {
            Ok(Ok(())) => Ok(StepResult::done_with(None, "offloaded")),
            Ok(Err(why)) => Err(self.fail(why, true)),
            Err(e) => Err(self.wait_fail("the server was not offloaded in time", e, true)),
        }
    }

    pub(in crate::apply::strategy) async fn unshelve(&mut self) -> StepOutcome {
        let mut s = self.read().await?;
        for _ in 0..3 {
            if self.in_target(&s) && at_rest(&s) {
                self.ctx.up();
                return Ok(StepResult::done_with(
                    None,
                    format!("already {}", place(&s)),
                ));
            }
            match s.task_state.as_deref() {
                Some(t) if t == "unshelving" || t == "spawning" => {
                    return self.wait_unshelved().await;
                }
                Some(_) => {
                    s = self.idle(Timeouts::shelve(self.mv)).await?;
                    continue;
                }
                None => {}
            }
            match s.status.as_str() {
                "SHELVED_OFFLOADED" => {}
                "SHELVED" => {
                    return Ok(StepResult::redo(
                        Step::ShelveOffload,
                        "the server is shelved but still on its host",
                    ));
                }
                _ => {
                    return Ok(StepResult::redo(
                        Step::Shelve,
                        format!("the server is not shelved: {}", place(&s)),
                    ));
                }
            }
            let target = self.target().to_string();
            match self.cloud().unshelve(self.id, Some(&target)).await {
                Ok(()) => {
                    self.note_task(&s, "unshelving");
                    return self.wait_unshelved().await;
                }
                Err(e) if e.is_conflict() => s = self.reread().await?,
                Err(e) => {
                    return Err(self.call_fail(
                        &format!("unshelve into {target} was refused"),
                        &e,
                        true,
                    ));
                }
            }
        }
        Err(self.fail(
            format!("the server kept changing state: {}", place(&s)),
            true,
        ))
    }

    /// Wait for ACTIVE after `unshelve`; a server that falls back to
    /// SHELVED_OFFLOADED (spawn failed, or no host had room) is tried again.
    pub(in crate::apply::strategy) async fn wait_unshelved(&mut self) -> StepOutcome {
        let accepted = Instant::now();
        let got = self
            .wait(
                WaitKind::Unshelve,
                Timeouts::unshelve(self.mv),
                accepted,
                |s, fresh| match s {
                    None => Some(Err(None)),
                    Some(s) if s.status == "ACTIVE" && s.task_state.is_none() => {
                        Some(Ok(s.clone()))
                    }
                    Some(s) if s.status == "ERROR" => Some(Err(Some(format!(
                        "the server went into ERROR while unshelving{}",
                        s.fault
                            .as_deref()
                            .map(|f| format!(": {f}"))
                            .unwrap_or_default()
                    )))),
                    Some(s) if fresh && s.task_state.is_none() && shelved(s) => {
                        Some(Err(Some(String::new())))
                    }
                    Some(_) => None,
                },
            )
            .await;
        match got {
            Ok(Ok(s)) if self.in_target(&s) => {
                self.ctx.up();
                Ok(StepResult::done_with(None, place(&s)))
            }
            Ok(Ok(s)) => Err(self.fail(
                format!(
                    "the server was unshelved outside {}: {}",
                    self.target(),
                    place(&s)
                ),
                true,
            )),
            Ok(Err(None)) => Err(self.fail("the server no longer exists", false)),
            Ok(Err(Some(why))) if why.is_empty() => {
                let fault = self
                    .waiter()
                    .server(self.id)
                    .and_then(|s| s.fault)
                    .map(|f| format!(": {f}"))
                    .unwrap_or_else(|| " (no host of it had room, or the spawn failed)".into());
                Ok(StepResult::redo(
                    Step::Unshelve,
                    format!(
                        "unshelve into {} failed{fault}; the server is SHELVED_OFFLOADED",
                        self.target()
                    ),
                ))
            }
            Ok(Err(Some(why))) => Err(self.fail(why, true)),
            Err(e) => Err(self.wait_fail("the server did not become ACTIVE in time", e, true)),
        }
    }
}
