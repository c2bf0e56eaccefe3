//! Results files (benches/results/<suite>.json for the simulator, one per
//! suite, so that suites can be re-run one at a time; benches/real-cloud.json
//! for the real cloud) and docs/benchmarks.md, written from whichever
//! results exist. Targets are judged here, in one place, on every row, and
//! a figure that was not measured says so.

mod real_cloud;

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::BenchError;
use super::apply_suite::{ApplyResults, ApplyRow};
use super::baseline::BaselineResults;
use super::machine::RunInfo;
use super::plan_suite::{PlanResults, PlanRow};
use super::real_cloud::{RESULTS_FILE as REAL_CLOUD_RESULTS, RealCloudResults};
use super::stats::Summary;

/// Requests per moved server azmove should stay under.
pub const REQUESTS_PER_SERVER_TARGET: f64 = 8.0;
/// "Flat": 10× longer snapshots may cost at most this much more per server.
pub const FLAT_TOLERANCE: f64 = 1.25;
pub const MAKESPAN_TARGET: f64 = 1.05;
pub const SPEEDUP_TARGET: f64 = 20.0;
pub const PLAN_CPU_TARGET_S: f64 = 1.0;
pub const PLAN_RSS_TARGET_MB: f64 = 200.0;

/// Where the simulator suites keep their results (committed, so that the
/// page can be rewritten from them).
pub const RESULTS_DIR: &str = "benches/results";
/// Earlier real-cloud figures measured by hand (the CLI procedure at 6
/// servers, the CI job's phases), kept as they were written.
const EARLIER_FILE: &str = "benches/real-cloud.md";
/// The simulator sections as the generator last wrote them, for when their
/// results files are not in benches/results (they were not kept before).
const EARLIER_SIMULATED_FILE: &str = "benches/simulated-2026-11-25.md";

pub fn save<T: Serialize>(dir: &Path, suite: &str, results: &T) -> Result<(), BenchError> {
    save_file(&dir.join(format!("{suite}.json")), results)
}

/// Write `results` as pretty JSON to `path`, creating its directory.
pub fn save_file<T: Serialize>(path: &Path, results: &T) -> Result<(), BenchError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir, e))?;
    }
    let text = serde_json::to_string_pretty(results).map_err(|e| BenchError::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    std::fs::write(path, text + "\n").map_err(|e| BenchError::io(path, e))
}

fn load<T: DeserializeOwned>(dir: &Path, suite: &str) -> Result<Option<T>, BenchError> {
    load_file(&dir.join(format!("{suite}.json")))
}

fn load_file<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, BenchError> {
    let path = path.to_path_buf();
    match std::fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                // Results of an older format: measure again rather than fail.
                eprintln!("azmove-bench: ignoring {}: {e}", path.display());
                Ok(None)
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BenchError::io(&path, e)),
    }
}

/// Everything the report is made from.
#[derive(Debug, Clone, Default)]
pub struct Results {
    pub plan: Option<PlanResults>,
    pub apply: Option<ApplyResults>,
    pub baseline: Option<BaselineResults>,
    pub real_cloud: Option<RealCloudResults>,
    /// Text of the earlier, hand-measured real-cloud figures.
    pub earlier: Option<String>,
    /// The simulator sections of the last page written before their
    /// results were kept.
    pub earlier_simulated: Option<String>,
}

pub fn write_report(root: &Path, out: &Path) -> Result<(), BenchError> {
    let dir = root.join(RESULTS_DIR);
    let results = Results {
        plan: load(&dir, "plan")?,
        apply: load(&dir, "apply")?,
        baseline: load(&dir, "baseline")?,
        real_cloud: load_file(&root.join(REAL_CLOUD_RESULTS))?,
        earlier: std::fs::read_to_string(root.join(EARLIER_FILE)).ok(),
        earlier_simulated: std::fs::read_to_string(root.join(EARLIER_SIMULATED_FILE)).ok(),
    };
    let text = render(&results);
    std::fs::write(out, text).map_err(|e| BenchError::io(out, e))?;
    eprintln!("azmove-bench: wrote {}", out.display());
    Ok(())
}

/// Whether a target is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    NotMeasured,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Met => "**met**",
            Verdict::Missed => "**missed**",
            Verdict::NotMeasured => "not measured",
        }
    }

    fn of(ok: bool) -> Verdict {
        if ok { Verdict::Met } else { Verdict::Missed }
    }
}

fn row<'a>(apply: &'a Option<ApplyResults>, id: &str) -> Option<&'a ApplyRow> {
    apply
        .as_ref()
        .and_then(|a| a.rows.iter().find(|r| r.id == id))
}

/// Speed-up of azmove (whole process, planning included) over the
/// sequential CLI procedure extrapolated to the same servers:
/// worst / median / best.
pub fn speedup(baseline: &BaselineResults, azmove_wall: &Summary) -> Summary {
    let n = baseline.scenario_servers as f64;
    Summary {
        min: baseline.per_server_s.min * n / azmove_wall.max,
        median: baseline.per_server_s.median * n / azmove_wall.median,
        max: baseline.per_server_s.max * n / azmove_wall.min,
        runs: baseline.per_server_s.runs.min(azmove_wall.runs),
    }
}

/// The verdicts, with the figure each one is judged on (medians).
pub fn targets(r: &Results) -> Vec<(String, String, Verdict)> {
    let mut v = real_cloud::targets(&r.real_cloud);
    match &r.plan {
        Some(p) => {
            let over: Vec<&PlanRow> = p
                .rows
                .iter()
                .filter(|x| x.requests.max > x.request_target as f64)
                .collect();
            let mut sizes: Vec<usize> = p.rows.iter().map(|x| x.servers).collect();
            sizes.dedup();
            let figures: Vec<String> = sizes
                .iter()
                .map(|&n| {
                    let worst = p
                        .rows
                        .iter()
                        .filter(|x| x.servers == n)
                        .map(|x| x.requests.median)
                        .fold(0.0, f64::max);
                    format!(
                        "{}: {worst:.0} (≤ {})",
                        thousands(n),
                        super::plan_suite::request_target(n)
                    )
                })
                .collect();
            v.push((
                "simulated plan: API requests ≤ ceil(N/1000) + 10".to_string(),
                figures.join("; "),
                Verdict::of(over.is_empty()),
            ));
            let biggest: Vec<&PlanRow> = p.rows.iter().filter(|x| x.servers >= 10_000).collect();
            if biggest.is_empty() {
                v.push((
                    "simulated plan: CPU < 1 s at 10,000 servers".into(),
                    "no 10,000-server run".into(),
                    Verdict::NotMeasured,
                ));
                v.push((
                    "simulated plan: peak RSS < 200 MB at 10,000 servers".into(),
                    "no 10,000-server run".into(),
                    Verdict::NotMeasured,
                ));
            } else {
                let cpu = biggest.iter().map(|x| x.cpu_s.median).fold(0.0, f64::max);
                let rss = biggest
                    .iter()
                    .map(|x| x.rss_mib.median * 1.048_576)
                    .fold(0.0, f64::max);
                v.push((
                    "simulated plan: CPU < 1 s at 10,000 servers".into(),
                    format!("{cpu:.2} s (worst plan shape)"),
                    Verdict::of(cpu < PLAN_CPU_TARGET_S),
                ));
                v.push((
                    "simulated plan: peak RSS < 200 MB at 10,000 servers".into(),
                    format!("{rss:.0} MB (worst plan shape)"),
                    Verdict::of(rss < PLAN_RSS_TARGET_MB),
                ));
            }
        }
        None => {
            for t in [
                "simulated plan: API requests ≤ ceil(N/1000) + 10",
                "simulated plan: CPU < 1 s at 10,000 servers",
                "simulated plan: peak RSS < 200 MB at 10,000 servers",
            ] {
                v.push((t.into(), "—".into(), Verdict::NotMeasured));
            }
        }
    }
    let apply_rows = r.apply.as_ref().map(|a| a.rows.as_slice()).unwrap_or(&[]);
    for m in apply_rows {
        v.push((
            format!(
                "simulated apply: makespan / lower bound ≤ {MAKESPAN_TARGET} ({}, {} servers, time scale {})",
                m.label, m.servers, m.time_scale
            ),
            format!("{:.3}", m.ratio.median),
            Verdict::of(m.ratio.median <= MAKESPAN_TARGET),
        ));
    }
    if apply_rows.is_empty() {
        v.push((
            format!("simulated apply: makespan / lower bound ≤ {MAKESPAN_TARGET}"),
            "—".into(),
            Verdict::NotMeasured,
        ));
    }
    match (row(&r.apply, "short"), row(&r.apply, "long")) {
        (Some(s), Some(l)) => {
            let (a, b) = (s.requests_per_server.median, l.requests_per_server.median);
            let flat = b <= a * FLAT_TOLERANCE;
            v.push((
                format!("simulated apply: requests per moved server ≤ {REQUESTS_PER_SERVER_TARGET:.0}, flat with 10× longer snapshots (≤ {:.0}% more)", (FLAT_TOLERANCE - 1.0) * 100.0),
                format!("{a:.2} → {b:.2}"),
                Verdict::of(a <= REQUESTS_PER_SERVER_TARGET && b <= REQUESTS_PER_SERVER_TARGET && flat),
            ));
        }
        _ => v.push((
            format!("simulated apply: requests per moved server ≤ {REQUESTS_PER_SERVER_TARGET:.0} and flat"),
            "—".into(),
            Verdict::NotMeasured,
        )),
    }
    match (&r.baseline, row(&r.apply, "short")) {
        (Some(b), Some(s)) => {
            let sp = speedup(b, &s.process_wall_s);
            v.push((
                format!("simulated speed-up over the `openstack` CLI procedure ≥ {SPEEDUP_TARGET:.0}× ({} servers, concurrency {})", b.scenario_servers, s.concurrency),
                format!("{:.0}×", sp.median),
                Verdict::of(sp.median >= SPEEDUP_TARGET),
            ));
        }
        _ => v.push((
            format!("simulated speed-up over the `openstack` CLI procedure ≥ {SPEEDUP_TARGET:.0}×"),
            "—".into(),
            Verdict::NotMeasured,
        )),
    }
    v
}

pub fn render(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "<!-- Written by azmove-bench (src/bench/) from benches/real-cloud.json and benches/results/; change the generator or re-measure, not this file. -->\n"
    );
    let _ = writeln!(
        s,
        "The headline figures are measured against a real OpenStack (section *Real cloud*, `-- real-cloud`). \
The sections after it are **simulated**: azmove against its own simulator running faster than real time; \
each says at which time scale, with the real-speed figure beside it.\n"
    );
    let _ = writeln!(
        s,
        "Every figure on this page is reproduced by one command per part, from the repository: \
`cargo run --bin azmove-bench -- real-cloud` with the test cloud up (below), and for the simulated \
sections:\n"
    );
    let _ = writeln!(
        s,
        "```sh\ncargo run --release --bin azmove-bench -- all\n```\n"
    );
    let _ = writeln!(
        s,
        "Each suite also runs alone (`-- plan`, `-- apply`, `-- baseline`; `--runs N`, `--time-scale X`, \
`--help` for the rest), and `-- report` rewrites this page from the last results of every suite \
(kept in `benches/results/` and `benches/real-cloud.json`, with the date, machine and commit). Scenarios and plans are generated at run time and kept, with every \
process's output, under `target/bench/`.\n"
    );
    let _ = writeln!(
        s,
        "How it measures: the simulated cloud runs as its own process (`azmove sim serve`); azmove and the \
baselines run as child processes pointed at it with `OS_*` variables, each under GNU time, which gives the \
child's own CPU time (user + system) and peak RSS. API requests are counted by the simulator \
(`GET /_sim/stats`, read before and after each run), not by the client being measured. Each figure is \
**min / median / max over the runs** (a single value when every run gave the same). The machine was shared \
with other work while measuring (see the load averages): ratios are the headline, absolute seconds are \
context.\n"
    );
    let _ = writeln!(s, "## Targets\n");
    let _ = writeln!(s, "| target | measured (median) | |\n|---|---|---|");
    for (t, m, verdict) in targets(r) {
        let _ = writeln!(s, "| {t} | {m} | {} |", verdict.word());
    }
    let _ = writeln!(s);
    misses(&mut s, r);
    real_cloud::section(&mut s, &r.real_cloud);
    let _ = writeln!(s, "## Simulated runs\n");
    runs_table(&mut s, r);
    plan_section(&mut s, r);
    apply_section(&mut s, r);
    requests_section(&mut s, r);
    baseline_section(&mut s, r);
    if r.plan.is_none() && r.apply.is_none() && r.baseline.is_none() {
        if let Some(text) = &r.earlier_simulated {
            let _ = writeln!(
                s,
                "## Simulated, as measured earlier (their results files were not kept)\n\n{}\n",
                text.trim_end()
            );
        }
    }
    if let Some(text) = &r.earlier {
        let _ = writeln!(
            s,
            "## Earlier real-cloud measurements (by hand, {EARLIER_FILE})\n\n{}",
            text.trim_end()
        );
    }
    s
}

fn runs_table(s: &mut String, r: &Results) {
    let mut infos: Vec<(&str, &RunInfo)> = Vec::new();
    if let Some(p) = &r.plan {
        infos.push(("plan", &p.info));
    }
    if let Some(a) = &r.apply {
        infos.push(("apply", &a.info));
    }
    if let Some(b) = &r.baseline {
        infos.push(("baseline", &b.info));
    }
    if infos.is_empty() {
        let _ = writeln!(
            s,
            "No simulator suite's results are in {RESULTS_DIR}/: its figures below are \"not measured\".\n"
        );
        return;
    }
    let _ = writeln!(
        s,
        "| suite | measured (UTC) | command | build | commit | load average at start → end (1/5/15 min) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for (name, i) in &infos {
        let _ = writeln!(
            s,
            "| {name} | {} | `{}` | {} | {} | {} → {} |",
            i.date, i.command, i.profile, i.commit, i.load_start, i.load_end
        );
    }
    let first = infos[0].1;
    let _ = writeln!(
        s,
        "\nMachine: {} — `nproc` = {}, {:.1} GiB RAM, {}, {}.\n",
        first.cpu_model, first.nproc, first.memory_gib, first.os, first.rustc
    );
}

fn misses(s: &mut String, r: &Results) {
    let missed: Vec<(String, String, Verdict)> = targets(r)
        .into_iter()
        .filter(|t| t.2 == Verdict::Missed)
        .collect();
    if missed.is_empty() {
        return;
    }
    let _ = writeln!(s, "Missed targets, and what the figures say about why:\n");
    for (t, m, _) in missed {
        let why = if t.starts_with("simulated apply: makespan") {
            row(&r.apply, "makespan")
                .map(makespan_gap)
                .unwrap_or_default()
        } else if t.starts_with("simulated apply: requests") {
            request_split(
                &[
                    row(&r.apply, "short"),
                    row(&r.apply, "long"),
                    row(&r.apply, "makespan"),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
            )
        } else if t.starts_with("simulated plan: CPU") || t.starts_with("simulated plan: peak RSS")
        {
            r.plan.as_ref().map(plan_cpu_split).unwrap_or_default()
        } else {
            String::new()
        };
        let _ = writeln!(s, "- {t}: measured {m}. {why}");
    }
    let _ = writeln!(s);
}

/// How the largest plans' time divides between azmove's phases.
fn plan_cpu_split(p: &PlanResults) -> String {
    p.rows
        .iter()
        .filter(|x| x.servers >= 10_000)
        .map(|x| {
            let phases = match (x.observe_ms, x.plan_ms) {
                (Some(o), Some(pl)) => format!(
                    ", of which observing the cloud took {:.0} ms and planning {:.0} ms; the rest is start-up, loading the plan file and rendering {} servers as text",
                    o.median,
                    pl.median,
                    thousands(x.servers)
                ),
                _ => String::new(),
            };
            format!(
                "With {}: {:.2} s of CPU in {:.2} s of wall time{phases}.",
                x.shape, x.cpu_s.median, x.wall_s.median
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a makespan above the bound went, per move and in cloud time.
fn makespan_gap(x: &ApplyRow) -> String {
    let waves = if x.bound.effective_parallelism > 0.0 {
        x.servers as f64 / x.bound.effective_parallelism
    } else {
        1.0
    };
    let gap = x.makespan_s.median - x.bound_wall_s;
    let per_move_cloud = gap / waves.max(1.0) * x.time_scale;
    format!(
        "The run took {:.2} s beyond the bound of {:.2} s, over {:.0} moves back to back per slot: about \
{:.1} s of cloud time per move on top of its {:.1} s of operations. A move's next step starts only once \
azmove has seen the previous one finish (a poll, at least {:.1} s of cloud time apart) and has sent the \
next call; both repeat at every step.",
        gap,
        x.bound_wall_s,
        waves,
        per_move_cloud,
        x.move_s,
        super::apply_suite::POLL_MIN.as_secs_f64()
    )
}

/// Requests per server split into the moves' own calls and reads.
/// Requests per server split into the moves' own calls (the same for every
/// run) and the rest: authentication, planning and polling.
fn request_split(rows: &[&ApplyRow]) -> String {
    let is_step = |k: &str| !k.contains(" GET ") && !k.starts_with("identity ");
    let per = |x: &ApplyRow, step: bool| {
        x.routes
            .iter()
            .filter(|(k, _)| is_step(k) == step)
            .map(|(_, v)| *v)
            .sum::<u64>() as f64
            / x.servers.max(1) as f64
    };
    let Some(first) = rows.first() else {
        return String::new();
    };
    let steps: Vec<String> = first
        .routes
        .iter()
        .filter(|(k, _)| is_step(k))
        .map(|(k, v)| format!("`{k}` {:.2}", *v as f64 / first.servers.max(1) as f64))
        .collect();
    let rest: Vec<String> = rows
        .iter()
        .map(|x| {
            format!(
                "{:.2} with {} servers and {:.1} s snapshots (time scale {})",
                per(x, false),
                x.servers,
                x.snapshot_s,
                x.time_scale
            )
        })
        .collect();
    format!(
        "Per moved server, the steps' own calls make {:.2} requests ({}); authentication, planning and polling \
add {}.",
        per(first, true),
        steps.join(", "),
        rest.join(", ")
    )
}

fn plan_section(s: &mut String, r: &Results) {
    let _ = writeln!(s, "### 1. Plan at scale (simulated cloud)\n");
    let Some(p) = &r.plan else {
        let _ = writeln!(s, "Not measured (run `-- plan`).\n");
        return;
    };
    let _ = writeln!(
        s,
        "`azmove plan` for N servers to move from `nova` to `nova2`, against a simulator holding those N \
plus 10% unrelated servers in the same AZ. Two plan files per size: one `server:` entry per server, and one \
`select:` glob. The plan's `requests_per_second` is 1000 so that the client's rate limiter never waits: this \
measures the work. Wall time includes process start, authentication and rendering the whole plan as text \
(to a file).\n"
    );
    let _ = writeln!(
        s,
        "| servers (+ unrelated) | plan file | API requests (target) | wall s | CPU s | peak RSS MiB | observe ms | plan ms |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---:|");
    let ms = |x: &Option<Summary>| x.map(|v| v.show(0)).unwrap_or_else(|| "—".into());
    for x in &p.rows {
        let _ = writeln!(
            s,
            "| {} (+{}) | {} | {} (≤ {}) | {} | {} | {} | {} | {} |",
            thousands(x.servers),
            thousands(x.unrelated),
            x.shape,
            x.requests.show(0),
            x.request_target,
            x.wall_s.show(2),
            x.cpu_s.show(2),
            x.rss_mib.show(0),
            ms(&x.observe_ms),
            ms(&x.plan_ms)
        );
    }
    let _ = writeln!(
        s,
        "\n*observe* and *plan* are wall times azmove logs itself (`-v --log-format json`, line `planned`): \
reading the cloud (including waiting for the simulator's answers) and the pure planner. The rest of the \
wall time is process start, authentication, loading the plan file and rendering the plan."
    );
    if let Some(big) = p.rows.iter().max_by_key(|x| x.servers) {
        let _ = writeln!(
            s,
            "\nRequests of one {}-server plan ({}), by route:\n",
            thousands(big.servers),
            big.shape
        );
        let _ = writeln!(s, "| route | requests |\n|---|---:|");
        for (route, n) in &big.routes {
            let _ = writeln!(s, "| `{route}` | {n} |");
        }
    }
    let _ = writeln!(s);
}

fn apply_section(s: &mut String, r: &Results) {
    let _ = writeln!(
        s,
        "### 2. Apply makespan against the lower bound (simulated)\n"
    );
    let Some(m) = row(&r.apply, "makespan") else {
        let _ = writeln!(s, "Not measured (run `-- apply`).\n");
        return;
    };
    let limits: Vec<String> = m.per_az.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let _ = writeln!(
        s,
        "{} servers leave `nova`, half for `nova2` and half for `nova3`, with `concurrency: {}` and \
`per_az: {{{}}}` — so the engine has to keep both target AZs busy to use its 20 slots. Every move is \
stop → snapshot → boot in the target AZ → delete the source (`source_after: delete`). The simulator runs \
{}× faster than the cloud times it models; azmove's poll intervals and `requests_per_second` (10/s of cloud \
time) are scaled the same way, so the run is the real-time run played faster.\n",
        m.servers,
        m.concurrency,
        limits.join(", "),
        m.time_scale
    );
    let _ = writeln!(
        s,
        "The lower bound comes from the scenario's timings, read with the simulator's own scenario loader: one \
move takes {:.1} s of cloud time (stop, snapshot of {:.1} s = fixed overhead + the {} GB root disk at the \
upload rate, boot, delete of the source), and a move holds one `concurrency` slot and one slot of each AZ it touches from its first \
step to its last. The bound is max(critical path, total work / concurrency, for each capped AZ: work \
through it / its cap) = {:.1} s of cloud time ({}; effective parallelism {:.0}), i.e. **{:.2} s** at this \
time scale. The makespan is the engine's run from its first step to its last (the `elapsed_s` of \
`--report`); the whole process, with planning, is shown too.\n",
        m.move_s,
        m.snapshot_s,
        super::apply_suite::DISK_GB,
        m.bound.bound,
        m.bound.binding,
        m.bound.effective_parallelism,
        m.bound_wall_s
    );
    let _ = writeln!(
        s,
        "| servers | time scale | bound s | makespan s (simulated) | makespan at real speed s | makespan / bound | whole process s | CPU s | peak RSS MiB | requests per server | most in flight (simulator) |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let _ = writeln!(
        s,
        "| {} | {}× | {:.2} | {} | {:.0} | **{}** | {} | {} | {} | {} | {} |\n",
        m.servers,
        m.time_scale,
        m.bound_wall_s,
        m.makespan_s.show(2),
        m.makespan_s.median * m.time_scale,
        m.ratio.show(3),
        m.process_wall_s.show(2),
        m.cpu_s.show(2),
        m.rss_mib.show(0),
        m.requests_per_server.show(2),
        in_flight(m)
    );
}

fn in_flight(m: &ApplyRow) -> String {
    let mut parts = vec![format!("{} overall", m.max_in_flight)];
    for (az, n) in &m.max_in_flight_by_target_az {
        parts.push(format!("{n} into {az}"));
    }
    for (az, n) in &m.max_in_flight_by_source_az {
        parts.push(format!("{n} out of {az}"));
    }
    parts.join(", ")
}

fn requests_section(s: &mut String, r: &Results) {
    let _ = writeln!(s, "### 3. API requests per moved server (simulated)\n");
    let (Some(short), Some(long)) = (row(&r.apply, "short"), row(&r.apply, "long")) else {
        let _ = writeln!(s, "Not measured (run `-- apply`).\n");
        return;
    };
    let _ = writeln!(
        s,
        "{} servers, same limits and cloud as above, with snapshots of {:.1} s and, the second time, 10× longer \
({:.1} s: ten times the overhead, a tenth of the upload rate). The simulator runs {}× faster than cloud \
time here, and azmove's poll intervals and request rate are scaled alike. Requests are everything the \
simulator received while `azmove apply` ran — authentication and planning included — divided by the \
servers moved.\n",
        short.servers, short.snapshot_s, long.snapshot_s, short.time_scale
    );
    let _ = writeln!(
        s,
        "| snapshot (cloud s) | polling | requests per server | makespan / bound | max requests in any 1 s |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|");
    for id in ["short", "long", "naive-short", "naive-long"] {
        if let Some(x) = row(&r.apply, id) {
            let _ = writeln!(
                s,
                "| {:.1} | {} | **{}** | {} | {} |",
                x.snapshot_s,
                x.polling,
                x.requests_per_server.show(2),
                x.ratio.show(3),
                x.max_requests_per_second.show(0)
            );
        }
    }
    let _ = writeln!(s, "\nRequests of one run with short snapshots, by route:\n");
    let _ = writeln!(s, "| route | requests | per server |\n|---|---:|---:|");
    for (route, n) in &short.routes {
        let _ = writeln!(
            s,
            "| `{route}` | {n} | {:.2} |",
            *n as f64 / short.servers.max(1) as f64
        );
    }
    let _ = writeln!(s);
}

fn baseline_section(s: &mut String, r: &Results) {
    let _ = writeln!(s, "### 4. Baselines (simulated)\n");
    let short = row(&r.apply, "short");
    let _ = writeln!(s, "#### (a) The seed procedure with the `openstack` CLI\n");
    match &r.baseline {
        None => {
            let _ = writeln!(s, "Not measured (run `-- baseline`).\n");
        }
        Some(b) => {
            let _ = writeln!(
                s,
                "`benches/baseline/seed-procedure.sh` does what the classic manual procedure does, one server after \
another, with the real `openstack` CLI ({}): `server show` to note the settings, `server stop` and poll \
until SHUTOFF, `server image create --wait`, `server create --image … --availability-zone … --wait` with \
the same settings, a check of the new server's AZ, and `server delete --wait` of the original. Same \
scenario and simulator as azmove's {}-server run (time scale {}). Each run moves {} servers; the procedure \
is strictly sequential, so the time for all {} is the measured time per server × {} (an extrapolation, \
not a 100-server run). The CLI's own start-up, about 2 s per call, is part of the figure: it is what the \
user pays.\n",
                b.cli,
                b.scenario_servers,
                b.time_scale,
                b.servers_per_run,
                b.scenario_servers,
                b.scenario_servers
            );
            let _ = writeln!(
                s,
                "| | s per server | {} servers s | requests per server | CPU s per run |",
                b.scenario_servers
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|");
            let n = b.scenario_servers as f64;
            let _ = writeln!(
                s,
                "| `openstack` CLI, sequential | {} | {} (extrapolated) | {} | {} |",
                b.per_server_s.show(1),
                b.per_server_s.scaled(n).show(0),
                b.requests_per_server.show(1),
                b.cpu_s.show(1)
            );
            if let Some(x) = short {
                let _ = writeln!(
                    s,
                    "| `azmove apply`, concurrency {} | {:.2} (whole run / servers) | {} (measured) | {} | {} |",
                    x.concurrency,
                    x.process_wall_s.median / x.servers.max(1) as f64,
                    x.process_wall_s.show(1),
                    x.requests_per_server.show(2),
                    x.cpu_s.show(2)
                );
                let sp = speedup(b, &x.process_wall_s);
                let _ = writeln!(
                    s,
                    "\nSpeed-up of azmove: **{:.0}×** (worst {:.0}×, best {:.0}×, pairing the extremes of both).\n",
                    sp.median, sp.min, sp.max
                );
                let overhead = b.per_server_s.median - b.move_s / b.time_scale;
                let azmove_cloud = x.ratio.median * x.bound.bound;
                if overhead > 0.0 && azmove_cloud > 0.0 {
                    let _ = writeln!(
                        s,
                        "The time scale makes the CLI's fixed costs weigh more than they would against a real-time \
cloud. Computed from the figures above (not measured): at real speed a move's operations take {:.0} s, \
the procedure would need about {:.0} s + {:.0} s of CLI overhead per server and azmove about {:.2} × its \
bound of {:.0} s for all {}: a speed-up of about {:.0}×. At real speed the concurrency, not the CLI's \
start-up, sets the ratio.\n",
                        b.move_s,
                        b.move_s,
                        overhead,
                        x.ratio.median,
                        x.bound.bound,
                        b.scenario_servers,
                        (b.move_s + overhead) * n / azmove_cloud
                    );
                }
            }
        }
    }
    let _ = writeln!(s, "### (b) Naive per-server polling\n");
    match (
        row(&r.apply, "naive-short"),
        row(&r.apply, "naive-long"),
        short,
        row(&r.apply, "long"),
    ) {
        (Some(ns), Some(nl), Some(ss), Some(sl)) => {
            let _ = writeln!(
                s,
                "azmove's own engine with `--naive-poll`: instead of one shared list call per interval, one `GET` per \
waited-on server and image every 2 s of cloud time, as a hand-written tool would do. Same scenarios as \
section 3.\n"
            );
            let _ = writeln!(
                s,
                "| snapshot (cloud s) | naive: requests per server | azmove: requests per server | naive / azmove |"
            );
            let _ = writeln!(s, "|---:|---:|---:|---:|");
            for (n, a) in [(ns, ss), (nl, sl)] {
                let _ = writeln!(
                    s,
                    "| {:.1} | {} | {} | {:.1}× |",
                    n.snapshot_s,
                    n.requests_per_server.show(2),
                    a.requests_per_server.show(2),
                    n.requests_per_server.median
                        / a.requests_per_server.median.max(f64::MIN_POSITIVE)
                );
            }
            let _ = writeln!(s);
        }
        _ => {
            let _ = writeln!(s, "Not measured (run `-- apply`).\n");
        }
    }
}

/// 10000 → "10,000".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::bound::Bound;
    use std::collections::BTreeMap;

    fn sum(x: f64) -> Summary {
        Summary {
            min: x,
            median: x,
            max: x,
            runs: 3,
        }
    }

    pub(super) fn info() -> RunInfo {
        RunInfo {
            date: "2026-01-01T00:00:00Z".into(),
            command: "cargo run --release --bin azmove-bench -- all".into(),
            cpu_model: "Test CPU".into(),
            nproc: 2,
            memory_gib: 4.0,
            os: "Linux".into(),
            rustc: "rustc 1.89".into(),
            commit: "abc1234".into(),
            load_start: "1.0 1.0 1.0".into(),
            load_end: "1.0 1.0 1.0".into(),
            profile: "release".into(),
        }
    }

    fn apply_row(id: &str, rps: f64, ratio: f64) -> ApplyRow {
        ApplyRow {
            id: id.into(),
            label: id.into(),
            servers: 100,
            polling: "shared list polls (changes-since)".into(),
            time_scale: 20.0,
            concurrency: 20,
            per_az: BTreeMap::from([("nova2".into(), 10)]),
            snapshot_s: 15.24,
            move_s: 60.24,
            bound: Bound {
                critical_path: 60.24,
                work: 6024.0,
                concurrency_bound: 301.2,
                az_bounds: BTreeMap::new(),
                bound: 301.2,
                binding: "concurrency 20".into(),
                effective_parallelism: 20.0,
            },
            bound_wall_s: 15.06,
            makespan_s: sum(15.06 * ratio),
            ratio: sum(ratio),
            process_wall_s: sum(16.0),
            cpu_s: sum(0.5),
            rss_mib: sum(30.0),
            requests: sum(rps * 100.0),
            requests_per_server: sum(rps),
            max_requests_per_second: sum(50.0),
            max_in_flight: 20,
            max_in_flight_by_source_az: BTreeMap::new(),
            max_in_flight_by_target_az: BTreeMap::new(),
            apis: BTreeMap::new(),
            routes: BTreeMap::from([("compute GET /servers/detail".into(), 42)]),
        }
    }

    fn plan_row(servers: usize, requests: f64, cpu: f64) -> PlanRow {
        PlanRow {
            servers,
            unrelated: servers / 10,
            shape: "one `server:` entry per server".into(),
            requests: sum(requests),
            request_target: crate::bench::plan_suite::request_target(servers),
            wall_s: sum(1.0),
            cpu_s: sum(cpu),
            rss_mib: sum(50.0),
            observe_ms: None,
            plan_ms: Some(sum(200.0)),
            routes: BTreeMap::new(),
        }
    }

    #[test]
    fn nothing_measured_is_said_plainly_and_the_real_cloud_section_is_kept() {
        let r = Results {
            real_cloud: Some("Recorded: 149.5 s.".into()),
            ..Results::default()
        };
        let text = render(&r);
        assert!(
            text.contains("## Real cloud\n\nRecorded: 149.5 s."),
            "{text}"
        );
        assert!(targets(&r).iter().all(|t| t.2 == Verdict::NotMeasured));
        assert!(text.contains("not measured"));
    }

    #[test]
    fn verdicts_follow_the_figures() {
        let r = Results {
            plan: Some(PlanResults {
                info: info(),
                rows: vec![plan_row(100, 9.0, 0.01), plan_row(10_000, 25.0, 1.5)],
            }),
            apply: Some(ApplyResults {
                info: info(),
                rows: vec![
                    apply_row("makespan", 6.0, 1.02),
                    apply_row("short", 6.0, 1.02),
                    apply_row("long", 9.0, 1.02),
                ],
            }),
            baseline: None,
            real_cloud: None,
        };
        let t = targets(&r);
        let verdict = |prefix: &str| t.iter().find(|x| x.0.starts_with(prefix)).map(|x| x.2);
        // 25 requests > ceil(10000/1000) + 10 = 20.
        assert_eq!(
            verdict("simulated plan: API requests"),
            Some(Verdict::Missed)
        );
        assert_eq!(verdict("simulated plan: CPU"), Some(Verdict::Missed));
        assert_eq!(verdict("simulated plan: peak RSS"), Some(Verdict::Met));
        assert_eq!(verdict("simulated apply: makespan"), Some(Verdict::Met));
        // 9 > 8 and 9/6 is not flat.
        assert_eq!(
            verdict("simulated apply: requests per moved server"),
            Some(Verdict::Missed)
        );
        assert_eq!(verdict("simulated speed-up"), Some(Verdict::NotMeasured));
        let text = render(&r);
        assert!(
            text.contains("**missed**") && text.contains("**met**"),
            "{text}"
        );
        assert!(text.contains("| 10,000 (+1,000) |"), "{text}");
    }

    #[test]
    fn the_speed_up_pairs_extremes_for_worst_and_best() {
        let b = BaselineResults {
            info: info(),
            cli: "openstack 10.5.0".into(),
            scenario_servers: 100,
            servers_per_run: 5,
            time_scale: 20.0,
            move_s: 60.24,
            source_after: "delete".into(),
            wall_s: sum(150.0),
            per_server_s: Summary {
                min: 28.0,
                median: 30.0,
                max: 32.0,
                runs: 3,
            },
            cpu_s: sum(50.0),
            requests_per_server: sum(60.0),
            apis: BTreeMap::new(),
            routes: BTreeMap::new(),
        };
        let azmove = Summary {
            min: 15.0,
            median: 16.0,
            max: 20.0,
            runs: 3,
        };
        let sp = speedup(&b, &azmove);
        assert!((sp.median - 3000.0 / 16.0).abs() < 1e-9);
        assert!((sp.min - 2800.0 / 20.0).abs() < 1e-9);
        assert!((sp.max - 3200.0 / 15.0).abs() < 1e-9);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
