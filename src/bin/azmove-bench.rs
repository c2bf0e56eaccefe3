//! `azmove-bench`: the benchmark suite behind docs/benchmarks.md.
//!
//! Run it on demand (`cargo run --release --bin azmove-bench -- all`); it
//! has no tests of its own and `cargo test` never runs it. The work is in
//! the library's `bench` module; its command line is parsed here.

use std::path::PathBuf;
use std::process::ExitCode;

use azmove::bench::{self, Options, Suite};
use clap::{Args, Parser, Subcommand};

/// Measure azmove's plan and apply against the simulator and against the
/// baselines a user would otherwise use, and write docs/benchmarks.md.
#[derive(Debug, Parser)]
#[command(name = "azmove-bench", max_term_width = 100)]
struct BenchCli {
    #[command(subcommand)]
    suite: SuiteArg,
    #[command(flatten)]
    options: OptionsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
enum SuiteArg {
    /// Every suite, then the report.
    All,
    /// Plan at scale: requests, wall time, CPU time and peak RSS.
    Plan,
    /// Apply: makespan against the lower bound, requests per moved server,
    /// naive per-server polling.
    Apply,
    /// The classic procedure scripted with the `openstack` CLI.
    Baseline,
    /// Against the real OpenStack of `tests/cloud` (start it first with
    /// `tests/cloud/cloud up`): every strategy on fresh servers, judged by
    /// Nova's instance actions, and the `openstack` CLI procedure; results
    /// in benches/real-cloud.json.
    RealCloud,
    /// Write docs/benchmarks.md from the last results of each suite.
    Report,
}

#[derive(Debug, Clone, Args)]
struct OptionsArgs {
    /// Runs per figure (min/median/max are reported).
    #[arg(long, default_value_t = 3, global = true, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Simulator speed-up for the request counts and the baselines
    /// (operations take their cloud duration divided by this).
    #[arg(long, default_value_t = 50.0, global = true)]
    time_scale: f64,
    /// Simulator speed-up for the makespan measurement: lower, so that
    /// real milliseconds of HTTP and CPU stay small against the scaled
    /// operation times.
    #[arg(long, default_value_t = 20.0, global = true)]
    makespan_time_scale: f64,
    /// Plan sizes (servers to move; 10% more unrelated servers are added).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "100,1000,10000",
        global = true
    )]
    sizes: Vec<u32>,
    /// Servers moved in the makespan measurement.
    #[arg(long, default_value_t = 500, global = true)]
    apply_servers: u32,
    /// Servers in the requests-per-server and baseline comparisons.
    #[arg(long, default_value_t = 100, global = true)]
    compare_servers: u32,
    /// Servers the `openstack` CLI baseline moves per run (it is strictly
    /// sequential, so its time per server is extrapolated to the others).
    #[arg(long, default_value_t = 5, global = true)]
    baseline_servers: u32,
    /// The azmove binary to measure (default: built with `cargo build`
    /// next to this binary, same profile).
    #[arg(long, value_name = "PATH", global = true)]
    azmove: Option<PathBuf>,
    /// The `openstack` executable for the baseline (default: a venv under
    /// target/ with python-openstackclient, created if missing).
    #[arg(long, value_name = "PATH", global = true)]
    openstack: Option<PathBuf>,
    /// real-cloud: fleet sizes (each moved with concurrency N, once per
    /// strategy).
    #[arg(long, value_delimiter = ',', default_value = "8,16", global = true)]
    cloud_servers: Vec<u32>,
    /// real-cloud: servers the `openstack` CLI procedure moves (0: skip it).
    #[arg(long, default_value_t = 8, global = true)]
    seed_servers: u32,
    /// real-cloud: the harness state directory (default: target/minicloud,
    /// or $AZMOVE_CLOUD_DIR).
    #[arg(long, value_name = "DIR", global = true)]
    cloud_dir: Option<PathBuf>,
    /// Where the report goes, relative to the repository.
    #[arg(long, default_value = "docs/benchmarks.md", global = true)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = BenchCli::parse();
    let suite = match cli.suite {
        SuiteArg::All => Suite::All,
        SuiteArg::Plan => Suite::Plan,
        SuiteArg::Apply => Suite::Apply,
        SuiteArg::Baseline => Suite::Baseline,
        SuiteArg::RealCloud => Suite::RealCloud,
        SuiteArg::Report => Suite::Report,
    };
    let o = cli.options;
    let options = Options {
        runs: o.runs,
        time_scale: o.time_scale,
        makespan_time_scale: o.makespan_time_scale,
        sizes: o.sizes,
        apply_servers: o.apply_servers,
        compare_servers: o.compare_servers,
        baseline_servers: o.baseline_servers,
        azmove: o.azmove,
        openstack: o.openstack,
        cloud_servers: o.cloud_servers,
        seed_servers: o.seed_servers,
        cloud_dir: o
            .cloud_dir
            .or_else(|| std::env::var_os("AZMOVE_CLOUD_DIR").map(PathBuf::from)),
        out: o.out,
    };
    bench::main(suite, options, std::env::args().skip(1).collect())
}
