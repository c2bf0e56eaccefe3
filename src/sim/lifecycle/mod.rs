//! How servers change over time, the way Nova drives them: boots go
//! BUILD → ACTIVE (or ERROR), snapshots walk their task states while the
//! Glance image goes queued → saving → active (or killed), and so on.
//!
//! Nothing runs in the background: every API request first calls
//! [`Model::advance`], which applies, in time order, every step whose time
//! has come. Steps carry their own due time, so a chain of steps computes
//! the same timestamps however late it is evaluated.

mod actions;
mod boot;
mod delete;
mod images;
mod state;
mod steps;

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use super::clock::Clock;
use super::faults::Faults;
use super::model::{FlavorRec, Model};
use super::stats::{Collector, OpSide};

pub use crate::sim::model::BootVolume;
pub use actions::{SimpleAction, UnshelveRequest};
pub use boot::BootRequest;
pub(crate) use state::{LostRace, check_lock, check_state};
pub use state::{UNEXPECTED_API_ERROR, invalid_state, unexpected_api_error};

/// What the model needs besides itself: the clock, counters and faults.
#[derive(Debug)]
pub struct Env {
    pub clock: Clock,
    pub stats: Mutex<Collector>,
    pub faults: Mutex<Faults>,
}

impl Env {
    pub fn stats(&self) -> std::sync::MutexGuard<'_, Collector> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn later(&self, at: OffsetDateTime, d: Duration) -> OffsetDateTime {
        at + self.clock.scaled(d)
    }
}

impl Model {
    /// Apply every step due at or before `now`, in time order.
    pub fn advance(&mut self, now: OffsetDateTime, env: &Env) {
        if self.last_advance.is_some_and(|t| t > now) {
            return;
        }
        self.last_advance = Some(now);
        while let Some(std::cmp::Reverse(ev)) = self.queue.peek() {
            if ev.at > now {
                break;
            }
            let Some(std::cmp::Reverse(ev)) = self.queue.pop() else {
                break;
            };
            if self.servers[ev.server].generation != ev.generation {
                continue;
            }
            self.run_step(ev.server, ev.step, ev.at, env);
        }
    }

    pub(crate) fn touch(&mut self, i: usize, at: OffsetDateTime, task: Option<&'static str>) {
        let s = &mut self.servers[i];
        s.task_state = task;
        s.updated = at;
    }

    pub(crate) fn op_started(&self, i: usize, kind: &str, side: OpSide, env: &Env) {
        let s = &self.servers[i];
        let az = self.server_az(s);
        env.stats().op_started(&s.id, kind, side, &az);
    }

    pub(crate) fn op_finished(&self, i: usize, env: &Env) {
        env.stats().op_finished(&self.servers[i].id);
    }

    /// Count a server's flavor as used on a host (the server's own host,
    /// or a migration's claim).
    pub(crate) fn claim(&mut self, h: usize, f: &FlavorRec) {
        let host = &mut self.hosts[h];
        host.used_vcpus += f.vcpus;
        host.used_ram_mb += f.ram_mb;
        host.used_disk_gb += f.disk_gb + f.ephemeral_gb;
    }

    pub(crate) fn unclaim(&mut self, h: usize, f: &FlavorRec) {
        let host = &mut self.hosts[h];
        host.used_vcpus = host.used_vcpus.saturating_sub(f.vcpus);
        host.used_ram_mb = host.used_ram_mb.saturating_sub(f.ram_mb);
        host.used_disk_gb = host.used_disk_gb.saturating_sub(f.disk_gb + f.ephemeral_gb);
    }

    fn take_host(&mut self, i: usize, h: usize) {
        let f = self.servers[i].flavor.clone();
        self.claim(h, &f);
        self.servers[i].host = Some(h);
    }

    fn release_host(&mut self, i: usize) {
        if let Some(h) = self.servers[i].host.take() {
            let f = self.servers[i].flavor.clone();
            self.unclaim(h, &f);
        }
    }
}
