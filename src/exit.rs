//! Every exit code azmove uses, in one place (also in docs/exit-codes.md and
//! `azmove --help`). Scripts and CI pipelines depend on these numbers.

use std::process::ExitCode;

/// Exit statuses of the `azmove` binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything asked for succeeded (`plan`: no changes, or changes without
    /// `--detailed-exitcode`).
    Success = 0,
    /// An error: invalid plan file, cloud or network error, or an `apply` in
    /// which at least one server failed or was skipped.
    Failure = 1,
    /// `plan --detailed-exitcode`: the plan has changes to apply.
    Changes = 2,
    /// `plan`/`apply`: some entries are blocked (not found, ambiguous, …) and
    /// `--allow-blocked` was not given.
    Blocked = 3,
    /// `apply` was interrupted (Ctrl-C) before it finished; run it again to resume.
    Interrupted = 4,
    /// `apply` failed nowhere, but some servers were someone else's
    /// business: held by another azmove run (`busy`), or changed by someone
    /// else during the move (`changed`). Run again once the other is done.
    GaveWay = 5,
    /// The command line itself is wrong (unknown flag, missing argument).
    Usage = 64,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// The table printed at the end of `azmove --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success (plan: no changes, unless --detailed-exitcode)
  1   error, or apply finished with failed or skipped servers
  2   plan --detailed-exitcode: there are changes to apply
  3   some entries are blocked (use --allow-blocked to accept)
  4   apply was interrupted; run the same command again to resume
  5   apply: nothing failed, but some servers were busy (held by another
      azmove run) or changed by someone else mid-move; run again later
  64  usage error on the command line";
