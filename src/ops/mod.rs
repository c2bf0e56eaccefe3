//! What each command does, given the plain settings the command line
//! resolved (cargo's `ops`): each turns them into work done by the library
//! and an [`Exit`] status. `plan` is shared: `apply` of a plan file plans
//! first, with the same code.
//!
//! User-facing errors of every command are printed here, in one way.

pub mod apply;
pub mod claims;
pub mod diff;
pub mod plan;
pub mod show;
pub mod sim;
pub mod unlock;
pub mod validate;

use std::io::Write;

use crate::plan::parse::PlanErrors;
use crate::render::Colors;

/// The async runtime of a command that talks to a cloud (`None`: it could
/// not start, and the user was told).
fn runtime(workers: Option<usize>) -> Option<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    match builder.enable_all().build() {
        Ok(r) => Some(r),
        Err(e) => {
            error(format_args!("cannot start the async runtime: {e}"));
            None
        }
    }
}

/// `azmove: <message>` on stderr: how every command reports an error.
fn error(message: std::fmt::Arguments<'_>) {
    eprintln!("azmove: {message}");
}

/// A plan file's diagnostics on stderr, with their source snippets.
fn plan_errors(errors: &PlanErrors, colors: Colors) {
    let _ = write!(colors.stderr(), "{}", errors.render(colors.stderr));
}

/// `s` as one word of a POSIX shell command line, quoted only when needed.
fn shell_word(s: &str) -> std::borrow::Cow<'_, str> {
    // Only a NUL byte cannot be quoted, and no shell word holds one.
    shlex::try_quote(s).unwrap_or(std::borrow::Cow::Borrowed(s))
}

/// Write `text` to stdout through the colour decision. A closed pipe
/// (`azmove plan … | head`) is not an error.
fn print(text: &str, colors: Colors) -> std::io::Result<()> {
    let mut stdout = colors.stdout();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()),
    }
}
