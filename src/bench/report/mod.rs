//! Results files (benches/results/<suite>.json for the simulator, one per
//! suite, so that suites can be re-run one at a time; benches/real-cloud.json
//! for the real cloud) and docs/benchmarks.md, written from whichever
//! results exist. Targets are judged here, in one place, on every row, and
//! a figure that was not measured says so.

mod real_cloud;
mod simulated;

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
    if r.plan.is_none()
        && r.apply.is_none()
        && r.baseline.is_none()
        && r.earlier_simulated.is_some()
    {
        let _ = writeln!(
            s,
            "The simulated targets are not judged here until `-- all` measures them again: the earlier \
figures, and which of their rows miss a target, are at the end of the page.\n"
        );
    }
    misses(&mut s, r);
    real_cloud::section(&mut s, &r.real_cloud);
    let _ = writeln!(s, "## Simulated runs\n");
    runs_table(&mut s, r);
    simulated::plan_section(&mut s, r);
    simulated::apply_section(&mut s, r);
    simulated::requests_section(&mut s, r);
    simulated::baseline_section(&mut s, r);
    if r.plan.is_none()
        && r.apply.is_none()
        && r.baseline.is_none()
        && let Some(text) = &r.earlier_simulated
    {
        let _ = writeln!(
            s,
            "## Simulated, as measured earlier (their results files were not kept)\n\n{}\n",
            text.trim_end()
        );
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
    use simulated::{makespan_gap, plan_cpu_split, request_split};
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
            real_cloud::why_missed(&t).to_string()
        };
        let _ = writeln!(s, "- {t}: measured {m}. {why}");
    }
    let _ = writeln!(s);
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
mod tests;
