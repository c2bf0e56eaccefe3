//! How a server moves: each strategy is a list of steps, a verification
//! and a rollback, run by the same engine (dispatcher, limits, shared
//! polls, journal). The plan names the strategy of each move and its
//! steps; [`of`] finds the implementation that runs them.
//!
//! - [`snapshot`]: a replacement booted from a snapshot of the source;
//! - [`shelve`], [`cold`], [`live`]: the server itself moves, keeping its
//!   UUID and ports; what they share is in `in_place`.
//!
//! A new strategy is a new implementation of [`Strategy`] and one arm in
//! [`of`]; a new step of one strategy is one arm in its `run` (for an
//! in-place strategy, its `own_step`).

mod cold;
mod in_place;
mod live;
mod shelve;
mod snapshot;

use futures::future::BoxFuture;

use super::step::{JobCtx, RunEnv, StepResult};
use crate::plan::changeset::{PlannedMove, Step};
use crate::plan::file;
use tokio_util::sync::CancellationToken;

pub use cold::Cold;
pub use live::Live;
pub use shelve::Shelve;
pub use snapshot::{Snapshot, check_replacement};

/// One move as a step of it sees it.
pub struct Job<'a> {
    pub env: &'a RunEnv,
    pub mv: &'a PlannedMove,
    pub ctx: &'a mut JobCtx,
    /// Cancelled when the step must stop waiting: by a first Ctrl-C for
    /// a step, only by a stop at once for a rollback.
    pub stop: CancellationToken,
}

/// A way of moving a server to another availability zone.
///
/// Every step is idempotent against the cloud: it first reads where the
/// cloud is and does nothing when its effect is already there, so a run
/// resumed after Ctrl-C, a crash or `kill -9` continues where it stopped.
pub trait Strategy: Sync {
    /// Its name in plans and messages.
    fn name(&self) -> &'static str;

    /// Whether the server itself moves (its UUID stays), rather than a
    /// replacement of it.
    fn moves_in_place(&self) -> bool;

    /// The steps of a fresh move, in order: the only steps [`Strategy::run`]
    /// and [`Strategy::verify`] accept.
    fn steps(&self) -> &'static [Step];

    /// Run one of its steps other than [`Step::Verify`].
    fn run<'a>(&'a self, job: Job<'a>, step: Step) -> BoxFuture<'a, StepResult>;

    /// [`Step::Verify`]: check that the moved server (or its replacement)
    /// is where the plan wants it, before anything is let go.
    fn verify<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, StepResult>;

    /// Undo a failed move where it stands.
    fn rollback<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, StepResult>;
}

/// The implementation of the plan's strategy (`auto` is resolved by the
/// planner; a move still saying `auto` is a snapshot move).
pub fn of(strategy: file::Strategy) -> &'static dyn Strategy {
    match strategy {
        file::Strategy::Snapshot | file::Strategy::Auto => &Snapshot,
        file::Strategy::Shelve => &Shelve,
        file::Strategy::Cold => &Cold,
        file::Strategy::Live => &Live,
    }
}

/// Run one step of a move with its strategy.
pub async fn run_step(job: Job<'_>, step: Step) -> StepResult {
    if job.mv.source.is_none() {
        return StepResult::failed("the entry resolved to no server", false);
    }
    let strategy = of(job.mv.strategy);
    if !strategy.steps().contains(&step) {
        return not_a_step(step, strategy.name());
    }
    match step {
        Step::Verify => strategy.verify(job).await,
        _ => strategy.run(job, step).await,
    }
}

/// Undo a failed move with its strategy.
pub async fn rollback(job: Job<'_>) -> StepResult {
    if job.mv.source.is_none() {
        return StepResult::done();
    }
    of(job.mv.strategy).rollback(job).await
}

/// A step the plan lists that its strategy does not know (a plan edited by
/// hand, or made by another version).
fn not_a_step(step: Step, strategy: &str) -> StepResult {
    StepResult::failed(
        format!(
            "step `{}` is not a step of the {strategy} strategy; plan again",
            step.as_str()
        ),
        false,
    )
}
