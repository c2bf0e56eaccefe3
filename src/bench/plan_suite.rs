//! Plan at scale: `azmove plan` for 100, 1,000 and 10,000 servers against
//! a simulator holding that many plus 10% unrelated servers.
//!
//! Targets (docs/benchmarks.md): API requests ≤ ceil(N/1000) + 10, and at
//! 10,000 servers less than 1 s of CPU and 200 MB of peak RSS.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fleet::{CloudTimings, Fleet, Group, PlanSettings, PlanShape, plan_yaml};
use super::machine::RunInfo;
use super::process::{Measured, Observed, SimServer, run_timed};
use super::stats::Summary;
use super::{BenchError, Context, summary_of};
use crate::plan::file::SourceAfter;

/// One size and plan shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    pub servers: usize,
    pub unrelated: usize,
    /// How the plan names its servers.
    pub shape: String,
    pub requests: Summary,
    /// ceil(N / 1000) + 10.
    pub request_target: u64,
    pub wall_s: Summary,
    pub cpu_s: Summary,
    pub rss_mib: Summary,
    /// Time azmove itself logs for reading the cloud and for planning
    /// (`observe_ms`, `plan_ms`); the rest of the wall time is start-up,
    /// authentication and rendering.
    #[serde(default)]
    pub observe_ms: Option<Summary>,
    #[serde(default)]
    pub plan_ms: Option<Summary>,
    /// Requests per route in the last run.
    pub routes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanResults {
    pub info: RunInfo,
    pub rows: Vec<PlanRow>,
}

pub fn request_target(servers: usize) -> u64 {
    (servers as u64).div_ceil(1000) + 10
}

pub fn run(ctx: &Context) -> Result<PlanResults, BenchError> {
    let mut info = ctx.run_info();
    let mut rows = Vec::new();
    for &n in &ctx.options.sizes {
        let unrelated = n.div_ceil(10);
        let fleet = Fleet {
            description: format!(
                "plan at scale, {n} servers to move and {unrelated} unrelated ones"
            ),
            seed: u64::from(n),
            time_scale: 1.0,
            timings: CloudTimings::typical(),
            disk_gb: 1,
            groups: vec![
                Group::new("fleet", "app-", n, Some("nova2")),
                Group::new("other", "other-", unrelated, None),
            ],
        };
        let dir = ctx.dir(&format!("plan-{n}"))?;
        let scenario = dir.join("cloud.yaml");
        write(&scenario, &fleet.scenario_yaml())?;
        let settings = PlanSettings {
            concurrency: 20,
            per_az: BTreeMap::new(),
            // High enough that the client's own rate limiter never waits:
            // this measures the work, not the configured politeness.
            requests_per_second: 1000.0,
            stop_before_snapshot: true,
            source_after: SourceAfter::Keep,
        };
        eprintln!("[plan] {n} servers (+{unrelated} unrelated): starting the simulator");
        let sim = SimServer::start(&ctx.azmove, &scenario, &dir.join("sim.log"))?;
        for shape in [PlanShape::List, PlanShape::Select] {
            let tag = match shape {
                PlanShape::List => "list",
                PlanShape::Select => "select",
            };
            let plan = dir.join(format!("plan-{tag}.yaml"));
            write(&plan, &plan_yaml(&fleet, shape, &settings))?;
            // One unrecorded run first, so that every recorded run finds the
            // binary and the files in the page cache.
            plan_once(ctx, &sim, &plan, &dir, &format!("{tag}-warmup"), n as usize)?;
            let mut runs = Vec::new();
            for r in 1..=ctx.options.runs {
                let o = plan_once(ctx, &sim, &plan, &dir, &format!("{tag}-{r}"), n as usize)?;
                let phases = logged_phases(&dir.join(format!("plan-{tag}-{r}.err")));
                eprintln!(
                    "[plan] {n} servers, {tag}, run {r}/{}: {} requests, {:.2} s wall, {:.2} s CPU, {:.0} MiB",
                    ctx.options.runs,
                    o.requests,
                    o.timed.wall_s,
                    o.timed.cpu_s(),
                    o.timed.rss_mib()
                );
                runs.push((o, phases));
            }
            rows.push(row(n as usize, unrelated as usize, shape, &runs)?);
        }
        drop(sim);
    }
    info.finish();
    Ok(PlanResults { info, rows })
}

fn row(
    servers: usize,
    unrelated: usize,
    shape: PlanShape,
    runs: &[(Observed, Option<(f64, f64)>)],
) -> Result<PlanRow, BenchError> {
    let phases: Vec<(f64, f64)> = runs.iter().filter_map(|r| r.1).collect();
    let all_logged = phases.len() == runs.len();
    Ok(PlanRow {
        servers,
        unrelated,
        shape: shape.label().to_string(),
        requests: summary_of(runs, |r| r.0.requests as f64)?,
        request_target: request_target(servers),
        wall_s: summary_of(runs, |r| r.0.timed.wall_s)?,
        cpu_s: summary_of(runs, |r| r.0.timed.cpu_s())?,
        rss_mib: summary_of(runs, |r| r.0.timed.rss_mib())?,
        observe_ms: all_logged
            .then(|| summary_of(&phases, |p| p.0).ok())
            .flatten(),
        plan_ms: all_logged
            .then(|| summary_of(&phases, |p| p.1).ok())
            .flatten(),
        routes: runs.last().map(|r| r.0.routes.clone()).unwrap_or_default(),
    })
}

/// `observe_ms` and `plan_ms` of the "planned" line azmove logs with
/// `-v --log-format json`; `None` if it is not there.
fn logged_phases(stderr: &Path) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(stderr).ok()?;
    text.lines().find_map(|line| {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let fields = v.get("fields")?;
        if fields.get("message")?.as_str()? != "planned" {
            return None;
        }
        Some((
            fields.get("observe_ms")?.as_f64()?,
            fields.get("plan_ms")?.as_f64()?,
        ))
    })
}

/// One `azmove plan`, with the requests the simulator saw during it.
fn plan_once(
    ctx: &Context,
    sim: &SimServer,
    plan: &Path,
    dir: &Path,
    tag: &str,
    expected: usize,
) -> Result<Observed, BenchError> {
    let before = sim.stats()?;
    let m = Measured {
        program: &ctx.azmove,
        // Info-level JSON logs add a handful of lines and give the phases.
        args: vec![
            "-v".into(),
            "--log-format".into(),
            "json".into(),
            "plan".into(),
            plan.as_os_str().to_owned(),
        ],
        env: sim.env.clone(),
        cwd: dir,
        stdout: dir.join(format!("plan-{tag}.out")),
        stderr: dir.join(format!("plan-{tag}.err")),
        time_file: dir.join(format!("plan-{tag}.time")),
    };
    let timed = run_timed(&m)?;
    let after = sim.stats()?;
    let fail = |detail: String| BenchError::Failed {
        what: format!("azmove plan {}", plan.display()),
        detail,
        dir: dir.to_path_buf(),
    };
    if !timed.status.success() {
        return Err(fail(format!("it exited with {}", timed.status)));
    }
    let out = std::fs::read_to_string(&m.stdout).map_err(|e| BenchError::io(&m.stdout, e))?;
    match planned_moves(&out) {
        Some(n) if n == expected => {}
        Some(n) => return Err(fail(format!("it planned {n} moves, not {expected}"))),
        None => return Err(fail("its output has no `Plan: N to move` summary".into())),
    }
    Ok(Observed::between(timed, &before, &after))
}

/// N of the `Plan: N to move, …` summary line.
fn planned_moves(text: &str) -> Option<usize> {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("Plan: "))
        .and_then(|rest| rest.split_once(" to move"))
        .and_then(|(n, _)| n.trim().parse().ok())
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|e| BenchError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_target_grows_with_pages_of_a_thousand() {
        assert_eq!(request_target(100), 11);
        assert_eq!(request_target(1000), 11);
        assert_eq!(request_target(10_000), 20);
        assert_eq!(request_target(10_001), 21);
    }

    #[test]
    fn the_phases_come_from_the_planned_log_line() {
        let tmp = tempfile::tempdir().unwrap();
        let err = tmp.path().join("plan.err");
        std::fs::write(
            &err,
            concat!(
                r#"{"level":"INFO","fields":{"message":"connected"}}"#,
                "\n",
                r#"{"level":"INFO","fields":{"message":"planned","observe_ms":378,"plan_ms":272}}"#,
                "\n"
            ),
        )
        .unwrap();
        assert_eq!(logged_phases(&err), Some((378.0, 272.0)));
        std::fs::write(&err, "not json\n").unwrap();
        assert_eq!(logged_phases(&err), None);
    }

    #[test]
    fn the_summary_line_gives_the_number_of_moves() {
        let out = "~ a\n~ b\n\nPlan: 2 to move, 0 unchanged, 0 blocked.\n";
        assert_eq!(planned_moves(out), Some(2));
        assert_eq!(planned_moves("Plan: 10000 to move.\n"), Some(10_000));
        assert_eq!(planned_moves("nothing here\n"), None);
    }
}
