//! One module per subcommand: each turns parsed arguments into work done by
//! the library and an [`crate::exit::Exit`] status.

pub mod apply;
pub mod diff;
pub mod plan;
pub mod show;
pub mod sim;
pub mod unlock;
pub mod validate;
