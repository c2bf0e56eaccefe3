//! Whether stdout and stderr are coloured, decided once by the command line
//! (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`, whether the stream is a
//! terminal), and the writers that keep to that decision.
//!
//! Everything coloured is written through `anstream`: a stream whose colour
//! is off strips any escape sequence, so no renderer can leak one.

use anstream::{AutoStream, ColorChoice};

/// The colour decision for both output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Colors {
    pub stdout: bool,
    pub stderr: bool,
}

impl Colors {
    /// Stdout, coloured only when decided so.
    pub fn stdout(&self) -> AutoStream<std::io::Stdout> {
        AutoStream::new(std::io::stdout(), choice(self.stdout))
    }

    /// Stderr, coloured only when decided so.
    pub fn stderr(&self) -> AutoStream<std::io::Stderr> {
        AutoStream::new(std::io::stderr(), choice(self.stderr))
    }
}

fn choice(color: bool) -> ColorChoice {
    if color {
        ColorChoice::Always
    } else {
        ColorChoice::Never
    }
}
