//! What a step works with: the run's shared environment and what the
//! executor knows about one move.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::StepError;
use crate::apply::cloud::Cloud;
use crate::apply::hosts::HostBook;
use crate::apply::waiter::Waiter;
use crate::plan::inventory::{Host, Server};

/// What every step of a run shares.
pub struct RunEnv {
    pub cloud: Arc<dyn Cloud>,
    pub waiter: Waiter,
    /// Compute hosts of each AZ, for AZs whose hosts the caller can see.
    pub hosts_by_az: BTreeMap<String, Vec<String>>,
    /// State read by a list call at most this long ago counts as fresh.
    pub fresh_within: Duration,
    /// Compute hosts of each AZ with their state, for AZs whose hosts the
    /// caller can see: where cold and live moves choose a destination.
    pub zone_hosts: BTreeMap<String, Vec<Host>>,
    /// What cold and live moves of this run claimed on each host.
    pub host_book: HostBook,
    /// This run's id: written on everything it creates (`azmove_run`), on
    /// a source it stops and on a replacement it verifies, so that every
    /// later decision knows whose work it is.
    pub run_id: Option<String>,
    /// Cancelled by a second Ctrl-C only: what a first one must not cut
    /// short (a rollback, a source half-way to SHUTOFF) waits on it.
    pub stop_now: CancellationToken,
}

impl RunEnv {
    /// The value azmove's markers carry: the run id (`1` without one).
    pub fn marker(&self) -> String {
        self.run_id.clone().unwrap_or_else(|| "1".into())
    }
}

/// How long a server did not serve during its move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downtime {
    pub duration: Duration,
    /// What it is measured from: `stop`, `shelve`, `migrate`, `live
    /// switch-over`, or `snapshot (cut-over …)` when the source kept running.
    pub from: &'static str,
}

/// What the executor knows about one move while it runs.
#[derive(Debug, Clone, Default)]
pub struct JobCtx {
    pub snapshot_id: Option<String>,
    pub replacement_id: Option<String>,
    /// Servers and images azmove deleted in this run: never adopted again.
    pub discarded: BTreeSet<String>,
    /// The replacement passed verification in this run.
    pub verified: bool,
    /// Request ids of the calls that failed.
    pub request_ids: Vec<String>,
    /// The calls that failed, with what the cloud said.
    pub errors: Vec<StepError>,
    /// The replacement as last seen (for the report).
    pub replacement: Option<Server>,
    /// What became of the source, in words (for the report). For in-place
    /// strategies: where the server itself was left.
    pub source_state: Option<String>,
    /// When the server stopped serving in this run: the stop (or shelve,
    /// or migrate) request was accepted. Unknown when that happened in an
    /// earlier run.
    pub down_since: Option<Instant>,
    /// What `down_since` counts from (`stop`, `shelve`, …).
    pub down_from: Option<&'static str>,
    /// How long the server did not serve, once it serves again in the
    /// target AZ (its replacement, for the snapshot strategy).
    pub downtime: Option<Downtime>,
    /// In-place strategies: the server as last seen (for the report).
    pub server: Option<Server>,
    /// Cold and live: hosts a migration of this server failed to in this
    /// run; they are not chosen again.
    pub failed_hosts: Vec<String>,
    /// This run holds the server's claim (see `apply::claims`).
    pub claimed: bool,
    /// This run stopped the source for its snapshot.
    pub stopped_source: bool,
    /// This run wrote `azmove_stopped` on the source (even if the stop then
    /// failed): its rollback removes it whatever the last poll shows.
    pub tagged_stopped: bool,
}

impl JobCtx {
    /// The server stopped serving now (unless it already had).
    pub fn down(&mut self, from: &'static str) {
        if self.down_since.is_none() {
            self.down_since = Some(Instant::now());
            self.down_from = Some(from);
        }
    }

    /// The server serves again: the downtime ends now.
    pub fn up(&mut self) {
        if let (Some(t), Some(from)) = (self.down_since.take(), self.down_from.take()) {
            self.downtime = Some(Downtime {
                duration: t.elapsed(),
                from,
            });
        }
    }
}
