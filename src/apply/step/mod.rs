//! The vocabulary every strategy's steps share: the run's environment,
//! what the executor knows about one move ([`JobCtx`]), a step's answer
//! ([`StepResult`]) and reading the cloud's state before acting.

mod context;
mod error;
mod read;
mod result;

pub use context::{Downtime, JobCtx, RunEnv};
pub use error::StepError;
pub use read::{ReadError, read_images, read_servers};
pub use result::StepResult;
