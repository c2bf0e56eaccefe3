//! Settings, resolved once before any command runs (the way uv's
//! `Settings::resolve` works): the flags, the colour decision and a
//! snapshot of the environment become plain values that `ops` receives.
//! Nothing below the command line reads the environment or sees clap.

use std::io::IsTerminal;
use std::path::PathBuf;

use anstream::AutoStream;
use indicatif::MultiProgress;

use super::args::{self, ApplyArgs, CloudArgs, ColorChoice, DiffArgs, GlobalArgs, PlanArgs};
use crate::apply::ProgressMode;
use crate::connect::CloudChoice;
use crate::logging::{LogFormat, LogSettings};
use crate::openstack::{Env, env_from_process};
use crate::ops::apply::{ApplySettings, PollSettings};
use crate::ops::diff::DiffSettings;
use crate::ops::plan::PlanSettings;
use crate::render::{Colors, OutputFormat};

/// What every command shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub colors: Colors,
    pub log: LogSettings,
    /// The only snapshot of the environment azmove takes.
    pub env: Env,
    /// The working directory, first place `clouds.yaml` is looked for.
    pub cwd: PathBuf,
}

impl Settings {
    /// Resolve the global flags against this process's environment and
    /// terminals.
    pub fn from_process(global: &GlobalArgs) -> Settings {
        let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
        Settings::resolve(global, colors(global.color), env_from_process(), cwd)
    }

    /// Resolve the global flags with the colour decision, environment and
    /// working directory given.
    pub fn resolve(global: &GlobalArgs, colors: Colors, env: Env, cwd: PathBuf) -> Settings {
        let log = LogSettings {
            verbose: global.verbose,
            format: match global.log_format {
                args::LogFormat::Text => LogFormat::Text,
                args::LogFormat::Json => LogFormat::Json,
            },
            ansi: colors.stderr,
        };
        Settings {
            colors,
            log,
            env,
            cwd,
        }
    }

    /// The cloud `--os-cloud`/`--sim`/`--sim-user` name, with the
    /// environment it is resolved against.
    pub fn cloud(&self, args: CloudArgs) -> CloudChoice {
        CloudChoice {
            os_cloud: args.os_cloud,
            sim: args.sim,
            sim_user: args.sim_user,
            env: self.env.clone(),
            cwd: self.cwd.clone(),
        }
    }

    pub fn plan(&self, args: PlanArgs) -> PlanSettings {
        PlanSettings {
            file: args.file,
            cloud: self.cloud(args.cloud),
            format: format(args.format),
            out: args.out,
            detailed_exitcode: args.detailed_exitcode,
            allow_blocked: args.allow_blocked,
        }
    }

    /// `bars`: the progress bars the log is written around (drawn only
    /// when the log is text on a terminal).
    pub fn apply(&self, args: ApplyArgs, bars: MultiProgress) -> ApplySettings {
        let progress = if self.log.format == LogFormat::Text && std::io::stderr().is_terminal() {
            ProgressMode::Bars(bars)
        } else {
            ProgressMode::Log
        };
        ApplySettings {
            file: args.file,
            cloud: self.cloud(args.cloud),
            yes: args.yes,
            allow_blocked: args.allow_blocked,
            report: args.report,
            format: format(args.format),
            journal_dir: args.journal_dir,
            poll: PollSettings {
                naive: args.naive_poll,
                min: args.poll_min,
                max: args.poll_max,
            },
            lease_ttl: args.lease_ttl,
            progress,
            user: self.env.get("USER").filter(|u| !u.is_empty()).cloned(),
            interactive: std::io::stdin().is_terminal(),
        }
    }

    pub fn diff(&self, args: DiffArgs) -> DiffSettings {
        DiffSettings {
            files: args.files,
            git: args.git,
            format: format(args.format),
        }
    }
}

/// The output format flag as the renderers know it.
pub fn format(f: args::OutputFormat) -> OutputFormat {
    match f {
        args::OutputFormat::Text => OutputFormat::Text,
        args::OutputFormat::Markdown => OutputFormat::Markdown,
        args::OutputFormat::Json => OutputFormat::Json,
    }
}

/// The one colour decision. `--color always`/`never` decide; `auto`
/// colours a stream that is a terminal, unless `NO_COLOR` is set (or
/// `CLICOLOR_FORCE` forces colour), by `anstream`'s rules.
pub fn colors(choice: ColorChoice) -> Colors {
    match choice {
        ColorChoice::Always => Colors {
            stdout: true,
            stderr: true,
        },
        ColorChoice::Never => Colors::default(),
        ColorChoice::Auto => Colors {
            stdout: AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never,
            stderr: AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_colour_choices_decide_both_streams() {
        assert_eq!(
            colors(ColorChoice::Always),
            Colors {
                stdout: true,
                stderr: true
            }
        );
        assert_eq!(colors(ColorChoice::Never), Colors::default());
    }
}
