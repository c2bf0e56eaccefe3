//! Every clap type of azmove, and only here: the rest of the crate sees the
//! plain settings [`super::settings`] resolves from them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Move OpenStack servers between availability zones, declaratively.
///
/// Write a plan file listing servers and their target AZ, review what
/// `azmove plan` says will happen, then `azmove apply` it. azmove keeps no
/// state file: everything it creates in the cloud is tagged, so any run can be
/// interrupted and resumed by running the same command again.
#[derive(Debug, Parser)]
#[command(name = "azmove", version, after_help = EXIT_CODES_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Format of log lines on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// When to use colour in output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Output format of plans and saved plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// For a terminal: Terraform-like `+`/`~`/`-` lines, coloured on a TTY.
    #[default]
    Text,
    /// For a pull-request comment: summary table and collapsible details.
    Markdown,
    /// Machine-readable, schema in schemas/changeset.schema.json.
    Json,
}

/// Which cloud to talk to.
#[derive(Debug, Clone, Args, Default)]
pub struct CloudArgs {
    /// Name of the clouds.yaml entry to use; overrides the plan's `cloud:` and OS_CLOUD.
    #[arg(long, value_name = "NAME")]
    pub os_cloud: Option<String>,
    /// Run against the built-in simulated cloud described by this scenario
    /// file instead of a real cloud (e.g. plans/seed-cloud.yaml).
    #[arg(long, value_name = "SCENARIO", conflicts_with = "os_cloud")]
    pub sim: Option<PathBuf>,
    /// With --sim: log in as this scenario user instead of its first admin.
    #[arg(long, value_name = "USER", requires = "sim")]
    pub sim_user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plan files offline: syntax, types, references, cycles.
    ///
    /// Reports every problem in every file with file:line:column, and exits 1
    /// if any file has an error. Needs no cloud.
    Validate(ValidateArgs),
    /// Show what apply would do: resolve the plan against the live cloud.
    ///
    /// Reads the cloud in bulk, and prints per server the current AZ/host,
    /// the target, the strategy, the steps and anything that blocks the move.
    /// Changes nothing in the cloud.
    Plan(PlanArgs),
    /// Move the servers: execute a plan file, or a plan saved with `plan -o`.
    ///
    /// Safe to interrupt and to run again: it continues where the cloud is.
    Apply(ApplyArgs),
    /// Remove the claims an azmove run left behind when it died.
    ///
    /// `apply` claims each server before changing it and releases the claims
    /// when it ends. A run that was killed, or whose machine was lost, leaves
    /// them behind: the next apply of those servers takes them over by
    /// itself, but the records stay until then and `azmove plan` lists them.
    /// A run that is still alive is refused, since it releases its claims
    /// itself when it ends.
    ///
    /// Exit status: 0 when the run's records were removed or none were
    /// found; 1 when the run is alive (nothing removed), a record could not
    /// be removed, or the cloud could not be reached.
    Unlock(UnlockArgs),
    /// Render a plan saved with `azmove plan -o FILE`.
    Show(ShowArgs),
    /// Compare two versions of a plan file, offline, for change review.
    Diff(DiffArgs),
    /// The built-in simulated OpenStack cloud.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Print shell completions (bash, zsh, fish, …) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Plan files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The plan file.
    #[arg(value_name = "PLANFILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Save the plan (with fingerprints of what was observed) to FILE, for
    /// `azmove show FILE` and `azmove apply FILE`.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Do not fail (exit 3) because some entries are blocked.
    #[arg(long)]
    pub allow_blocked: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan file (it is planned first), or a plan saved with `plan -o`.
    #[arg(value_name = "PLAN")]
    pub file: PathBuf,
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes", visible_alias = "auto-approve")]
    pub yes: bool,
    /// Go ahead even though some entries are blocked (they are skipped).
    #[arg(long)]
    pub allow_blocked: bool,
    /// Write a JSON report of every server's outcome and timings to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Format of the plan shown before confirmation.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Directory for the journal (JSON lines, mode 0600).
    #[arg(long, value_name = "DIR", default_value = ".azmove")]
    pub journal_dir: PathBuf,
    /// Wait with one GET per server every INTERVAL instead of shared list
    /// polls (the baseline benchmarks compare against).
    #[arg(long, value_name = "INTERVAL", hide = true, value_parser = crate::plan::file::parse_duration)]
    pub naive_poll: Option<std::time::Duration>,
    /// Shortest time between two polls (default 2s, scaled by a simulator's time scale).
    #[arg(long, value_name = "DURATION", hide = true, value_parser = crate::plan::file::parse_duration)]
    pub poll_min: Option<std::time::Duration>,
    /// Longest time between two polls (default 30s, scaled by a simulator's time scale).
    #[arg(long, value_name = "DURATION", hide = true, value_parser = crate::plan::file::parse_duration)]
    pub poll_max: Option<std::time::Duration>,
    /// How long this run's claims on its servers hold if it dies without
    /// releasing them (another run on the same machine takes over at once).
    /// The run renews them every quarter of this.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = crate::plan::file::parse_duration)]
    pub lease_ttl: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The run's id: the one other runs name when they find a server busy
    /// ("in progress by azmove run RUN_ID"), in the journal's file name
    /// (.azmove/apply-RUN_ID.jsonl), and in `azmove plan`'s Claims section.
    #[arg(value_name = "RUN_ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub run: String,
    #[command(flatten)]
    pub cloud: CloudArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `azmove plan -o FILE`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old and the new plan file (`OLD NEW`); with --git, only the new one.
    #[arg(value_name = "FILE", required = true, num_args = 1..=2)]
    pub files: Vec<PathBuf>,
    /// Compare NEW with its version at this git revision instead of OLD.
    #[arg(long, value_name = "REV")]
    pub git: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulated cloud on loopback until interrupted, and print the
    /// OS_* variables and clouds.yaml entry to use it.
    Serve {
        /// The scenario file describing the cloud.
        #[arg(long, value_name = "FILE")]
        scenario: PathBuf,
        /// Port to listen on (127.0.0.1); a free one when omitted.
        #[arg(long)]
        port: Option<u16>,
    },
}
