//! One module per subcommand: each turns parsed arguments into work done by
//! the library and an [`crate::exit::Exit`] status.

pub mod apply;
pub mod diff;
pub mod plan;
pub mod show;
pub mod sim;
pub mod validate;

/// Say that a command is not built yet, and exit accordingly.
pub(crate) fn not_implemented(what: &str) -> crate::exit::Exit {
    eprintln!("azmove: `{what}` is not implemented in this version yet.");
    crate::exit::Exit::NotImplemented
}
