//! The command line, in the shape of cargo's: [`args`] parses (every clap
//! type lives there and nowhere else), [`settings`] resolves flags and the
//! environment once into plain settings, and [`exec`] hands them to
//! `ops::<command>`. No logic of its own lives here.

pub mod args;
pub mod settings;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

pub use args::Cli;
use args::{Command, SimCommand};
pub use settings::Settings;

use crate::exit::Exit;
use crate::{logging, ops};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Success
                }
                _ => Exit::Usage,
            };
            let _ = e.print();
            return code.into();
        }
    };
    let settings = Settings::from_process(&cli.global);
    exec(cli.command, &settings).into()
}

/// Run a parsed command with the settings resolved for it.
pub fn exec(command: Command, settings: &Settings) -> Exit {
    match command {
        Command::Validate(args) => ops::validate::run(&args.files, settings.colors),
        Command::Plan(args) => {
            logging::init(&settings.log);
            ops::plan::run(&settings.plan(args), settings.colors)
        }
        Command::Apply(args) => {
            let bars = logging::init(&settings.log);
            ops::apply::run(&settings.apply(args, bars), settings.colors)
        }
        Command::Unlock(args) => {
            logging::init(&settings.log);
            ops::unlock::run(&args.run, &settings.cloud(args.cloud))
        }
        Command::Show(args) => {
            logging::init(&settings.log);
            ops::show::run(&args.file, settings::format(args.format), settings.colors)
        }
        Command::Diff(args) => ops::diff::run(&settings.diff(args), settings.colors),
        Command::Sim(SimCommand::Serve { scenario, port }) => ops::sim::serve(&scenario, port),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "azmove", &mut std::io::stdout());
            Exit::Success
        }
    }
}
