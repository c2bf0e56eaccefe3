//! Two runs, one cloud: several real `azmove apply` processes of the same
//! plan (or of two overlapping plans) started at nearly the same moment
//! against one simulated cloud, which lives in this test process. After
//! every trial the simulator's own model — not azmove's reports — must
//! show each original server exactly once: intact, or moved (in place:
//! same UUID in nova2, no move tags left; snapshot: exactly one ACTIVE
//! replacement in nova2, the source deleted or kept SHUTOFF); never two
//! running copies, no leftover snapshot, claim or run record. The trials
//! inject no faults, so a `failed` row is a false failure; every run exits
//! 0 or 5 in step with its report (5 exactly when a row is `busy`), each
//! server is reported `moved` by at most one run, and only `moved`,
//! `unchanged` and `busy` are right here: a server another run is moving
//! when this one plans or claims it is `busy` — not a blocked entry
//! (exit 3), not `changed`, not `failed`.
//!
//! Variants: one of two runs SIGKILLed mid-move (caught on what the model
//! shows, not on a timer), then a third run resumes; and a person acting
//! behind a single run's back (starting the stopped source while the run
//! waits for its snapshot; deleting the replacement while it boots).
//!
//! Every test prints a table row (`--nocapture`). Trial counts:
//! `AZMOVE_TRIALS` (default 20 per case) and `AZMOVE_KILL_TRIALS`
//! (default 5 per strategy), for quick local runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::support::apply::*;
use crate::support::scenario::ScenarioBuilder;
use azmove::sim::model::VmState;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// The cloud runs 20 times faster than the wall clock: a snapshot move
/// (stop 2 s, snapshot 2 s + 4 s upload, boot 4 s) takes ~0.6 s.
const TIME_SCALE: f64 = 20.0;
/// Start offsets of the runs: 0–3 s of cloud time, comparable to a move.
const MAX_OFFSET_MS: u64 = (3000.0 / TIME_SCALE) as u64;
/// How long one run may take before the test kills it (and counts it).
const RUN_LIMIT: Duration = Duration::from_secs(90);
/// The plans' step time limits: generous (moves take well under a second
/// of wall time) but short enough that a run waiting for something that
/// never comes ends on its own.
const TIMEOUTS: &str = "{stop: 20s, snapshot: 30s, boot: 30s, source: 20s}";

const SOURCE_AZ: &str = "nova";
const TARGET_AZ: &str = "nova2";

/// azmove's marks, read by name: the referee does not share the player's constants.
const TAG_SOURCE: &str = "azmove_source";
const TAG_MOVING_TO: &str = "azmove_moving_to";
const TAG_MOVED_TO: &str = "azmove_moved_to";
const TAG_STOPPED: &str = "azmove_stopped";
const TAG_CLAIM: &str = "azmove_claim";
const TAG_RUN_RECORD: &str = "azmove_run_record";

// ------------------------------------------------------------ the cases

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    SnapshotKeep,
    SnapshotDelete,
    Shelve,
    Cold,
    Live,
}

impl Strategy {
    fn label(self) -> &'static str {
        match self {
            Strategy::SnapshotKeep => "snapshot/keep",
            Strategy::SnapshotDelete => "snapshot/delete",
            Strategy::Shelve => "shelve",
            Strategy::Cold => "cold",
            Strategy::Live => "live",
        }
    }

    /// The plan's `defaults` for it.
    fn defaults(self) -> &'static str {
        match self {
            Strategy::SnapshotKeep => "  strategy: snapshot\n  source_after: keep\n",
            Strategy::SnapshotDelete => "  strategy: snapshot\n  source_after: delete\n",
            Strategy::Shelve => "  strategy: shelve\n",
            Strategy::Cold => "  strategy: cold\n",
            Strategy::Live => "  strategy: live\n",
        }
    }

    /// Who runs it: shelve as a project member, cold and live need the
    /// admin role (and the snapshot moves run as admin too).
    fn user(self) -> &'static str {
        match self {
            Strategy::Shelve => "demo",
            _ => "admin",
        }
    }

    fn in_place(self) -> bool {
        matches!(self, Strategy::Shelve | Strategy::Cold | Strategy::Live)
    }

    fn seed(self) -> u64 {
        match self {
            Strategy::SnapshotKeep => 11,
            Strategy::SnapshotDelete => 12,
            Strategy::Shelve => 13,
            Strategy::Cold => 14,
            Strategy::Live => 15,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// N runs of one plan naming the trial's 3 servers.
    Same(usize),
    /// N runs of two plans: A names 3 of the trial's 4 servers, B selects
    /// all 4 by name and `availability_zone: nova`.
    Overlap(usize),
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Same(n) => format!("{n} runs, one plan"),
            Mode::Overlap(n) => format!("{n} runs, overlapping plans"),
        }
    }

    fn servers(self) -> usize {
        match self {
            Mode::Same(_) => 3,
            Mode::Overlap(_) => 4,
        }
    }

    /// The plan of each run of trial `t`.
    fn plans(self, t: usize) -> Vec<Plan> {
        match self {
            Mode::Same(n) => vec![Plan::Named; n],
            Mode::Overlap(2) => vec![Plan::Named, Plan::Select],
            Mode::Overlap(n) => (0..n)
                .map(|i| match i {
                    0 => Plan::Named,
                    1 => Plan::Select,
                    // the third run doubles A or B, alternately
                    _ if t.is_multiple_of(2) => Plan::Named,
                    _ => Plan::Select,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// `server: NAME` entries (the trial's first 3 servers).
    Named,
    /// `select: {name: "PREFIX-*", availability_zone: nova}`.
    Select,
}

impl Plan {
    fn file(self) -> &'static str {
        match self {
            Plan::Named => "plan-a.yaml",
            Plan::Select => "plan-b.yaml",
        }
    }
}

fn letters(n: usize) -> impl Iterator<Item = char> {
    ('a'..='z').take(n)
}

fn server_names(prefix: &str, n: usize) -> Vec<String> {
    letters(n).map(|l| format!("{prefix}-{l}")).collect()
}

/// A plan's settings: the strategy, short step timeouts, and requests
/// paced far above what the simulator needs (the default, 10 per second,
/// would make the pacing the slowest part of a move).
fn plan_head(strategy: Strategy) -> String {
    format!(
        "version: 1\ndefaults:\n{}  timeouts: {TIMEOUTS}\nlimits:\n  concurrency: 8\n  requests_per_second: 500\nmoves:\n",
        strategy.defaults()
    )
}

fn plan_yaml(strategy: Strategy, plan: Plan, prefix: &str) -> String {
    let mut y = plan_head(strategy);
    match plan {
        Plan::Named => {
            for name in server_names(prefix, 3) {
                y.push_str(&format!("  - server: \"{name}\"\n    to: {TARGET_AZ}\n"));
            }
        }
        Plan::Select => y.push_str(&format!(
            "  - select: {{name: \"{prefix}-*\", availability_zone: {SOURCE_AZ}}}\n    to: {TARGET_AZ}\n"
        )),
    }
    y
}

/// The cloud of one test: every server of every trial, ACTIVE in nova.
fn cloud_for(strategy: Strategy, prefixes: &[(String, usize)]) -> ScenarioBuilder {
    let mut c = ScenarioBuilder::two_zones(strategy.seed(), TIME_SCALE)
        .timing("boot", "4s")
        .timing("stop", "2s")
        .timing("start", "2s")
        .timing("delete", "1s")
        .timing("shelve_offload", "2s")
        .timing("unshelve", "4s")
        .timing("snapshot_overhead", "2s")
        .timing("snapshot_throughput_mb_s", "250")
        .timing("migrate_overhead", "4s")
        .timing("migrate_throughput_mb_s", "250")
        .timing("confirm_resize", "1s")
        .timing("revert_resize", "2s")
        .timing("live_migration_overhead", "4s")
        .timing("live_migration_throughput_mb_s", "500");
    for (prefix, n) in prefixes {
        for name in server_names(prefix, *n) {
            c = c.server_of(&name, "nova", strategy.user());
        }
    }
    c
}

fn trials_from_env(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v:?} is not a number of trials")),
        Err(_) => default,
    }
}

/// At most two cases run their trials at once, whatever `--test-threads`
/// says: each trial is 2–3 azmove processes plus the simulator, on a
/// machine that may have only 2 cores.
static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();
const AT_ONCE: usize = 2;

struct Slot;

fn slot() -> Slot {
    let mut n = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    while *n >= AT_ONCE {
        n = FREED.wait(n).unwrap_or_else(|e| e.into_inner());
    }
    *n += 1;
    Slot
}

impl Drop for Slot {
    fn drop(&mut self) {
        *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        FREED.notify_one();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

// ------------------------------------------------------------- the runs

/// One `azmove apply` process of a trial.
struct Run {
    label: String,
    plan: Plan,
    report: PathBuf,
    journal: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
    /// Exit code; `None` for a signal (or killed by the test at RUN_LIMIT).
    code: Option<i32>,
    killed: bool,
}

impl Run {
    fn start(dir: &Path, env: &[(String, String)], plan: Plan, label: &str) -> Run {
        let report = dir.join(format!("{label}.json"));
        let journal = dir.join(format!("{label}-journal"));
        let child = spawn_azmove(
            dir,
            env,
            &[
                "apply",
                plan.file(),
                "--yes",
                "--report",
                report.to_str().expect("UTF-8 path"),
                "--journal-dir",
                journal.to_str().expect("UTF-8 path"),
                "--poll-min",
                "50ms",
                "--poll-max",
                "250ms",
            ],
            label,
        );
        Run {
            label: label.to_owned(),
            plan,
            report,
            journal,
            dir: dir.to_path_buf(),
            child: Some(child),
            code: None,
            killed: false,
        }
    }

    fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => match c.try_wait().expect("child status") {
                Some(status) => {
                    self.code = status.code();
                    self.child = None;
                    false
                }
                None => true,
            },
            None => false,
        }
    }

    fn wait(&mut self) {
        if let Some(mut c) = self.child.take() {
            self.code = wait_at_most(&mut c, RUN_LIMIT);
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            self.killed = true;
            self.code = None;
        }
    }

    fn report(&self) -> Option<Value> {
        let text = std::fs::read_to_string(&self.report).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// What it wrote to stdout (`out`) or stderr (`err`).
    fn output(&self, ext: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.{ext}", self.label))).unwrap_or_default()
    }

    /// The last lines of its stderr and stdout, for a failure message.
    fn tail(&self) -> String {
        let read = |ext: &str| {
            let text = self.output(ext);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(12)..].join("\n")
        };
        format!(
            "--- {} ({}) exit {:?}{}\n{}\n{}",
            self.label,
            self.plan.file(),
            self.code,
            if self.killed { " (killed)" } else { "" },
            read("err"),
            read("out")
        )
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last move step the journal shows started for `server`, if the
/// run has not finished with that server.
fn step_in_flight(journal: &Path, server: &str) -> Option<String> {
    let mut last = None;
    for e in journal_events(journal) {
        if e["server"] != server {
            continue;
        }
        match e["event"].as_str() {
            Some("step_started") => {
                if let Some(step) = e["step"].as_str().filter(|s| MOVE_STEPS.contains(s)) {
                    last = Some(step.to_owned());
                }
            }
            Some("server_finished") => return None,
            _ => {}
        }
    }
    last
}

/// Start `plans` (one run each) at seeded random offsets of 0–3 s of
/// cloud time; returns them in the order of `plans`.
fn start_runs(
    dir: &Path,
    env: &[(String, String)],
    plans: &[Plan],
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<Run> {
    let mut offsets: Vec<(u64, usize)> = (0..plans.len())
        .map(|i| (rng.random_range(0..=MAX_OFFSET_MS), i))
        .collect();
    offsets.sort();
    let t0 = Instant::now();
    let mut started: Vec<(usize, Run)> = Vec::new();
    for (ms, i) in offsets {
        let at = Duration::from_millis(ms);
        if let Some(wait) = at.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        started.push((i, Run::start(dir, env, plans[i], &format!("r{i}"))));
    }
    started.sort_by_key(|(i, _)| *i);
    started.into_iter().map(|(_, r)| r).collect()
}

// ------------------------------------------------------------ the referee

/// What became of one original server, from the simulator's model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Moved,
    Intact,
    Lost(String),
    Duplicated(String),
    TwoRunning(String),
    /// Neither intact nor moved: left half-way, tags left, wrong state.
    Broken(String),
}

fn judge(strategy: Strategy, src: &ModelServer, servers: &[ModelServer]) -> Verdict {
    let reps: Vec<&ModelServer> = servers
        .iter()
        .filter(|s| !s.deleted && s.metadata.get(TAG_SOURCE) == Some(&src.id))
        .collect();
    let describe = |s: &ModelServer| {
        format!(
            "{} {} in {}{}",
            s.id,
            s.status,
            s.az,
            s.task_state
                .as_deref()
                .map(|t| format!(" (task {t})"))
                .unwrap_or_default()
        )
    };
    let reps_text = || {
        reps.iter()
            .map(|r| describe(r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let at_rest = |s: &ModelServer, status: &str, az: &str| {
        !s.deleted && s.status == status && s.az == az && s.task_state.is_none()
    };
    let name = &src.name;
    if strategy.in_place() {
        if src.deleted {
            return Verdict::Lost(format!("{name} was deleted (moved in place)"));
        }
        if !reps.is_empty() {
            return Verdict::Duplicated(format!(
                "{name} moved in place has servers made for it: {}",
                reps_text()
            ));
        }
        let tagged = src.metadata.contains_key(TAG_MOVING_TO);
        return if !tagged && at_rest(src, "ACTIVE", TARGET_AZ) {
            Verdict::Moved
        } else if !tagged && at_rest(src, "ACTIVE", SOURCE_AZ) {
            Verdict::Intact
        } else {
            Verdict::Broken(format!(
                "{name} is {}{}",
                describe(src),
                if tagged { ", still tagged moving" } else { "" }
            ))
        };
    }
    let good: Vec<&&ModelServer> = reps
        .iter()
        .filter(|r| at_rest(r, "ACTIVE", TARGET_AZ))
        .collect();
    if src.deleted && good.is_empty() {
        return Verdict::Lost(format!(
            "{name}: the source is deleted and no replacement is ACTIVE in {TARGET_AZ} ({})",
            reps_text()
        ));
    }
    if reps.len() > 1 {
        return Verdict::Duplicated(format!(
            "{name}: {} replacements: {}",
            reps.len(),
            reps_text()
        ));
    }
    if !src.deleted && src.status == "ACTIVE" && reps.iter().any(|r| r.status == "ACTIVE") {
        return Verdict::TwoRunning(format!(
            "{name}: the source {} runs next to its replacement {}",
            src.id,
            reps_text()
        ));
    }
    if reps.is_empty() {
        return if at_rest(src, "ACTIVE", SOURCE_AZ) {
            Verdict::Intact
        } else {
            Verdict::Broken(format!(
                "{name}: no replacement, the source is {}",
                describe(src)
            ))
        };
    }
    if good.len() != 1 {
        return Verdict::Broken(format!("{name}: its replacement is {}", reps_text()));
    }
    let keep = strategy == Strategy::SnapshotKeep;
    match (keep, src.deleted) {
        (true, false) if at_rest(src, "SHUTOFF", SOURCE_AZ) => Verdict::Moved,
        (false, true) => Verdict::Moved,
        (true, _) => Verdict::Broken(format!(
            "{name}: source_after keep, but the source is {}",
            describe(src)
        )),
        (false, _) => Verdict::Broken(format!(
            "{name}: source_after delete, but the source is {}",
            describe(src)
        )),
    }
}

/// Counters of one case, over all its trials.
#[derive(Default)]
struct Tally {
    trials: usize,
    servers: usize,
    moved: usize,
    intact: usize,
    busy_rows: usize,
    lost: usize,
    duplicated: usize,
    two_running: usize,
    broken: usize,
    leftovers: usize,
    false_failures: usize,
    bad_exits: usize,
    report_errors: usize,
    problems: Vec<String>,
    /// The runs' output of the first trial that went wrong.
    first_logs: Option<String>,
}

impl Tally {
    fn violations(&self) -> usize {
        self.lost
            + self.duplicated
            + self.two_running
            + self.broken
            + self.leftovers
            + self.false_failures
            + self.bad_exits
            + self.report_errors
    }

    fn problem(&mut self, trial: &str, what: String) {
        if self.problems.len() < 60 {
            self.problems.push(format!("{trial}: {what}"));
        }
    }

    fn header() -> String {
        format!(
            "{:<42} {:>6} {:>7} {:>6} {:>6} {:>5} {:>4} {:>5} {:>6} {:>8} {:>9} {:>5} {:>6} {:>7} {:>6}",
            "case",
            "trials",
            "servers",
            "moved",
            "intact",
            "busy",
            "lost",
            "dupl.",
            "2 run.",
            "bad st.",
            "leftovers",
            "false",
            "exits",
            "report",
            "wall"
        )
    }

    fn row(&self, case: &str, wall: Duration) -> String {
        format!(
            "{:<42} {:>6} {:>7} {:>6} {:>6} {:>5} {:>4} {:>5} {:>6} {:>8} {:>9} {:>5} {:>6} {:>7} {:>5.0}s",
            case,
            self.trials,
            self.servers,
            self.moved,
            self.intact,
            self.busy_rows,
            self.lost,
            self.duplicated,
            self.two_running,
            self.broken,
            self.leftovers,
            self.false_failures,
            self.bad_exits,
            self.report_errors,
            wall.as_secs_f64()
        )
    }

    /// Print the table (header, this case's row, a legend) and fail if
    /// any trial broke an invariant.
    fn finish(&self, case: &str, wall: Duration) {
        eprintln!(
            "\n{}\n{}\n(busy: rows reported busy; bad st.: neither intact nor moved; \
             false: `failed` rows of a run without faults; exits: runs that did not \
             exit 0 or 5, or whose exit code does not match their report; report: rows \
             that are not moved/unchanged/busy, servers missing from or moved twice in \
             the reports, or reported against what the cloud shows)",
            Tally::header(),
            self.row(case, wall)
        );
        if self.violations() > 0 {
            panic!(
                "{case}: {} violations in {} trials:\n  {}\n\nfirst trial that went wrong:\n{}",
                self.violations(),
                self.trials,
                self.problems.join("\n  "),
                self.first_logs.as_deref().unwrap_or("")
            );
        }
    }
}

/// What a trial must check beyond the common invariants.
#[derive(Default)]
struct Expect {
    /// Runs were killed: a server may be moved without any report saying so.
    killed: bool,
    /// This server must end moved (it was caught mid-move, then resumed).
    resumed: Option<String>,
}

/// Check one trial against the model and the reports; count into `tally`.
#[allow(clippy::too_many_arguments)]
fn referee(
    tally: &mut Tally,
    trial: &str,
    strategy: Strategy,
    names: &[String],
    named: &[String],
    cloud: &TestCloud,
    runs: &[Run],
    expect: &Expect,
) {
    let before = tally.violations();
    tally.trials += 1;
    tally.servers += names.len();
    // the cloud first finishes what the runs asked of it (deletes, mostly)
    let ids: Vec<String> = {
        let (servers, _) = model_view(&cloud.sim);
        names
            .iter()
            .filter_map(|n| servers.iter().find(|s| &s.name == n).map(|s| s.id.clone()))
            .collect()
    };
    settle(cloud, &ids);
    let (servers, images) = model_view(&cloud.sim);
    let originals: Vec<&ModelServer> = names
        .iter()
        .map(|n| {
            // the original is the first server of that name (replacements come later)
            servers
                .iter()
                .find(|s| &s.name == n)
                .unwrap_or_else(|| panic!("{trial}: {n} is in the scenario"))
        })
        .collect();
    let ids: BTreeSet<&str> = originals.iter().map(|s| s.id.as_str()).collect();

    // 1. the cloud
    let mut verdicts = BTreeMap::new();
    for src in &originals {
        let v = judge(strategy, src, &servers);
        match &v {
            Verdict::Moved => tally.moved += 1,
            Verdict::Intact => tally.intact += 1,
            Verdict::Lost(w) => {
                tally.lost += 1;
                tally.problem(trial, format!("LOST {w}"));
            }
            Verdict::Duplicated(w) => {
                tally.duplicated += 1;
                tally.problem(trial, format!("DUPLICATED {w}"));
            }
            Verdict::TwoRunning(w) => {
                tally.two_running += 1;
                tally.problem(trial, format!("TWO RUNNING COPIES {w}"));
            }
            Verdict::Broken(w) => {
                tally.broken += 1;
                tally.problem(trial, format!("BAD STATE {w}"));
            }
        }
        verdicts.insert(src.name.clone(), v);
    }
    if let Some(name) = &expect.resumed
        && verdicts.get(name) != Some(&Verdict::Moved)
    {
        tally.broken += 1;
        tally.problem(
            trial,
            format!(
                "{name} was caught mid-move by the kill but not finished by the runs after it: {:?}",
                verdicts.get(name)
            ),
        );
    }
    for im in images.iter().filter(|i| !i.deleted) {
        let snapshot = im
            .properties
            .get(TAG_SOURCE)
            .is_some_and(|s| ids.contains(s.as_str()));
        let record =
            im.properties.contains_key(TAG_CLAIM) || im.properties.contains_key(TAG_RUN_RECORD);
        if snapshot || record {
            tally.leftovers += 1;
            let props: BTreeMap<&String, &String> = im
                .properties
                .iter()
                .filter(|(k, _)| k.starts_with("azmove_"))
                .collect();
            tally.problem(
                trial,
                format!(
                    "LEFTOVER {} {} ({}) {:?}",
                    if snapshot {
                        "snapshot"
                    } else {
                        "claim/run record"
                    },
                    im.id,
                    im.status,
                    props
                ),
            );
        }
    }

    // 2. the runs and their reports
    let mut moved_by: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut reported = false;
    for run in runs.iter().filter(|r| !r.killed) {
        let code = run.code;
        let code_ok = matches!(code, Some(0 | 5));
        if !code_ok {
            tally.bad_exits += 1;
            tally.problem(trial, format!("{} exited {code:?}", run.label));
        }
        let Some(report) = run.report() else {
            if code == Some(0) && run.output("out").contains("No changes") {
                // nothing to do: every server of its plan is unchanged
                // (no report is written then)
                reported = true;
                if run.plan == Plan::Named {
                    seen.extend(named.iter().cloned());
                }
                continue;
            }
            if code_ok {
                tally.bad_exits += 1;
                tally.problem(
                    trial,
                    format!("{} exited {code:?} without a report", run.label),
                );
            }
            continue;
        };
        reported = true;
        let rows = report["servers"].as_array().cloned().unwrap_or_default();
        let mut busy_or_changed = 0;
        let mut listed = BTreeSet::new();
        for row in &rows {
            let outcome = row["outcome"].as_str().unwrap_or("(none)");
            let name = row["name"].as_str().unwrap_or_default();
            let name = names
                .iter()
                .find(|n| n.as_str() == name)
                .or_else(|| {
                    originals
                        .iter()
                        .find(|o| row["source_id"] == o.id.as_str())
                        .map(|o| &o.name)
                })
                .cloned()
                .unwrap_or_else(|| name.to_owned());
            listed.insert(name.clone());
            seen.insert(name.clone());
            match outcome {
                "moved" => *moved_by.entry(name.clone()).or_default() += 1,
                "unchanged" => {}
                "busy" => {
                    busy_or_changed += 1;
                    tally.busy_rows += 1;
                }
                "failed" => {
                    tally.false_failures += 1;
                    tally.problem(
                        trial,
                        format!(
                            "FALSE FAILURE {} reports {name} failed: {}",
                            run.label,
                            row["message"].as_str().unwrap_or_default()
                        ),
                    );
                }
                other => {
                    if other == "changed" {
                        busy_or_changed += 1;
                    }
                    tally.report_errors += 1;
                    tally.problem(
                        trial,
                        format!(
                            "{} reports {name} `{other}` (only moved/unchanged/busy are right here): {}",
                            run.label,
                            row["message"].as_str().unwrap_or_default()
                        ),
                    );
                }
            }
        }
        let expected_code = if busy_or_changed > 0 { 5 } else { 0 };
        if code_ok && code != Some(expected_code) {
            tally.bad_exits += 1;
            tally.problem(
                trial,
                format!(
                    "{} exited {code:?} with {busy_or_changed} busy/changed rows (expected {expected_code})",
                    run.label
                ),
            );
        }
        if run.plan == Plan::Named {
            for n in named.iter().filter(|n| !listed.contains(*n)) {
                tally.report_errors += 1;
                tally.problem(
                    trial,
                    format!("{} does not report {n}, which its plan names", run.label),
                );
            }
        }
    }
    for n in names {
        let by = moved_by.get(n).copied().unwrap_or(0);
        if by > 1 {
            tally.report_errors += 1;
            tally.problem(trial, format!("{n} is reported moved by {by} runs"));
        }
        if !reported {
            continue;
        }
        if !seen.contains(n) {
            tally.report_errors += 1;
            tally.problem(trial, format!("{n} is in no report"));
        }
        match verdicts.get(n) {
            Some(Verdict::Moved) if by == 0 && !expect.killed => {
                tally.report_errors += 1;
                tally.problem(trial, format!("{n} moved, but no run reports it moved"));
            }
            Some(Verdict::Intact) if by > 0 => {
                tally.report_errors += 1;
                tally.problem(trial, format!("{n} is reported moved but is where it was"));
            }
            _ => {}
        }
    }
    if tally.violations() > before && tally.first_logs.is_none() {
        tally.first_logs = Some(format!(
            "{trial}\n{}",
            runs.iter().map(Run::tail).collect::<Vec<_>>().join("\n")
        ));
    }
}

// ------------------------------------------------------ concurrent trials

fn concurrent_case(strategy: Strategy, mode: Mode) {
    let _slot = slot();
    let case = format!("{} · {}", strategy.label(), mode.label());
    let trials = trials_from_env("AZMOVE_TRIALS", 20);
    let t0 = Instant::now();
    let prefixes: Vec<(String, usize)> = (0..trials)
        .map(|t| (format!("t{t:02}"), mode.servers()))
        .collect();
    let rt = runtime();
    let cloud = rt.block_on(start(cloud_for(strategy, &prefixes).build(), None));
    let env = os_env_as(&cloud.sim, Some(strategy.user()));
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = strategy.seed() * 100
        + match mode {
            Mode::Same(n) => n as u64,
            Mode::Overlap(n) => 10 + n as u64,
        };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    for (t, (prefix, n)) in prefixes.iter().enumerate() {
        let tdir = dir.path().join(prefix);
        std::fs::create_dir_all(&tdir).expect("trial dir");
        for plan in [Plan::Named, Plan::Select] {
            std::fs::write(tdir.join(plan.file()), plan_yaml(strategy, plan, prefix))
                .expect("plan file");
        }
        let mut runs = start_runs(&tdir, &env, &mode.plans(t), &mut rng);
        for r in &mut runs {
            r.wait();
        }
        let names = server_names(prefix, *n);
        referee(
            &mut tally,
            &format!("{case} trial {t}"),
            strategy,
            &names,
            &names[..3],
            &cloud,
            &runs,
            &Expect::default(),
        );
    }
    rt.block_on(cloud.sim.shutdown());
    tally.finish(&case, t0.elapsed());
}

macro_rules! concurrent_cases {
    ($($name:ident: $strategy:ident, $mode:expr;)*) => {$(
        #[test]
        fn $name() {
            concurrent_case(Strategy::$strategy, $mode);
        }
    )*};
}

concurrent_cases! {
    snapshot_keep_two_runs_one_plan: SnapshotKeep, Mode::Same(2);
    snapshot_keep_three_runs_one_plan: SnapshotKeep, Mode::Same(3);
    snapshot_keep_two_runs_overlapping_plans: SnapshotKeep, Mode::Overlap(2);
    snapshot_keep_three_runs_overlapping_plans: SnapshotKeep, Mode::Overlap(3);
    snapshot_delete_two_runs_one_plan: SnapshotDelete, Mode::Same(2);
    snapshot_delete_three_runs_one_plan: SnapshotDelete, Mode::Same(3);
    snapshot_delete_two_runs_overlapping_plans: SnapshotDelete, Mode::Overlap(2);
    snapshot_delete_three_runs_overlapping_plans: SnapshotDelete, Mode::Overlap(3);
    shelve_two_runs_one_plan: Shelve, Mode::Same(2);
    shelve_three_runs_one_plan: Shelve, Mode::Same(3);
    shelve_two_runs_overlapping_plans: Shelve, Mode::Overlap(2);
    shelve_three_runs_overlapping_plans: Shelve, Mode::Overlap(3);
    cold_two_runs_one_plan: Cold, Mode::Same(2);
    cold_three_runs_one_plan: Cold, Mode::Same(3);
    cold_two_runs_overlapping_plans: Cold, Mode::Overlap(2);
    cold_three_runs_overlapping_plans: Cold, Mode::Overlap(3);
    live_two_runs_one_plan: Live, Mode::Same(2);
    live_three_runs_one_plan: Live, Mode::Same(3);
    live_two_runs_overlapping_plans: Live, Mode::Overlap(2);
    live_three_runs_overlapping_plans: Live, Mode::Overlap(3);
}

// ------------------------------------------------ one of two runs killed

/// How far into its move the model shows server `id` (`None`: not
/// moving): 0 a task runs on it; 1 its snapshot exists (snapshot), or it
/// is half-way (shelved or offloaded, its disk copied, in VERIFY_RESIZE);
/// 2 its replacement exists (snapshot). With what was seen.
fn move_depth(m: &azmove::sim::model::Model, id: &str) -> Option<(u8, String)> {
    let s = &m.servers[m.server(id)?];
    if let Some(r) = m
        .servers
        .iter()
        .find(|r| !r.is_deleted() && r.metadata.get(TAG_SOURCE).map(String::as_str) == Some(id))
    {
        let what = format!("{}: its replacement {} is {}", s.name, r.id, r.status());
        return Some((2, what));
    }
    if let Some(im) = m
        .images
        .iter()
        .find(|im| !im.deleted && im.properties.get(TAG_SOURCE).map(String::as_str) == Some(id))
    {
        let what = format!("{}: its snapshot {} is {}", s.name, im.id, im.status);
        return Some((1, what));
    }
    let task = s.task_state.unwrap_or("none");
    let what = format!("{} {} with task_state {task}", s.name, s.status());
    let half_way = matches!(
        s.status(),
        "SHELVED" | "SHELVED_OFFLOADED" | "VERIFY_RESIZE"
    ) || matches!(
        task,
        "unshelving" | "spawning" | "resize_migrated" | "resize_finish"
    );
    if s.metadata.contains_key(TAG_MOVING_TO) && half_way {
        return Some((1, what));
    }
    s.task_state.map(|_| (0, what))
}

/// The first server of `ids` that the model shows at least `depth` into
/// its move (see [`move_depth`]): its id and what was seen.
fn caught_mid_move(cloud: &TestCloud, ids: &[String], depth: u8) -> Option<(String, String)> {
    let m = cloud.sim.sim().lock();
    ids.iter().find_map(|id| {
        move_depth(&m, id)
            .filter(|(d, _)| *d >= depth)
            .map(|(_, what)| (id.clone(), what))
    })
}

/// Wait until no task runs on the servers `ids` or on their replacements.
fn settle(cloud: &TestCloud, ids: &[String]) {
    let start = Instant::now();
    while start.elapsed() < RUN_LIMIT {
        let busy = {
            let m = cloud.sim.sim().lock();
            m.servers.iter().any(|s| {
                !s.is_deleted()
                    && s.task_state.is_some()
                    && (ids.contains(&s.id)
                        || s.metadata
                            .get(TAG_SOURCE)
                            .is_some_and(|src| ids.contains(src)))
            })
        };
        if !busy {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn killed_case(strategy: Strategy) {
    let _slot = slot();
    let case = format!("{} · 1 of 2 runs killed, a 3rd resumes", strategy.label());
    let trials = trials_from_env("AZMOVE_KILL_TRIALS", 5);
    let t0 = Instant::now();
    let prefixes: Vec<(String, usize)> = (0..trials).map(|t| (format!("k{t:02}"), 3)).collect();
    let rt = runtime();
    let cloud = rt.block_on(start(cloud_for(strategy, &prefixes).build(), None));
    let env = os_env_as(&cloud.sim, Some(strategy.user()));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(strategy.seed() * 100 + 99);
    let mut tally = Tally::default();
    let (servers, _) = model_view(&cloud.sim);
    for (t, (prefix, n)) in prefixes.iter().enumerate() {
        let trial = format!("{case} trial {t}");
        let tdir = dir.path().join(prefix);
        std::fs::create_dir_all(&tdir).expect("trial dir");
        std::fs::write(
            tdir.join(Plan::Named.file()),
            plan_yaml(strategy, Plan::Named, prefix),
        )
        .expect("plan file");
        let names = server_names(prefix, *n);
        let ids: Vec<String> = names
            .iter()
            .map(|n| {
                servers
                    .iter()
                    .find(|s| &s.name == n)
                    .map(|s| s.id.clone())
                    .expect("in the scenario")
            })
            .collect();
        // How deep into a move to kill, in turn: at its first task, with
        // its snapshot (or half-way in place), with its replacement.
        let depth = match strategy {
            Strategy::SnapshotKeep | Strategy::SnapshotDelete => (t % 3) as u8,
            Strategy::Shelve | Strategy::Cold => (t % 2) as u8,
            Strategy::Live => 0,
        };
        let mut runs = start_runs(&tdir, &env, &[Plan::Named, Plan::Named], &mut rng);

        // Watch the model until a server is mid-move and a run's journal
        // shows that run in the middle of that server's move; kill that run.
        // Only once both runs have planned (their journals say they
        // started, or they have ended): the survivor's plan is then made
        // while the other run lives, as in the trials above.
        let watch = Instant::now();
        let mut caught: Option<(usize, String, String, String)> = None;
        while caught.is_none() && watch.elapsed() < RUN_LIMIT {
            let alive: Vec<bool> = runs.iter_mut().map(Run::alive).collect();
            if !alive.contains(&true) {
                break;
            }
            let planned = runs.iter().zip(&alive).all(|(r, alive)| {
                !alive
                    || journal_events(&r.journal)
                        .iter()
                        .any(|e| e["event"] == "run_started")
            });
            if !planned {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            if let Some((id, seen)) = caught_mid_move(&cloud, &ids, depth) {
                for (k, run) in runs.iter_mut().enumerate() {
                    if run.child.is_none() {
                        continue;
                    }
                    if let Some(step) = step_in_flight(&run.journal, &id) {
                        run.kill();
                        caught = Some((k, id.clone(), seen.clone(), step));
                        break;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let (k, id, seen, step) = caught.unwrap_or_else(|| {
            panic!(
                "{trial}: no run was caught mid-move before both ended\n{}",
                runs.iter().map(Run::tail).collect::<Vec<_>>().join("\n")
            )
        });
        // The killed run really was mid-move: the model showed the move
        // under way, and its journal started a step of it and never
        // finished the server.
        let after = step_in_flight(&runs[k].journal, &id);
        assert!(
            after.is_some(),
            "{trial}: {} was killed while the model showed {seen}, but its journal has no move of {id} in flight",
            runs[k].label
        );
        eprintln!(
            "{trial}: killed {} at `{step}` while the model showed {seen}",
            runs[k].label
        );
        let name = names[ids.iter().position(|i| *i == id).expect("a trial server")].clone();

        // A third run, once the survivor has ended and the cloud has
        // finished what the killed run had asked of it (a plan made while
        // a task runs on a server refuses that server, claimed or not).
        for r in &mut runs {
            r.wait();
        }
        settle(&cloud, &ids);
        runs.push(Run::start(&tdir, &env, Plan::Named, "r2"));
        runs[2].wait();
        referee(
            &mut tally,
            &trial,
            strategy,
            &names,
            &names,
            &cloud,
            &runs,
            &Expect {
                killed: true,
                resumed: Some(name),
            },
        );
    }
    rt.block_on(cloud.sim.shutdown());
    tally.finish(&case, t0.elapsed());
}

#[test]
fn snapshot_keep_one_of_two_runs_killed_then_resumed() {
    killed_case(Strategy::SnapshotKeep);
}

#[test]
fn snapshot_delete_one_of_two_runs_killed_then_resumed() {
    killed_case(Strategy::SnapshotDelete);
}

#[test]
fn shelve_one_of_two_runs_killed_then_resumed() {
    killed_case(Strategy::Shelve);
}

#[test]
fn cold_one_of_two_runs_killed_then_resumed() {
    killed_case(Strategy::Cold);
}

#[test]
fn live_one_of_two_runs_killed_then_resumed() {
    killed_case(Strategy::Live);
}

// ------------------------------------------------- a person acting mid-move

/// A person, acting on the simulator's model under its lock (so what
/// they saw is still true when they act): `Some(what they saw)` once
/// they acted.
type Act = fn(&mut azmove::sim::model::Model, &azmove::sim::Sim, &str) -> Option<String>;

/// One snapshot/delete run of the server `person-a` while a person does
/// `act` behind its back. The person must act while the run's step is one
/// of `steps`; then the run must stop the move, undo its own work and say
/// so: `changed`, exit 5, no snapshot, replacement, claim or run record
/// left, the source not deleted, and `source_ok` about the source.
fn person_case(case: &str, act: Act, steps: &[&str], source_ok: fn(&ModelServer) -> Vec<String>) {
    let _slot = slot();
    let t0 = Instant::now();
    let rt = runtime();
    let cloud = rt.block_on(start(
        cloud_for(Strategy::SnapshotDelete, &[("person".into(), 1)]).build(),
        None,
    ));
    let env = os_env_as(&cloud.sim, Some("admin"));
    let dir = tempfile::tempdir().expect("tempdir");
    let (servers, _) = model_view(&cloud.sim);
    let id = servers
        .iter()
        .find(|s| s.name == "person-a")
        .map(|s| s.id.clone())
        .expect("person-a");
    let plan = format!(
        "{}  - server: person-a\n    to: {TARGET_AZ}\n",
        plan_head(Strategy::SnapshotDelete)
    );
    std::fs::write(dir.path().join(Plan::Named.file()), plan).expect("plan file");
    let mut run = Run::start(dir.path(), &env, Plan::Named, "run");
    let watch = Instant::now();
    let mut acted = None;
    while acted.is_none() && watch.elapsed() < RUN_LIMIT && run.alive() {
        {
            let sim = cloud.sim.sim();
            let mut m = sim.lock();
            if let Some(seen) = act(&mut m, sim, &id) {
                // the run cannot get past the cloud while the lock is held
                let step = step_in_flight(&run.journal, &id).unwrap_or_else(|| "(none)".into());
                acted = Some((seen, step));
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let (seen, step) =
        acted.unwrap_or_else(|| panic!("{case}: the person never got to act:\n{}", run.tail()));
    eprintln!("{case}: the person acted while the run was at `{step}`: {seen}");
    assert!(
        steps.contains(&step.as_str()),
        "{case}: the person acted while the run was at `{step}`, not at one of {steps:?}"
    );
    run.wait();
    settle(&cloud, std::slice::from_ref(&id));

    let mut tally = Tally {
        trials: 1,
        servers: 1,
        ..Tally::default()
    };
    let report = run.report();
    let row = report
        .as_ref()
        .and_then(|r| {
            r["servers"]
                .as_array()
                .and_then(|rows| rows.first().cloned())
        })
        .unwrap_or_default();
    let (servers, images) = model_view(&cloud.sim);
    let source = servers
        .iter()
        .find(|s| s.id == id)
        .cloned()
        .expect("the source record exists");
    let replacements: Vec<String> = servers
        .iter()
        .filter(|s| !s.deleted && s.metadata.get(TAG_SOURCE) == Some(&id))
        .map(|s| format!("{} {} in {}", s.id, s.status, s.az))
        .collect();
    let leftovers: Vec<String> = images
        .iter()
        .filter(|i| {
            !i.deleted
                && (i.properties.get(TAG_SOURCE) == Some(&id)
                    || i.properties.contains_key(TAG_CLAIM)
                    || i.properties.contains_key(TAG_RUN_RECORD))
        })
        .map(|i| format!("{} {} ({})", i.id, i.name, i.status))
        .collect();
    if source.deleted {
        tally.lost += 1;
        tally.problem(
            case,
            "LOST: the source the person started was deleted".into(),
        );
    } else if replacements.is_empty() {
        tally.intact += 1;
    } else {
        tally.two_running += usize::from(source.status == "ACTIVE");
        tally.leftovers += 1;
        tally.problem(case, format!("replacements left: {replacements:?}"));
    }
    if !leftovers.is_empty() {
        tally.leftovers += leftovers.len();
        tally.problem(case, format!("images left: {leftovers:?}"));
    }
    for w in source_ok(&source) {
        tally.broken += 1;
        tally.problem(case, w);
    }
    match row["outcome"].as_str() {
        Some("changed") => {}
        Some("failed") => {
            tally.false_failures += 1;
            tally.problem(case, format!("reported failed: {}", row["message"]));
        }
        other => {
            tally.report_errors += 1;
            tally.problem(
                case,
                format!("reported {other:?}, not `changed`: {}", row["message"]),
            );
        }
    }
    let counts = report
        .as_ref()
        .map(|r| r["counts"].clone())
        .unwrap_or_default();
    if counts["changed"] != 1 || counts["failed"] != 0 {
        tally.report_errors += 1;
        tally.problem(case, format!("counts {counts}"));
    }
    if run.code != Some(5) {
        tally.bad_exits += 1;
        tally.problem(case, format!("exited {:?}, not 5", run.code));
    }
    if tally.violations() > 0 {
        tally.first_logs = Some(run.tail());
    }
    rt.block_on(cloud.sim.shutdown());
    tally.finish(case, t0.elapsed());
}

/// (a) While the run waits for its snapshot, a person starts the stopped
/// source again — as soon as the snapshot task lets them, before any
/// replacement exists. The run must not delete that source, must delete
/// its snapshot (and any replacement), and report `changed`, exit 5.
#[test]
fn a_person_starting_the_source_while_the_snapshot_is_taken_stops_the_move() {
    person_case(
        "person starts the source mid-snapshot",
        |m, sim, id| {
            let i = m.server(id)?;
            let snapshot = m.images.iter().find(|im| {
                !im.deleted && im.properties.get(TAG_SOURCE).map(String::as_str) == Some(id)
            })?;
            let status = snapshot.status.clone();
            let replacement = m.servers.iter().any(|r| {
                !r.is_deleted() && r.metadata.get(TAG_SOURCE).map(String::as_str) == Some(id)
            });
            let s = &m.servers[i];
            if replacement || s.vm_state != VmState::Stopped || s.task_state.is_some() {
                return None;
            }
            let caller = owner_of(m, i);
            let now = sim.env.clock.now();
            m.start_server(i, &caller, now, &sim.env)
                .expect("the person starts the source");
            Some(format!(
                "the source SHUTOFF, its snapshot {status}, no replacement yet"
            ))
        },
        &["stop source", "snapshot", "wait image active"],
        |source| {
            let mut wrong = Vec::new();
            if source.status != "ACTIVE" || source.az != SOURCE_AZ {
                wrong.push(format!(
                    "the source the person started is {} in {}",
                    source.status, source.az
                ));
            }
            if source.metadata.contains_key(TAG_MOVED_TO) {
                wrong.push(format!("the source is tagged {TAG_MOVED_TO}"));
            }
            wrong
        },
    );
}

/// (b) While the run waits for its replacement to become ACTIVE, a person
/// deletes the replacement. The run must report `changed` (exit 5), start
/// the source it stopped again and leave it where it was, untagged, with
/// nothing of the move left behind.
#[test]
fn a_person_deleting_the_replacement_while_it_boots_stops_the_move() {
    person_case(
        "person deletes the booting replacement",
        |m, sim, id| {
            let r = m.servers.iter().position(|r| {
                !r.is_deleted()
                    && r.metadata.get(TAG_SOURCE).map(String::as_str) == Some(id)
                    && r.status() == "BUILD"
            })?;
            let rid = m.servers[r].id.clone();
            let caller = owner_of(m, r);
            let now = sim.env.clock.now();
            m.delete_server(r, &caller, now, &sim.env)
                .expect("the person deletes the replacement");
            Some(format!("its replacement {rid} in BUILD"))
        },
        &["boot in target AZ", "wait ACTIVE"],
        |source| {
            let mut wrong = Vec::new();
            if (
                source.status.as_str(),
                source.az.as_str(),
                source.task_state.as_deref(),
            ) != ("ACTIVE", SOURCE_AZ, None)
            {
                wrong.push(format!(
                    "the source azmove stopped is not running again where it was: {} in {} (task {:?})",
                    source.status, source.az, source.task_state
                ));
            }
            for tag in [TAG_STOPPED, TAG_MOVED_TO, TAG_MOVING_TO] {
                if source.metadata.contains_key(tag) {
                    wrong.push(format!("{tag} left on the source"));
                }
            }
            wrong
        },
    );
}
