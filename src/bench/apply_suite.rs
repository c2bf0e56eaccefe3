//! Apply: makespan against the lower bound, API requests per moved server
//! at short and at 10× longer snapshots, and the same with naive
//! per-server polling.
//!
//! Every run starts a fresh simulator (apply changes the cloud) and runs
//! `azmove apply --yes` against it as a separate process. The simulator is
//! time-scaled; azmove is told the same scale through its poll intervals,
//! as `--sim` does in-process, and its `requests_per_second` is scaled too,
//! so the run is the real-time run played faster.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::bound::{Bound, Caps, Job, MoveShape, lower_bound, snapshot_move_duration};
use super::fleet::{CloudTimings, Fleet, Group, PlanSettings, PlanShape, SOURCE_AZ, plan_yaml};
use super::machine::RunInfo;
use super::process::{Measured, SimServer, Timed, run_timed};
use super::stats::Summary;
use super::{BenchError, Context, summary_of};
use crate::plan::file::SourceAfter;
use crate::sim::Scenario;

/// Poll interval bounds azmove uses against a real cloud (its defaults).
pub const POLL_MIN: Duration = Duration::from_secs(2);
const POLL_MAX: Duration = Duration::from_secs(30);
/// "Every few seconds": the naive baseline checks each server and image this often.
const NAIVE_INTERVAL: Duration = Duration::from_secs(2);
/// requests_per_second of the plans, in cloud time (azmove's default).
const RPS: f64 = 10.0;

/// One measured configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyRow {
    /// `makespan`, `short`, `long`, `naive-short`, `naive-long`.
    pub id: String,
    pub label: String,
    pub servers: usize,
    /// How azmove waited: shared list polls or one GET per object.
    pub polling: String,
    pub time_scale: f64,
    pub concurrency: u32,
    pub per_az: BTreeMap<String, u32>,
    /// Cloud seconds of one snapshot and of one whole move.
    pub snapshot_s: f64,
    pub move_s: f64,
    /// In cloud seconds.
    pub bound: Bound,
    /// The bound in wall seconds (cloud seconds / time scale).
    pub bound_wall_s: f64,
    /// The engine's run time (the report's `elapsed_s`: first step to last).
    pub makespan_s: Summary,
    pub ratio: Summary,
    /// The whole `azmove apply` process, planning included.
    pub process_wall_s: Summary,
    pub cpu_s: Summary,
    pub rss_mib: Summary,
    /// Every request the simulator received during the process.
    pub requests: Summary,
    pub requests_per_server: Summary,
    pub max_requests_per_second: Summary,
    /// Largest over the runs, as counted by the simulator.
    pub max_in_flight: u64,
    pub max_in_flight_by_source_az: BTreeMap<String, u64>,
    pub max_in_flight_by_target_az: BTreeMap<String, u64>,
    /// Requests per API and per route in the last run.
    pub apis: BTreeMap<String, u64>,
    pub routes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyResults {
    pub info: RunInfo,
    pub rows: Vec<ApplyRow>,
}

/// A configuration to measure.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: &'static str,
    pub label: String,
    pub fleet: Fleet,
    pub settings: PlanSettings,
    pub naive: bool,
}

/// Root disk of the moved servers: a 10 GB snapshot uploads in 102 s at
/// 100 MB/s, in the range of real small servers, so the cloud's operations
/// (not a poll interval) dominate a move, as they do on a real cloud.
pub const DISK_GB: u64 = 10;

/// Half the servers go to `nova2`, half to `nova3`, each capped at half the
/// concurrency: the engine has to keep both lanes full to reach the bound.
pub fn two_lane_fleet(
    servers: u32,
    time_scale: f64,
    timings: CloudTimings,
    description: String,
) -> Fleet {
    let a = servers / 2;
    Fleet {
        description,
        seed: u64::from(servers),
        time_scale,
        timings,
        disk_gb: DISK_GB,
        groups: vec![
            Group::new("lane-a", "app-a-", a, Some("nova2")),
            Group::new("lane-b", "app-b-", servers - a, Some("nova3")),
        ],
    }
}

pub fn two_lane_settings(time_scale: f64) -> PlanSettings {
    PlanSettings {
        concurrency: 20,
        per_az: BTreeMap::from([
            (SOURCE_AZ.to_string(), 20),
            ("nova2".to_string(), 10),
            ("nova3".to_string(), 10),
        ]),
        requests_per_second: RPS * time_scale,
        stop_before_snapshot: true,
        source_after: SourceAfter::Delete,
    }
}

/// The configurations of this suite, in the order they run.
pub fn cases(ctx: &Context) -> Vec<Case> {
    let ts = ctx.options.time_scale;
    let n = ctx.options.compare_servers;
    let short = CloudTimings::typical();
    let long = short.with_snapshots_slower(10.0);
    let settings = two_lane_settings(ts);
    let mts = ctx.options.makespan_time_scale;
    let mut v = vec![Case {
        id: "makespan",
        label: format!("{} servers, short snapshots", ctx.options.apply_servers),
        fleet: two_lane_fleet(
            ctx.options.apply_servers,
            mts,
            short,
            "apply makespan against the lower bound".into(),
        ),
        settings: two_lane_settings(mts),
        naive: false,
    }];
    for (naive, prefix) in [(false, ""), (true, "naive-")] {
        for (timings, kind) in [(short, "short"), (long, "long")] {
            let id = match (naive, kind) {
                (false, "short") => "short",
                (false, _) => "long",
                (true, "short") => "naive-short",
                (true, _) => "naive-long",
            };
            v.push(Case {
                id,
                label: format!(
                    "{n} servers, {kind} snapshots{}",
                    if naive { ", naive polling" } else { "" }
                ),
                fleet: two_lane_fleet(
                    n,
                    ts,
                    timings,
                    format!("{prefix}{kind} snapshots, {n} servers"),
                ),
                settings: settings.clone(),
                naive,
            });
        }
    }
    v
}

pub fn run(ctx: &Context) -> Result<ApplyResults, BenchError> {
    let mut info = ctx.run_info();
    let mut rows = Vec::new();
    for case in cases(ctx) {
        rows.push(run_case(ctx, &case)?);
    }
    info.finish();
    Ok(ApplyResults { info, rows })
}

/// The bound of a case, from the timings the simulator itself reads.
pub fn case_bound(
    fleet: &Fleet,
    settings: &PlanSettings,
    scenario_yaml: &str,
) -> Result<(Bound, f64, f64), BenchError> {
    let scenario = Scenario::from_yaml(scenario_yaml)
        .map_err(|e| BenchError::Setup(format!("the generated scenario does not load: {e}")))?;
    let shape = MoveShape {
        disk_gb: fleet.disk_gb,
        active: true,
        stop_before_snapshot: settings.stop_before_snapshot,
        source_after: settings.source_after,
    };
    let move_s = snapshot_move_duration(&scenario.timings, &shape).as_secs_f64();
    let snapshot_s = snapshot_move_duration(
        &scenario.timings,
        &MoveShape {
            active: false,
            source_after: SourceAfter::Keep,
            ..shape
        },
    )
    .saturating_sub(scenario.timings.boot)
    .as_secs_f64();
    let jobs: Vec<Job> = fleet
        .groups
        .iter()
        .filter_map(|g| g.to.as_ref().map(|to| (g, to)))
        .flat_map(|(g, to)| {
            (0..g.count).map(move |_| Job {
                duration: move_s,
                azs: vec![SOURCE_AZ.to_string(), to.clone()],
                after: Vec::new(),
            })
        })
        .collect();
    let caps = Caps {
        concurrency: settings.concurrency as usize,
        per_az: settings
            .per_az
            .iter()
            .map(|(k, v)| (k.clone(), *v as usize))
            .collect(),
    };
    let bound =
        lower_bound(&jobs, &caps).map_err(|e| BenchError::Setup(format!("lower bound: {e}")))?;
    Ok((bound, move_s, snapshot_s))
}

struct RunFigures {
    timed: Timed,
    makespan_s: f64,
    requests: u64,
    max_rps: u64,
    stats: super::process::SimStats,
    apis: BTreeMap<String, u64>,
    routes: BTreeMap<String, u64>,
}

fn run_case(ctx: &Context, case: &Case) -> Result<ApplyRow, BenchError> {
    let ts = case.fleet.time_scale;
    let dir = ctx.dir(&format!("apply-{}", case.id))?;
    let scenario_text = case.fleet.scenario_yaml();
    let scenario = dir.join("cloud.yaml");
    write(&scenario, &scenario_text)?;
    let plan = dir.join("plan.yaml");
    write(
        &plan,
        &plan_yaml(&case.fleet, PlanShape::Select, &case.settings),
    )?;
    let (bound, move_s, snapshot_s) = case_bound(&case.fleet, &case.settings, &scenario_text)?;
    let bound_wall_s = bound.bound / ts;
    let servers = case.fleet.to_move();
    let polling_args: Vec<OsString> = if case.naive {
        vec![
            "--naive-poll".into(),
            millis(NAIVE_INTERVAL.div_f64(ts)).into(),
        ]
    } else {
        vec![
            "--poll-min".into(),
            millis(POLL_MIN.div_f64(ts)).into(),
            "--poll-max".into(),
            millis(POLL_MAX.div_f64(ts)).into(),
        ]
    };
    let mut runs = Vec::new();
    for r in 1..=ctx.options.runs {
        eprintln!(
            "[apply] {} ({}), run {r}/{}: bound {:.1} s wall …",
            case.id, case.label, ctx.options.runs, bound_wall_s
        );
        let f = apply_once(ctx, case, &dir, &scenario, &plan, &polling_args, r)?;
        eprintln!(
            "[apply] {}: makespan {:.1} s ({:.3} × bound), {} requests ({:.1} per server), {:.1} s CPU",
            case.id,
            f.makespan_s,
            f.makespan_s / bound_wall_s,
            f.requests,
            f.requests as f64 / servers as f64,
            f.timed.cpu_s()
        );
        runs.push(f);
    }
    let mut by_source = BTreeMap::new();
    let mut by_target = BTreeMap::new();
    for f in &runs {
        for (az, n) in &f.stats.operations.max_in_flight_by_source_az {
            let e = by_source.entry(az.clone()).or_insert(0);
            *e = (*e).max(*n);
        }
        for (az, n) in &f.stats.operations.max_in_flight_by_target_az {
            let e = by_target.entry(az.clone()).or_insert(0);
            *e = (*e).max(*n);
        }
    }
    Ok(ApplyRow {
        id: case.id.to_string(),
        label: case.label.clone(),
        servers,
        polling: if case.naive {
            format!(
                "naive: one GET per server and image every {} s (cloud time)",
                NAIVE_INTERVAL.as_secs()
            )
        } else {
            "shared list polls (changes-since)".to_string()
        },
        time_scale: ts,
        concurrency: case.settings.concurrency,
        per_az: case.settings.per_az.clone(),
        snapshot_s,
        move_s,
        bound,
        bound_wall_s,
        makespan_s: summary_of(&runs, |f| f.makespan_s)?,
        ratio: summary_of(&runs, |f| f.makespan_s / bound_wall_s)?,
        process_wall_s: summary_of(&runs, |f| f.timed.wall_s)?,
        cpu_s: summary_of(&runs, |f| f.timed.cpu_s())?,
        rss_mib: summary_of(&runs, |f| f.timed.rss_mib())?,
        requests: summary_of(&runs, |f| f.requests as f64)?,
        requests_per_server: summary_of(&runs, |f| f.requests as f64 / servers.max(1) as f64)?,
        max_requests_per_second: summary_of(&runs, |f| f.max_rps as f64)?,
        max_in_flight: runs
            .iter()
            .map(|f| f.stats.operations.max_in_flight)
            .max()
            .unwrap_or(0),
        max_in_flight_by_source_az: by_source,
        max_in_flight_by_target_az: by_target,
        apis: runs.last().map(|f| f.apis.clone()).unwrap_or_default(),
        routes: runs.last().map(|f| f.routes.clone()).unwrap_or_default(),
    })
}

fn apply_once(
    ctx: &Context,
    case: &Case,
    dir: &Path,
    scenario: &Path,
    plan: &Path,
    polling_args: &[OsString],
    run: u32,
) -> Result<RunFigures, BenchError> {
    let sim = SimServer::start(&ctx.azmove, scenario, &dir.join(format!("sim-{run}.log")))?;
    let report = dir.join(format!("report-{run}.json"));
    let mut args: Vec<OsString> = vec![
        "apply".into(),
        plan.as_os_str().to_owned(),
        "--yes".into(),
        "--report".into(),
        report.as_os_str().to_owned(),
        "--journal-dir".into(),
        dir.join(format!("journal-{run}")).into_os_string(),
    ];
    args.extend(polling_args.iter().cloned());
    let before = sim.stats()?;
    let m = Measured {
        program: &ctx.azmove,
        args,
        env: sim.env.clone(),
        cwd: dir,
        stdout: dir.join(format!("apply-{run}.out")),
        stderr: dir.join(format!("apply-{run}.err")),
        time_file: dir.join(format!("apply-{run}.time")),
    };
    let timed = run_timed(&m)?;
    let after = sim.stats()?;
    drop(sim);
    let fail = |detail: String| BenchError::Failed {
        what: format!("azmove apply ({}, run {run})", case.id),
        detail,
        dir: dir.to_path_buf(),
    };
    if !timed.status.success() {
        return Err(fail(format!("it exited with {}", timed.status)));
    }
    let (makespan_s, moved, failed) = read_report(&report)?;
    let servers = case.fleet.to_move();
    if moved != servers || failed != 0 {
        return Err(fail(format!(
            "{moved} of {servers} servers moved, {failed} failed"
        )));
    }
    Ok(RunFigures {
        timed,
        makespan_s,
        requests: after.requests_total.saturating_sub(before.requests_total),
        max_rps: after.max_requests_per_second,
        apis: after.apis_since(&before),
        routes: after.routes_since(&before),
        stats: after,
    })
}

/// `elapsed_s`, `counts.moved` and `counts.failed` of an apply report.
fn read_report(path: &Path) -> Result<(f64, usize, usize), BenchError> {
    let text = std::fs::read_to_string(path).map_err(|e| BenchError::io(path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| BenchError::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    let num = |p: &str| v.pointer(p).and_then(serde_json::Value::as_f64);
    match (
        num("/elapsed_s"),
        num("/counts/moved"),
        num("/counts/failed"),
    ) {
        (Some(e), Some(m), Some(f)) => Ok((e, m as usize, f as usize)),
        _ => Err(BenchError::Setup(format!(
            "{} lacks elapsed_s or counts.moved/failed",
            path.display()
        ))),
    }
}

/// A duration as azmove's duration flags read it.
fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|e| BenchError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_lane_bound_is_work_over_twenty_slots() {
        let fleet = two_lane_fleet(500, 20.0, CloudTimings::typical(), "t".into());
        let settings = two_lane_settings(20.0);
        let (bound, move_s, snapshot_s) =
            case_bound(&fleet, &settings, &fleet.scenario_yaml()).unwrap();
        // stop 10 + snapshot (5 + 10240/100) + boot 30 + delete 5
        assert!((move_s - 152.4).abs() < 1e-6, "{move_s}");
        assert!((snapshot_s - 107.4).abs() < 1e-6, "{snapshot_s}");
        // 500 moves, 20 at once (10 per target AZ): 25 moves back to back.
        assert!((bound.bound - 25.0 * move_s).abs() < 1e-6, "{bound:?}");
        assert!((bound.effective_parallelism - 20.0).abs() < 1e-9);
        assert_eq!(settings.requests_per_second, 200.0);
    }

    #[test]
    fn uneven_fleets_put_the_odd_server_in_the_second_lane() {
        let fleet = two_lane_fleet(5, 1.0, CloudTimings::typical(), "t".into());
        assert_eq!(fleet.groups[0].count, 2);
        assert_eq!(fleet.groups[1].count, 3);
        assert_eq!(fleet.to_move(), 5);
    }

    #[test]
    fn reports_without_counts_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let good = dir.join("good.json");
        std::fs::write(
            &good,
            r#"{"elapsed_s": 12.5, "counts": {"moved": 4, "failed": 0}}"#,
        )
        .unwrap();
        assert_eq!(read_report(&good).unwrap(), (12.5, 4, 0));
        let bad = dir.join("bad.json");
        std::fs::write(&bad, r#"{"elapsed_s": 1}"#).unwrap();
        assert!(read_report(&bad).is_err());
    }

    #[test]
    fn durations_are_passed_in_whole_milliseconds() {
        assert_eq!(millis(Duration::from_secs(2).div_f64(20.0)), "100ms");
        assert_eq!(millis(Duration::from_micros(10)), "1ms");
    }
}
