//! The pure core: the plan file, its validation, and the planner that turns
//! (plan file, observed cloud) into a changeset. No I/O, no clock, no env.

pub mod changeset;
pub mod diff;
pub mod file;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod graph;
pub mod inventory;
pub mod parse;
pub mod planner;
pub mod quota;
pub mod schema;
pub mod validate;
