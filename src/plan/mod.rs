//! The pure core: the plan file, its validation, and the planner that turns
//! (plan file, observed cloud) into a changeset. No I/O, no clock, no env.

pub mod file;
pub mod changeset;
pub mod graph;
pub mod inventory;
pub mod diff;
pub mod schema;
pub mod validate;
pub mod yaml;
pub mod planner;
pub mod quota;
#[cfg(test)]
pub(crate) mod fixtures;
