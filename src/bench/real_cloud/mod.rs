//! `azmove-bench real-cloud`: azmove against the real OpenStack of
//! `tests/cloud` (started beforehand with `tests/cloud/cloud up`), where
//! Nova's own records say how much of apply's wall time was the cloud
//! working and how much was azmove making it wait.
//!
//! For each strategy and fleet size N: boot N fresh servers in AZ `nova`
//! (not timed), run the real `azmove apply` on a generated plan with
//! concurrency N (timed, under GNU time), read each move's instance
//! actions from Nova ([`actions`]), delete everything the run made. Then
//! the seed procedure with the `openstack` CLI (`tests/cloud/seed-baseline.sh`)
//! on the same number of servers, measured, not extrapolated.
//!
//! The cloud-side steps are `tests/cloud/bench-cloud.py`, run with the
//! harness venv's python: booting and cleaning up are the SDK's job.

pub mod actions;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::machine::RunInfo;
use super::process::{Measured, Timed, run_timed};
use super::stats::Summary;
use super::{BenchError, Context};

/// Where the results are kept (committed: the page's headline figures).
pub const RESULTS_FILE: &str = "benches/real-cloud.json";

/// One strategy and the user it runs as — the one `auto` would choose:
/// live migration needs the admin role, shelve and snapshot do not.
#[derive(Debug, Clone, Copy)]
struct Strategy {
    name: &'static str,
    user: &'static str,
    /// Extra `defaults:` lines of the plan.
    defaults: &'static str,
}

const STRATEGIES: [Strategy; 3] = [
    Strategy {
        name: "snapshot",
        user: "member",
        defaults: "  stop_before_snapshot: true\n  source_after: delete\n",
    },
    Strategy {
        name: "shelve",
        user: "member",
        defaults: "",
    },
    Strategy {
        name: "live",
        user: "admin",
        defaults: "",
    },
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealCloudResults {
    pub info: RunInfo,
    /// The harness state directory the cloud ran from.
    pub cloud_dir: String,
    pub rows: Vec<Row>,
    /// The `openstack` CLI procedure, when it was measured.
    pub seed: Option<SeedRow>,
    /// The steps that failed, and why.
    #[serde(default)]
    pub not_measured: Vec<String>,
}

/// One `azmove apply` of N servers with one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub strategy: String,
    /// `member` or `admin`.
    pub user: String,
    pub servers: usize,
    pub concurrency: usize,
    /// The whole `azmove apply` process.
    pub wall_s: f64,
    pub cpu_s: f64,
    /// The engine's run (the report's `elapsed_s`: first step to last).
    pub engine_s: f64,
    /// The rest of the process: start-up, authentication, reading the
    /// cloud and planning, writing the report.
    pub planning_s: f64,
    /// Nova's busy time per moved server.
    pub busy_s: Summary,
    /// The longest per-server busy chain.
    pub longest_chain_s: f64,
    /// Idle time between consecutive Nova actions of a move, over all
    /// moves; `None` when every move was one action (live migration).
    pub gap_s: Option<Summary>,
    /// wall / (longest chain + planning).
    pub ratio: f64,
    /// How often each Nova action was seen during the run.
    pub actions: BTreeMap<String, usize>,
}

/// The seed procedure with the `openstack` CLI, one server after another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedRow {
    pub servers: usize,
    pub wall_s: f64,
}

impl RealCloudResults {
    /// The snapshot row the CLI procedure compares with.
    pub fn snapshot_row(&self, servers: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.strategy == "snapshot" && r.servers == servers)
    }
}

/// Everything a run needs from the harness.
struct Cloud {
    dir: PathBuf,
    python: PathBuf,
    script: PathBuf,
}

impl Cloud {
    fn find(ctx: &Context) -> Result<Cloud, BenchError> {
        let dir = ctx
            .options
            .cloud_dir
            .clone()
            .unwrap_or_else(|| ctx.root.join("target/minicloud"));
        if !dir.join("clouds.yaml").is_file() {
            return Err(BenchError::Setup(format!(
                "no cloud in {} (start it with `tests/cloud/cloud up`, or pass --cloud-dir)",
                dir.display()
            )));
        }
        Ok(Cloud {
            python: dir.join("venv/bin/python"),
            script: ctx.root.join("tests/cloud/bench-cloud.py"),
            dir,
        })
    }

    fn env(&self, user: &str) -> Vec<(String, String)> {
        vec![
            (
                "OS_CLIENT_CONFIG_FILE".into(),
                self.dir.join("clouds.yaml").display().to_string(),
            ),
            ("OS_CLOUD".into(), user.into()),
        ]
    }

    /// One `bench-cloud.py` command as `user`; its JSON answer.
    fn call(&self, user: &str, args: &[&str]) -> Result<Value, BenchError> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.script).args(args).envs(self.env(user));
        let out = cmd.output().map_err(|e| BenchError::Spawn {
            program: self.python.display().to_string(),
            source: e,
        })?;
        let what = format!("bench-cloud.py {}", args.first().unwrap_or(&""));
        if !out.status.success() {
            return Err(BenchError::Setup(format!(
                "{what} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| BenchError::Setup(format!("{what} printed no JSON: {e}")))
    }
}

/// Run every strategy at every size, with the CLI procedure after the
/// first size. A step that fails is noted and the others still run, and
/// the results so far are handed to `save` after every step: half an hour
/// of cloud time is not thrown away for one failure or an interruption.
pub fn run(
    ctx: &Context,
    save: impl Fn(&RealCloudResults) -> Result<(), BenchError>,
) -> Result<RealCloudResults, BenchError> {
    let cloud = Cloud::find(ctx)?;
    let mut results = RealCloudResults {
        info: ctx.run_info(),
        cloud_dir: cloud.dir.display().to_string(),
        rows: Vec::new(),
        seed: None,
        not_measured: Vec::new(),
    };
    for (i, &n) in ctx.options.cloud_servers.iter().enumerate() {
        for s in STRATEGIES {
            eprintln!("azmove-bench: real cloud, {} of {n} servers", s.name);
            match one_apply(ctx, &cloud, s, n as usize) {
                Ok(r) => results.rows.push(r),
                Err(e) => results
                    .not_measured
                    .push(format!("{} of {n} servers: {e}", s.name)),
            }
            results.info.finish();
            save(&results)?;
        }
        let n = ctx.options.seed_servers;
        if i == 0 && n > 0 {
            eprintln!("azmove-bench: real cloud, the `openstack` CLI procedure on {n} servers");
            match seed(ctx, &cloud, n as usize) {
                Ok(r) => results.seed = Some(r),
                Err(e) => results.not_measured.push(format!("the CLI procedure: {e}")),
            }
            results.info.finish();
            save(&results)?;
        }
    }
    for f in &results.not_measured {
        eprintln!("azmove-bench: not measured: {f}");
    }
    if results.rows.is_empty() && results.seed.is_none() {
        return Err(BenchError::Setup(results.not_measured.join("; ")));
    }
    Ok(results)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn plan_yaml(s: Strategy, tag: &str, n: usize) -> String {
    format!(
        "# written by azmove-bench real-cloud\nversion: 1\ndefaults:\n  strategy: {}\n{}limits:\n  concurrency: {n}\n  requests_per_second: 20\nmoves:\n  - select:\n      name: \"{tag}-*\"\n      availability_zone: nova\n    to: nova2\n",
        s.name, s.defaults
    )
}

fn one_apply(ctx: &Context, cloud: &Cloud, s: Strategy, n: usize) -> Result<Row, BenchError> {
    let tag = format!("azbench-{}-{n}-{}", s.name, std::process::id());
    let dir = ctx.dir(&format!("real-{}-{n}", s.name))?;
    let result = boot_apply_measure(ctx, cloud, s, n, &tag, &dir);
    // Whatever happened, nothing the run made is left behind.
    let cleaned = cloud.call(s.user, &["cleanup", &tag]);
    let row = result?;
    cleaned?;
    Ok(row)
}

fn boot_apply_measure(
    ctx: &Context,
    cloud: &Cloud,
    s: Strategy,
    n: usize,
    tag: &str,
    dir: &Path,
) -> Result<Row, BenchError> {
    cloud.call(s.user, &["boot", tag, &n.to_string()])?;
    let plan = dir.join("plan.yaml");
    std::fs::write(&plan, plan_yaml(s, tag, n)).map_err(|e| BenchError::io(&plan, e))?;
    let report = dir.join("report.json");
    let m = Measured {
        program: &ctx.azmove,
        args: vec![
            "--color".into(),
            "never".into(),
            "apply".into(),
            plan.clone().into_os_string(),
            "--os-cloud".into(),
            s.user.into(),
            "--yes".into(),
            "--journal-dir".into(),
            dir.join("journal").into_os_string(),
            "--report".into(),
            report.clone().into_os_string(),
        ],
        env: cloud.env(s.user),
        cwd: dir,
        stdout: dir.join("apply.out"),
        stderr: dir.join("apply.err"),
        time_file: dir.join("apply.time"),
    };
    // Nova's clock keeps whole seconds.
    let since = unix_now().floor();
    let timed = run_timed(&m)?;
    let fail = |detail: String| BenchError::Failed {
        what: format!("azmove apply ({}, {n} servers)", s.name),
        detail,
        dir: dir.to_path_buf(),
    };
    if !timed.status.success() {
        return Err(fail(format!("it exited with {}", timed.status)));
    }
    let text = std::fs::read_to_string(&report).map_err(|e| BenchError::io(&report, e))?;
    let rep: Value = serde_json::from_str(&text).map_err(|e| BenchError::Json {
        path: report.clone(),
        source: e,
    })?;
    let moved = rep["counts"]["moved"].as_u64().unwrap_or(0) as usize;
    if moved != n {
        return Err(fail(format!("{moved} of {n} servers moved")));
    }
    let moves: Vec<Vec<String>> = rep["servers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|srv| {
            ["source_id", "replacement_id"]
                .iter()
                .filter_map(|k| srv[*k].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut ids: Vec<&str> = moves.iter().flatten().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut args = vec!["actions"];
    args.extend(ids);
    // Events are shown in full to admins.
    let recorded = cloud.call("admin", &args)?;
    std::fs::write(dir.join("actions.json"), recorded.to_string())
        .map_err(|e| BenchError::io(&dir.join("actions.json"), e))?;
    let engine_s = rep["elapsed_s"].as_f64().unwrap_or(f64::NAN);
    figures(s, n, &timed, engine_s, &moves, &recorded, since).map_err(fail)
}

/// The row of one run, from its moves (each one's server ids) and Nova's
/// recorded actions of those servers.
fn figures(
    s: Strategy,
    n: usize,
    timed: &Timed,
    engine_s: f64,
    moves: &[Vec<String>],
    recorded: &Value,
    since: f64,
) -> Result<Row, String> {
    let mut busy = Vec::new();
    let mut gaps = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for ids in moves {
        let mut all = Vec::new();
        for id in ids {
            all.extend(actions::parse_actions(&recorded[id.as_str()])?);
        }
        let c = actions::chain(&all, since);
        for a in &c.actions {
            *counts.entry(a.clone()).or_default() += 1;
        }
        busy.push(c.busy_s);
        gaps.extend(c.gaps_s);
    }
    let busy_s = Summary::of(&busy).ok_or("no move was recorded")?;
    let planning_s = timed.wall_s - engine_s;
    Ok(Row {
        strategy: s.name.into(),
        user: s.user.into(),
        servers: n,
        concurrency: n,
        wall_s: timed.wall_s,
        cpu_s: timed.cpu_s(),
        engine_s,
        planning_s,
        busy_s,
        longest_chain_s: busy_s.max,
        gap_s: Summary::of(&gaps),
        ratio: timed.wall_s / (busy_s.max + planning_s),
        actions: counts,
    })
}

/// `tests/cloud/seed-baseline.sh N`, timed by itself (its set-up and
/// clean-up are not part of the figure).
fn seed(ctx: &Context, cloud: &Cloud, n: usize) -> Result<SeedRow, BenchError> {
    let dir = ctx.dir("real-seed")?;
    let script = ctx.root.join("tests/cloud/seed-baseline.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(n.to_string())
        .env("AZMOVE_CLOUD_DIR", &cloud.dir)
        .output()
        .map_err(|e| BenchError::Spawn {
            program: script.display().to_string(),
            source: e,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = dir.join("seed.out");
    std::fs::write(
        &log,
        format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)),
    )
    .map_err(|e| BenchError::io(&log, e))?;
    let total = stdout
        .lines()
        .rev()
        .find_map(|l| l.split("total_s=").nth(1))
        .and_then(|v| v.trim().parse::<f64>().ok());
    match total {
        Some(wall_s) if out.status.success() => Ok(SeedRow { servers: n, wall_s }),
        _ => Err(BenchError::Failed {
            what: format!("tests/cloud/seed-baseline.sh {n}"),
            detail: format!("it exited with {} and no total", out.status),
            dir,
        }),
    }
}
