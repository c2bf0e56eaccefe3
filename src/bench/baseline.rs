//! The seed procedure as a user would script it with the `openstack` CLI
//! (benches/baseline/seed-procedure.sh), one server after another, against
//! the same time-scaled simulator and scenario azmove is measured on.
//!
//! The procedure is strictly sequential, so its time per server is the
//! same whether it moves 5 servers or 100: each run moves
//! `--baseline-servers` of them and the figure for the whole scenario is
//! that time per server times the scenario's servers (stated as such in
//! the report). The CLI's own start-up (~2 s per call) is part of the
//! figure: it is what the user pays.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::apply_suite::{case_bound, two_lane_fleet, two_lane_settings};
use super::fleet::{CloudTimings, Fleet, PlanSettings, source_after_word};
use super::machine::RunInfo;
use super::process::{Measured, Observed, SimServer, run_timed};
use super::stats::Summary;
use super::{BenchError, Context, summary_of};

/// The python-openstackclient release the baseline uses (as tests/fidelity).
pub const OSC_VERSION: &str = "10.5.0";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineResults {
    pub info: RunInfo,
    /// `openstack --version`.
    pub cli: String,
    /// Servers in the scenario (the azmove comparison moves all of them).
    pub scenario_servers: usize,
    /// Servers the script moved per run.
    pub servers_per_run: usize,
    pub time_scale: f64,
    /// Cloud seconds of one move's operations.
    pub move_s: f64,
    pub source_after: String,
    pub wall_s: Summary,
    pub per_server_s: Summary,
    pub cpu_s: Summary,
    pub requests_per_server: Summary,
    /// Requests per API and per route in the last run.
    pub apis: BTreeMap<String, u64>,
    pub routes: BTreeMap<String, u64>,
}

/// The scenario of the comparison: the same as apply's `short` case.
pub fn comparison_fleet(ctx: &Context) -> (Fleet, PlanSettings) {
    let n = ctx.options.compare_servers;
    let fleet = two_lane_fleet(
        n,
        ctx.options.time_scale,
        CloudTimings::typical(),
        format!("short snapshots, {n} servers"),
    );
    (fleet, two_lane_settings(ctx.options.time_scale))
}

pub fn run(ctx: &Context) -> Result<BaselineResults, BenchError> {
    let mut info = ctx.run_info();
    let openstack = openstack_cli(ctx)?;
    let cli = version_of(&openstack).unwrap_or_else(|| "unknown".into());
    let (fleet, settings) = comparison_fleet(ctx);
    let dir = ctx.dir("baseline")?;
    let scenario_text = fleet.scenario_yaml();
    let scenario = dir.join("cloud.yaml");
    std::fs::write(&scenario, &scenario_text).map_err(|e| BenchError::io(&scenario, e))?;
    let (_, move_s, _) = case_bound(&fleet, &settings, &scenario_text)?;
    // Alternate the lanes, as the whole scenario does.
    let per_run = (ctx.options.baseline_servers as usize).clamp(1, fleet.to_move());
    let lanes: Vec<Vec<(String, String)>> = fleet
        .groups
        .iter()
        .filter_map(|g| {
            g.to.as_ref()
                .map(|to| g.names().map(|n| (n, to.clone())).collect())
        })
        .collect();
    let longest = lanes.iter().map(Vec::len).max().unwrap_or(0);
    let mut pairs: Vec<String> = (0..longest)
        .flat_map(|i| lanes.iter().filter_map(move |l| l.get(i)))
        .map(|(name, to)| format!("{name}:{to}"))
        .collect();
    pairs.truncate(per_run);
    let python = openstack
        .parent()
        .map(|d| d.join("python3"))
        .filter(|p| p.is_file());
    let script = ctx.root.join("benches/baseline/seed-procedure.sh");
    let mut runs = Vec::new();
    for r in 1..=ctx.options.runs {
        eprintln!(
            "[baseline] run {r}/{}: the openstack CLI moves {} servers one by one …",
            ctx.options.runs,
            pairs.len()
        );
        let sim = SimServer::start(&ctx.azmove, &scenario, &dir.join(format!("sim-{r}.log")))?;
        let mut env = sim.env.clone();
        env.push(("OPENSTACK".into(), openstack.display().to_string()));
        if let Some(p) = &python {
            env.push(("PYTHON".into(), p.display().to_string()));
        }
        let mut args: Vec<OsString> = vec![
            script.as_os_str().to_owned(),
            "--source-after".into(),
            source_after_word(settings.source_after).into(),
        ];
        args.extend(pairs.iter().map(OsString::from));
        let before = sim.stats()?;
        let m = Measured {
            program: Path::new("bash"),
            args,
            env,
            cwd: &dir,
            stdout: dir.join(format!("run-{r}.out")),
            stderr: dir.join(format!("run-{r}.err")),
            time_file: dir.join(format!("run-{r}.time")),
        };
        let timed = run_timed(&m)?;
        let after = sim.stats()?;
        drop(sim);
        if !timed.status.success() {
            return Err(BenchError::Failed {
                what: "the seed procedure".into(),
                detail: format!("it exited with {}", timed.status),
                dir: dir.clone(),
            });
        }
        let o = Observed::between(timed, &before, &after);
        eprintln!(
            "[baseline] {:.1} s for {} servers ({:.1} s per server), {} requests",
            o.timed.wall_s,
            pairs.len(),
            o.timed.wall_s / pairs.len() as f64,
            o.requests
        );
        runs.push(o);
    }
    let n = pairs.len() as f64;
    info.finish();
    Ok(BaselineResults {
        info,
        cli,
        scenario_servers: fleet.to_move(),
        servers_per_run: pairs.len(),
        time_scale: ctx.options.time_scale,
        move_s,
        source_after: source_after_word(settings.source_after).into(),
        wall_s: summary_of(&runs, |r| r.timed.wall_s)?,
        per_server_s: summary_of(&runs, |r| r.timed.wall_s / n)?,
        cpu_s: summary_of(&runs, |r| r.timed.cpu_s())?,
        requests_per_server: summary_of(&runs, |r| r.requests as f64 / n)?,
        apis: runs.last().map(|r| r.apis.clone()).unwrap_or_default(),
        routes: runs.last().map(|r| r.routes.clone()).unwrap_or_default(),
    })
}

/// The `openstack` executable: `--openstack`, else a venv under target/
/// holding python-openstackclient [`OSC_VERSION`] (the one tests/fidelity
/// made, or a new one).
fn openstack_cli(ctx: &Context) -> Result<PathBuf, BenchError> {
    if let Some(p) = &ctx.options.openstack {
        return Ok(p.clone());
    }
    let bench_venv = ctx.root.join("target/bench/venv");
    for venv in [bench_venv.clone(), ctx.root.join("target/fidelity/venv")] {
        let exe = venv.join("bin/openstack");
        if exe.is_file() && version_of(&exe).is_some_and(|v| v.ends_with(OSC_VERSION)) {
            return Ok(exe);
        }
    }
    eprintln!(
        "[baseline] installing python-openstackclient {OSC_VERSION} in {}",
        bench_venv.display()
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .arg("-m")
        .arg("venv")
        .arg(&bench_venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(bench_venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("python-openstackclient=={OSC_VERSION}"))
            .status()
            .is_ok_and(|s| s.success());
    let exe = bench_venv.join("bin/openstack");
    if ok && exe.is_file() {
        Ok(exe)
    } else {
        Err(BenchError::Setup(format!(
            "could not install python-openstackclient {OSC_VERSION} in {} (needs python3 with venv and network access to PyPI); pass --openstack PATH to use another",
            bench_venv.display()
        )))
    }
}

fn version_of(openstack: &Path) -> Option<String> {
    let out = Command::new(openstack).arg("--version").output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    let v = String::from_utf8_lossy(&text).trim().to_string();
    (out.status.success() && !v.is_empty()).then_some(v)
}
