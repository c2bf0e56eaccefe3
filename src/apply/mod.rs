//! The apply engine: a pure dispatcher that decides which step of which
//! server may start, and an executor that performs steps against the cloud.
//!
//! - [`dispatcher`]: the state machine (limits, `after` order, retries,
//!   skipping, interruption); no I/O, no clock.
//! - [`executor`]: runs the dispatcher's commands as tokio tasks.
//! - [`strategy`]: how a server moves (snapshot, shelve, cold, live), each
//!   a list of idempotent steps, a verification and a rollback; [`step`]:
//!   the vocabulary those steps share.
//! - [`hosts`]: where cold and live moves go.
//! - [`waiter`]: shared polling (one list call per interval for everything).
//! - [`journal`], [`report`], [`progress`], [`signals`]: what the user sees
//!   and keeps.

pub mod claims;
pub mod cloud;
pub mod dispatcher;
pub mod executor;
pub mod hosts;
pub mod journal;
pub mod limits;
pub mod prepare;
pub mod progress;
pub mod report;
pub mod signals;
pub mod step;
pub mod strategy;
pub mod waiter;

pub use cloud::Cloud;
pub use executor::{ApplyOptions, RunInput, execute};
pub use progress::ProgressMode;
pub use report::{ApplyReport, ServerOutcome};
pub use waiter::{PollConfig, PollMode};
