//! Helpers shared by the test modules.

pub mod apply;
pub mod scenario;
pub mod sim;
