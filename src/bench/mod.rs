//! The benchmark suite behind docs/benchmarks.md, run by the
//! `azmove-bench` binary (`cargo run --release --bin azmove-bench -- all`).
//! It is not part of `cargo test`: speed is measured here, never asserted
//! in tests.
//!
//! Every figure comes from real processes: the simulator runs as
//! `azmove sim serve` in its own process, and each measured command
//! (`azmove plan`, `azmove apply`, the `openstack` CLI baseline) runs as a
//! child under GNU time, so its CPU time and peak RSS are its own. API
//! requests are counted by the simulator (`GET /_sim/stats`), not by the
//! client being measured.
//!
//! - [`plan_suite`]: plan at 100 / 1,000 / 10,000 servers.
//! - [`apply_suite`]: apply makespan against the lower bound ([`bound`]),
//!   requests per moved server, and naive per-server polling.
//! - [`baseline`]: the classic procedure with the `openstack` CLI.
//! - [`real_cloud`]: apply against the real OpenStack of `tests/cloud`,
//!   judged by Nova's own records, and the CLI procedure beside it.
//! - [`report`]: the results files and docs/benchmarks.md.

pub mod apply_suite;
pub mod baseline;
pub mod bound;
pub mod fleet;
pub mod machine;
pub mod plan_suite;
pub mod process;
pub mod real_cloud;
pub mod report;
pub mod stats;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use machine::RunInfo;
use stats::Summary;

/// Which suite to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    All,
    Plan,
    Apply,
    Baseline,
    /// Against the real cloud of `tests/cloud` (never part of `All`: it
    /// needs that cloud running).
    RealCloud,
    /// Only write docs/benchmarks.md from the last results.
    Report,
}

impl Suite {
    fn name(self) -> &'static str {
        match self {
            Suite::All => "all",
            Suite::Plan => "plan",
            Suite::Apply => "apply",
            Suite::Baseline => "baseline",
            Suite::RealCloud => "real-cloud",
            Suite::Report => "report",
        }
    }
}

/// The benchmark options (documented on the `azmove-bench` flags).
#[derive(Debug, Clone)]
pub struct Options {
    pub runs: u32,
    pub time_scale: f64,
    pub makespan_time_scale: f64,
    pub sizes: Vec<u32>,
    pub apply_servers: u32,
    pub compare_servers: u32,
    pub baseline_servers: u32,
    pub azmove: Option<PathBuf>,
    pub openstack: Option<PathBuf>,
    pub cloud_servers: Vec<u32>,
    pub seed_servers: u32,
    pub cloud_dir: Option<PathBuf>,
    pub out: PathBuf,
}

/// Why a benchmark could not produce its figures.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the simulator: {0}")]
    Sim(String),
    #[error("GNU time wrote nothing readable to {} ({text:?}); is /usr/bin/time GNU time?", file.display())]
    TimeOutput { file: PathBuf, text: String },
    #[error("{what} failed: {detail} (output in {})", dir.display())]
    Failed {
        what: String,
        detail: String,
        dir: PathBuf,
    },
    #[error("{0}")]
    Setup(String),
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl BenchError {
    pub fn io(path: &Path, source: std::io::Error) -> BenchError {
        BenchError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Everything a suite needs to run.
#[derive(Debug, Clone)]
pub struct Context {
    /// The repository (where Cargo.toml is).
    pub root: PathBuf,
    pub azmove: PathBuf,
    /// `release` or `debug`.
    pub profile: String,
    /// Scratch directory of this invocation, under target/bench/.
    pub work: PathBuf,
    pub options: Options,
    /// The command line that reproduces this invocation.
    pub command: String,
}

impl Context {
    pub fn run_info(&self) -> RunInfo {
        RunInfo::collect(self.command.clone(), &self.profile)
    }

    /// A fresh directory under the invocation's scratch directory.
    pub fn dir(&self, name: &str) -> Result<PathBuf, BenchError> {
        let d = self.work.join(name);
        std::fs::create_dir_all(&d).map_err(|e| BenchError::io(&d, e))?;
        Ok(d)
    }

    pub fn results_dir(&self) -> PathBuf {
        self.root.join(report::RESULTS_DIR)
    }
}

/// The min/median/max of `f` over `runs`.
pub fn summary_of<T>(runs: &[T], f: impl Fn(&T) -> f64) -> Result<Summary, BenchError> {
    Summary::of(&runs.iter().map(f).collect::<Vec<_>>())
        .ok_or_else(|| BenchError::Setup("no runs were made".into()))
}

/// Run `suite` (`args`: the command line's arguments, to print the
/// command that reproduces the figures).
pub fn main(suite: Suite, options: Options, args: Vec<String>) -> ExitCode {
    match run(suite, &options, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("azmove-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(suite: Suite, options: &Options, args: Vec<String>) -> Result<(), BenchError> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if suite == Suite::Report {
        return report::write_report(&root, &root.join(&options.out));
    }
    for (flag, v) in [
        ("--time-scale", options.time_scale),
        ("--makespan-time-scale", options.makespan_time_scale),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(BenchError::Setup(format!(
                "{flag} must be a positive number"
            )));
        }
    }
    let profile = own_profile();
    // On the real cloud, Nova's seconds dwarf azmove's own: any build will do.
    if profile != "release" && suite != Suite::RealCloud {
        eprintln!(
            "azmove-bench: warning: this is a {profile} build; figures for docs/ come from --release"
        );
    }
    let azmove = match &options.azmove {
        // Children run in scratch directories: a relative path would break.
        Some(p) => std::fs::canonicalize(p).map_err(|e| BenchError::io(p, e))?,
        None => build_azmove(&root, &profile)?,
    };
    ensure_gnu_time()?;
    let stamp = machine::now_rfc3339().replace([':', '-'], "");
    let work = root
        .join("target/bench")
        .join(format!("{}-{stamp}", suite.name()));
    std::fs::create_dir_all(&work).map_err(|e| BenchError::io(&work, e))?;
    let ctx = Context {
        root: root.clone(),
        azmove,
        profile: profile.clone(),
        work,
        options: options.clone(),
        command: format!(
            "cargo run{} --bin azmove-bench -- {}",
            if profile == "release" {
                " --release"
            } else {
                ""
            },
            args.join(" ")
        ),
    };
    eprintln!(
        "azmove-bench: measuring {} (scratch files in {})",
        ctx.azmove.display(),
        ctx.work.display()
    );
    let want = |s: Suite| suite == Suite::All || suite == s;
    let mut failures = Vec::new();
    if want(Suite::Plan) {
        match plan_suite::run(&ctx) {
            Ok(r) => report::save(&ctx.results_dir(), "plan", &r)?,
            Err(e) => failures.push(format!("plan: {e}")),
        }
    }
    if want(Suite::Apply) {
        match apply_suite::run(&ctx) {
            Ok(r) => report::save(&ctx.results_dir(), "apply", &r)?,
            Err(e) => failures.push(format!("apply: {e}")),
        }
    }
    if want(Suite::Baseline) {
        match baseline::run(&ctx) {
            Ok(r) => report::save(&ctx.results_dir(), "baseline", &r)?,
            Err(e) => failures.push(format!("baseline: {e}")),
        }
    }
    if suite == Suite::RealCloud {
        let file = root.join(real_cloud::RESULTS_FILE);
        if let Err(e) = real_cloud::run(&ctx, |r| report::save_file(&file, r)) {
            failures.push(format!("real cloud: {e}"));
        }
    }
    report::write_report(&root, &root.join(&options.out))?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Setup(format!(
            "some figures could not be measured (the report keeps the previous results of those suites, if any):\n  {}",
            failures.join("\n  ")
        )))
    }
}

/// `release` when this binary was built with `--release`.
fn own_profile() -> String {
    let exe = std::env::current_exe().ok();
    let dir = exe
        .as_deref()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    if dir == "release" {
        "release".into()
    } else {
        "debug".into()
    }
}

/// `cargo run --bin azmove-bench` builds only this binary: make sure the
/// `azmove` next to it is built from the same sources.
fn build_azmove(root: &Path, profile: &str) -> Result<PathBuf, BenchError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root)
        .args(["build", "--quiet", "--bin", "azmove"]);
    if profile == "release" {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| BenchError::Spawn {
        program: cargo.to_string_lossy().into_owned(),
        source: e,
    })?;
    if !status.success() {
        return Err(BenchError::Setup(format!(
            "`cargo build --bin azmove` failed ({status}); fix the build or pass --azmove PATH"
        )));
    }
    let exe = std::env::current_exe()
        .map_err(|e| BenchError::Setup(format!("cannot find this binary: {e}")))?;
    let dir = exe
        .parent()
        .ok_or_else(|| BenchError::Setup("this binary has no directory".into()))?;
    let azmove = dir.join(format!("azmove{}", std::env::consts::EXE_SUFFIX));
    if azmove.is_file() {
        Ok(azmove)
    } else {
        Err(BenchError::Setup(format!(
            "{} is missing after the build; pass --azmove PATH",
            azmove.display()
        )))
    }
}

/// GNU time is how CPU time and peak RSS of a child are read; install it
/// (Debian/Ubuntu package `time`) when it is missing and apt is usable.
fn ensure_gnu_time() -> Result<(), BenchError> {
    if Path::new(process::GNU_TIME).is_file() {
        return Ok(());
    }
    eprintln!(
        "azmove-bench: {} is missing; installing the `time` package",
        process::GNU_TIME
    );
    let installed = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "time"])
        .status()
        .is_ok_and(|s| s.success());
    if installed && Path::new(process::GNU_TIME).is_file() {
        Ok(())
    } else {
        Err(BenchError::Setup(format!(
            "{} (GNU time) is needed to measure CPU time and peak memory; install it with `apt-get install time`",
            process::GNU_TIME
        )))
    }
}
