//! The steps every in-place strategy shares: mark the move, unpin and
//! pin again, verify, restore the power state and finish.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::{InPlace, StepOutcome, Timeouts, at_rest, nothing_to_undo, place};
use crate::apply::hosts::same_host;
use crate::apply::step::StepResult;
use crate::apply::waiter::WaitKind;
use crate::openstack::Error;
use crate::plan::inventory::{Server, tags};

impl InPlace<'_> {
    pub(in crate::apply::strategy) async fn mark_moving(&mut self) -> StepOutcome {
        let s = self.read().await?;
        match s.metadata.get(tags::MOVING_TO) {
            Some(t) if t == self.target() => {
                return Ok(StepResult::done_with(
                    None,
                    "already marked by an earlier run; continuing its move",
                ));
            }
            Some(other) => {
                return Err(self.fail(
                    format!(
                        "the server is tagged {}={other}: an earlier azmove run was moving it to {other}; apply that plan again to finish it, or remove the tag",
                        tags::MOVING_TO
                    ),
                    false,
                ));
            }
            None => {}
        }
        // Nothing is changed yet: a failure here has nothing to undo.
        let s = if s.task_state.is_some() {
            self.idle(Timeouts::short(self.mv))
                .await
                .map_err(nothing_to_undo)?
        } else {
            s
        };
        let allowed: &[&str] = match self.mv.strategy {
            crate::plan::file::Strategy::Live => &["ACTIVE"],
            crate::plan::file::Strategy::Cold => &["ACTIVE", "SHUTOFF"],
            _ => &[
                "ACTIVE",
                "SHUTOFF",
                "PAUSED",
                "SUSPENDED",
                "SHELVED",
                "SHELVED_OFFLOADED",
            ],
        };
        if !allowed.contains(&s.status.as_str()) {
            return Err(self.fail(
                format!(
                    "the server is {}, and the {} strategy needs it {}",
                    s.status,
                    self.strategy(),
                    allowed.join(" or ")
                ),
                false,
            ));
        }
        let mut mark = BTreeMap::from([
            (tags::MOVING_TO.to_string(), self.target().to_string()),
            (tags::STRATEGY.to_string(), self.strategy().to_string()),
        ]);
        if s.status == "SHUTOFF" {
            mark.insert(tags::WAS_SHUTOFF.to_string(), "1".to_string());
        }
        if let Err(e) = self.cloud().set_server_metadata(self.id, &mark).await {
            return Err(self.call_fail("could not tag the server", &e, false));
        }
        let mut s = s;
        s.metadata.extend(mark);
        self.waiter().note_server(s);
        Ok(StepResult::done_with(
            None,
            format!("tagged {}={}", tags::MOVING_TO, self.target()),
        ))
    }

    pub(in crate::apply::strategy) async fn unpin(&mut self) -> StepOutcome {
        let s = self.read().await?;
        if s.pinned_availability_zone.is_none() {
            return Ok(StepResult::done_with(None, "not pinned"));
        }
        if self.in_target(&s) && at_rest(&s) {
            return Ok(StepResult::done_with(None, "already in the target AZ"));
        }
        self.set_pin(&s, None).await?;
        Ok(StepResult::done_with(
            None,
            format!(
                "unpinned from {}",
                s.pinned_availability_zone.unwrap_or_default()
            ),
        ))
    }

    /// `PUT pinned_availability_zone` and remember the answer.
    pub(in crate::apply::strategy) async fn put_pin(
        &self,
        s: &Server,
        az: Option<&str>,
    ) -> Result<(), Error> {
        let mut answer = self.cloud().set_pinned_az(self.id, az).await?;
        // Keep what the answer may leave out; changing only the pin does
        // not touch `updated` (the pin lives in Nova's request spec).
        if answer.metadata.is_empty() {
            answer.metadata = s.metadata.clone();
        }
        answer.updated = s.updated.clone();
        self.waiter().note_server(answer);
        Ok(())
    }

    /// Pin the server to the AZ it is in (unpinning first when it is pinned
    /// elsewhere: Nova refuses to change a pin directly). Returns the AZ,
    /// or the call that failed and its error.
    pub(in crate::apply::strategy) async fn pin_calls(
        &self,
        s: &Server,
    ) -> Result<Option<String>, (String, Error)> {
        let Some(here) = s.availability_zone.clone() else {
            return Ok(None);
        };
        match s.pinned_availability_zone.as_deref() {
            Some(p) if p == here => return Ok(Some(here)),
            Some(p) => {
                let p = p.to_string();
                self.put_pin(s, None)
                    .await
                    .map_err(|e| (format!("could not unpin the server from {p}"), e))?;
            }
            None => {}
        }
        self.put_pin(s, Some(&here))
            .await
            .map_err(|e| (format!("could not pin the server to {here}"), e))?;
        Ok(Some(here))
    }

    /// Unpin; a failure fails the step (and undoes the move).
    pub(in crate::apply::strategy) async fn set_pin(
        &mut self,
        s: &Server,
        az: Option<&str>,
    ) -> Result<(), StepResult> {
        match self.put_pin(s, az).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let what = match az {
                    Some(az) => format!("could not pin the server to {az}"),
                    None => "could not unpin the server".to_string(),
                };
                Err(self.call_fail(&what, &e, true))
            }
        }
    }

    /// [`InPlace::pin_calls`] as a step: a failure fails it.
    pub(in crate::apply::strategy) async fn pin_here(
        &mut self,
        s: &Server,
    ) -> Result<Option<String>, StepResult> {
        match self.pin_calls(s).await {
            Ok(az) => Ok(az),
            Err((what, e)) => Err(self.call_fail(&what, &e, true)),
        }
    }

    pub(in crate::apply::strategy) async fn repin(&mut self) -> StepOutcome {
        let s = self.read().await?;
        let s = if s.task_state.is_some() {
            self.idle(Timeouts::short(self.mv)).await?
        } else {
            s
        };
        if !self.in_target(&s) {
            return Err(self.fail(
                format!(
                    "the server is not in {}: it is {}; not pinning it there",
                    self.target(),
                    place(&s)
                ),
                true,
            ));
        }
        if s.pinned_availability_zone.as_deref() == Some(self.target()) {
            return Ok(StepResult::done_with(
                None,
                "already pinned to the target AZ",
            ));
        }
        self.pin_here(&s).await?;
        Ok(StepResult::done_with(
            None,
            format!("pinned to {}", self.target()),
        ))
    }

    pub(in crate::apply::strategy) async fn verify(&mut self) -> StepOutcome {
        let s = self.read().await?;
        let mut problems = Vec::new();
        if let Some(task) = &s.task_state {
            problems.push(format!("a task is still running ({task})"));
        }
        if !matches!(s.status.as_str(), "ACTIVE" | "SHUTOFF") {
            problems.push(format!("it is {}, not ACTIVE", s.status));
        }
        match s.availability_zone.as_deref() {
            Some(az) if az == self.target() => {}
            Some(az) => problems.push(format!(
                "it is in availability zone {az}, not {}",
                self.target()
            )),
            None => problems.push("its availability zone is not reported".into()),
        }
        if let (Some(h), Some(hosts)) = (s.host.as_deref(), self.env.zone_hosts.get(self.target()))
            && !hosts.iter().any(|x| same_host(&x.name, h))
        {
            problems.push(format!("its host {h} is not a host of {}", self.target()));
        }
        if !problems.is_empty() {
            return Err(self.fail(
                format!("the server failed verification: {}", problems.join("; ")),
                true,
            ));
        }
        self.ctx.verified = true;
        let kept = match &self.mv.source {
            Some(src) => {
                let same = src.networks.iter().all(|(net, addrs)| {
                    s.addresses
                        .get(net)
                        .is_some_and(|got| addrs.iter().all(|a| got.iter().any(|g| &g.addr == a)))
                });
                if same {
                    "; UUID and addresses kept"
                } else {
                    "; UUID kept, addresses differ from the plan's"
                }
            }
            None => "; UUID kept",
        };
        Ok(StepResult::done_with(
            None,
            format!("verified: {}{kept}", place(&s)),
        ))
    }

    pub(in crate::apply::strategy) async fn restore_power_state(&mut self) -> StepOutcome {
        let s = self.read().await?;
        let s = if s.task_state.is_some() {
            self.idle(Timeouts::short(self.mv)).await?
        } else {
            s
        };
        if !self.was_shutoff(&s) {
            return Ok(StepResult::done_with(
                None,
                format!("it was running before the move: left {}", s.status),
            ));
        }
        if s.status == "SHUTOFF" {
            return Ok(StepResult::done_with(None, "SHUTOFF, as before the move"));
        }
        self.power(&s, false).await?;
        Ok(StepResult::done_with(
            None,
            "stopped again, as before the move",
        ))
    }

    /// Stop (`start == false`) or start the server and wait for it.
    pub(in crate::apply::strategy) async fn power(
        &mut self,
        s: &Server,
        start: bool,
    ) -> Result<(), StepResult> {
        let (call, want, what) = if start {
            (self.cloud().start_server(self.id).await, "ACTIVE", "start")
        } else {
            (self.cloud().stop_server(self.id).await, "SHUTOFF", "stop")
        };
        if let Err(e) = call
            && !e.is_conflict()
        {
            return Err(self.call_fail(&format!("could not {what} the server"), &e, false));
        }
        self.note_task(s, if start { "powering-on" } else { "powering-off" });
        let accepted = Instant::now();
        let kind = if start {
            WaitKind::Start
        } else {
            WaitKind::Stop
        };
        let got = self
            .wait(
                kind,
                Timeouts::short(self.mv),
                accepted,
                |s, fresh| match s {
                    None => Some(false),
                    Some(s) if s.status == want && s.task_state.is_none() => Some(true),
                    Some(s) if fresh && s.task_state.is_none() && s.status == "ERROR" => {
                        Some(false)
                    }
                    Some(_) => None,
                },
            )
            .await;
        match got {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.fail(format!("the server did not {what}"), false)),
            Err(e) => Err(self.wait_fail(&format!("the server did not reach {want}"), e, false)),
        }
    }

    /// Remove azmove's in-place tags (those the server carries).
    pub(in crate::apply::strategy) async fn remove_tags(
        &mut self,
        s: &Server,
    ) -> Result<(), StepResult> {
        let mut now = s.clone();
        for key in [tags::MOVING_TO, tags::STRATEGY, tags::WAS_SHUTOFF] {
            if !s.metadata.contains_key(key) {
                continue;
            }
            if let Err(e) = self.cloud().delete_server_metadata(self.id, key).await {
                return Err(self.call_fail(&format!("could not remove the {key} tag"), &e, false));
            }
            now.metadata.remove(key);
        }
        self.waiter().note_server(now);
        Ok(())
    }

    pub(in crate::apply::strategy) async fn finish(&mut self) -> StepOutcome {
        let s = self.read().await?;
        self.remove_tags(&s).await?;
        if let Some(s) = self.waiter().server(self.id) {
            self.ctx.source_state = Some(place(&s));
        }
        Ok(StepResult::done_with(
            None,
            format!("moved with the {} strategy; UUID kept", self.strategy()),
        ))
    }
}
