//! Two runs, one cloud — on a real OpenStack: two `azmove apply`
//! processes of one plan, started 0–3 s apart (seeded), on 2 fresh
//! servers per trial, for `strategy: snapshot` with `source_after: delete`
//! and with `keep`, and `auto` as the member (which chooses shelve). The
//! real `azmove` binary acts; raw HTTP (tests/it/real_cloud/os_http.rs) judges,
//! never azmove's own client or its reports alone.
//!
//! After every trial: each original server is there exactly once — intact,
//! or moved (shelve: same UUID ACTIVE in nova2, no move tag left;
//! snapshot: exactly one ACTIVE replacement in nova2, the source deleted
//! or kept SHUTOFF) — never two running copies; no snapshot left, and no
//! claim or run record among the hidden images (`GET /v2/images?os_hidden=true`);
//! no `failed` row (nothing is injected, so any is a false failure); both
//! runs exit 0 or 5, in step with their reports; each server is reported
//! moved by at most one run, and listed by every run's report.
//!
//! Skipped like tests/it/real_cloud/end_to_end.rs when the harness cloud is not running
//! (a failure instead with `AZMOVE_REAL_CLOUD_REQUIRED=1`, as in
//! tests/cloud/ci.sh). Trials per case: `AZMOVE_REAL_TRIALS` (default 5).
//!
//! ```text
//! tests/cloud/cloud up && cargo test --test it real_cloud::concurrent:: -- --ignored --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::e2e::{
    Azmove, Boot, RUN_LIMIT, Run, SOURCE_AZ, TAG_SOURCE, TARGET_AZ, Who, World, boot_all,
    earliest_created, guarded, must, new_tag, path_str, servers_ever, str_of, world_or_skip,
};
use super::os_http::{Session, compact};
use futures::FutureExt;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// azmove's marks, read by name (docs/apply.md).
const TAG_MOVING_TO: &str = "azmove_moving_to";
const TAG_CLAIM: &str = "azmove_claim";
const TAG_RUN: &str = "azmove_run";
const TAG_RUN_RECORD: &str = "azmove_run_record";

/// Start offsets of the two runs: 0–3 s.
const MAX_OFFSET_MS: u64 = 3000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    SnapshotDelete,
    SnapshotKeep,
    /// `auto` as the member: shelve (cold and live need the admin role).
    Auto,
}

impl Case {
    fn label(self) -> &'static str {
        match self {
            Case::SnapshotDelete => "snapshot/delete · 2 runs, one plan",
            Case::SnapshotKeep => "snapshot/keep · 2 runs, one plan",
            Case::Auto => "auto (member: shelve) · 2 runs, one plan",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Case::SnapshotDelete => "conc-del",
            Case::SnapshotKeep => "conc-keep",
            Case::Auto => "conc-auto",
        }
    }

    fn defaults(self) -> &'static str {
        match self {
            Case::SnapshotDelete => "  strategy: snapshot\n  source_after: delete\n",
            Case::SnapshotKeep => "  strategy: snapshot\n  source_after: keep\n",
            Case::Auto => "  strategy: auto\n",
        }
    }

    fn seed(self) -> u64 {
        match self {
            Case::SnapshotDelete => 21,
            Case::SnapshotKeep => 22,
            Case::Auto => 23,
        }
    }
}

#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn two_runs_of_one_snapshot_delete_plan() {
    concurrent("two_runs_of_one_snapshot_delete_plan", Case::SnapshotDelete).await;
}

#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn two_runs_of_one_snapshot_keep_plan() {
    concurrent("two_runs_of_one_snapshot_keep_plan", Case::SnapshotKeep).await;
}

#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn two_runs_of_one_auto_plan_as_a_member() {
    concurrent("two_runs_of_one_auto_plan_as_a_member", Case::Auto).await;
}

/// What the trials made that is not named with the tag (so that
/// [`guarded`] would not find it): hidden claims and run records.
#[derive(Default)]
struct Made {
    sources: BTreeSet<String>,
    runs: BTreeSet<String>,
}

async fn concurrent(test: &str, case: Case) {
    let Some(world) = world_or_skip(test).await else {
        return;
    };
    let tag = new_tag(case.short());
    let made = Mutex::new(Made::default());
    guarded(&world, &tag, async {
        let outcome = std::panic::AssertUnwindSafe(trials(&world, &tag, case, &made))
            .catch_unwind()
            .await;
        let made = made.into_inner().unwrap_or_else(|e| e.into_inner());
        sweep_hidden(&world.admin, &made).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    })
    .await;
}

fn is_ours(image: &Value, sources: &BTreeSet<String>, runs: &BTreeSet<String>) -> bool {
    let in_set =
        |key: &str, set: &BTreeSet<String>| image[key].as_str().is_some_and(|v| set.contains(v));
    in_set(TAG_CLAIM, sources)
        || in_set(TAG_SOURCE, sources)
        || in_set(TAG_RUN_RECORD, runs)
        || in_set(TAG_RUN, runs)
}

/// Delete the hidden images the trials' runs left (best effort: printed,
/// never raised, so that it cannot hide the test's own failure).
async fn sweep_hidden(admin: &Session, made: &Made) {
    match super::e2e::list_hidden_images(admin).await {
        Ok(images) => {
            for image in images
                .iter()
                .filter(|i| is_ours(i, &made.sources, &made.runs))
            {
                let id = image["id"].as_str().unwrap_or_default();
                if let Err(e) = admin.delete("image", &format!("/v2/images/{id}")).await {
                    eprintln!("cleanup: {e}");
                }
            }
        }
        Err(e) => eprintln!("cleanup: listing hidden images: {e}"),
    }
}

fn plan_text(case: Case, names: &[String]) -> String {
    let mut y = format!(
        "version: 1\ndefaults:\n{}limits:\n  concurrency: 4\n  requests_per_second: 20\nmoves:\n",
        case.defaults()
    );
    for n in names {
        y.push_str(&format!("  - server: \"{n}\"\n    to: {TARGET_AZ}\n"));
    }
    y
}

/// One run of a trial, ended.
struct Ended {
    label: String,
    run: Run,
    report: Option<Value>,
}

async fn trials(world: &World, tag: &str, case: Case, made: &Mutex<Made>) {
    let t0 = Instant::now();
    let trials: usize = match std::env::var("AZMOVE_REAL_TRIALS") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("AZMOVE_REAL_TRIALS={v:?} is not a number")),
        Err(_) => 5,
    };
    let member = &world.member;
    let names_of = |t: usize| vec![format!("{tag}-{t}-a"), format!("{tag}-{t}-b")];
    let specs: Vec<Boot> = (0..trials).flat_map(names_of).map(Boot::new).collect();
    let sources = must(boot_all(member, world, &specs).await);
    let since = earliest_created(&sources);
    let id_of = |name: &str| str_of(&sources[name]["id"], "id").to_owned();
    made.lock()
        .unwrap_or_else(|e| e.into_inner())
        .sources
        .extend(sources.keys().map(|n| id_of(n)));

    let az = Azmove::new(world);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(case.seed());
    let mut tally = Tally::default();
    for t in 0..trials {
        let trial = format!("{} trial {t}", case.label());
        let names = names_of(t);
        let plan = az.write_plan(&format!("plan-{t}.yaml"), &plan_text(case, &names));
        let plan = path_str(&plan).to_owned();

        // two runs, 0–3 s apart
        let mut offsets: Vec<(u64, usize)> = (0..2)
            .map(|k| (rng.random_range(0..=MAX_OFFSET_MS), k))
            .collect();
        offsets.sort();
        let start = tokio::time::Instant::now();
        let mut running = Vec::new();
        for (ms, k) in offsets {
            tokio::time::sleep_until(start + Duration::from_millis(ms)).await;
            let label = format!("t{t}-r{k}");
            let report = az.path(&format!("{label}.json"));
            let journal = az.path(&format!("{label}-journal"));
            let args = [
                "apply",
                plan.as_str(),
                "--os-cloud",
                Who::Member.cloud(),
                "--yes",
                "--report",
                path_str(&report),
                "--journal-dir",
                path_str(&journal),
            ];
            running.push((label.clone(), az.spawn(&args, &label), report, journal));
        }
        let mut ended = Vec::new();
        for (label, mut r, report, journal) in running {
            let run = r.finish(RUN_LIMIT).await;
            println!("{trial}: `{}` exited {:?}", run.command, run.code);
            made.lock().unwrap_or_else(|e| e.into_inner()).runs.extend(
                crate::support::apply::journal_events(&journal)
                    .iter()
                    .filter_map(|e| e["run"].as_str().map(str::to_owned)),
            );
            let report = std::fs::read_to_string(&report)
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok());
            ended.push(Ended { label, run, report });
        }
        let ids: BTreeMap<String, String> = names.iter().map(|n| (n.clone(), id_of(n))).collect();
        let runs = made.lock().unwrap_or_else(|e| e.into_inner()).runs.clone();
        referee(&mut tally, &trial, world, case, &ids, &since, &ended, &runs).await;
    }
    tally.finish(case.label(), t0.elapsed());
}

// ------------------------------------------------------------ the referee

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Moved,
    Intact,
    Lost(String),
    Duplicated(String),
    TwoRunning(String),
    Broken(String),
}

fn describe(s: &Value) -> String {
    format!(
        "{} {} in {}{}",
        s["id"].as_str().unwrap_or_default(),
        s["status"].as_str().unwrap_or_default(),
        s["OS-EXT-AZ:availability_zone"]
            .as_str()
            .unwrap_or_default(),
        s["OS-EXT-STS:task_state"]
            .as_str()
            .map(|t| format!(" (task {t})"))
            .unwrap_or_default()
    )
}

fn at_rest(s: &Value, status: &str, az: &str) -> bool {
    s["status"] == status
        && s["OS-EXT-AZ:availability_zone"] == az
        && s["OS-EXT-STS:task_state"].is_null()
}

/// What became of source `id` (`src`: how it is now, `None` once deleted),
/// given the servers named with the tag (`now`).
fn judge(case: Case, name: &str, id: &str, src: Option<&Value>, now: &[Value]) -> Verdict {
    let reps = super::e2e::replacements_of(now, id);
    let reps_text = || {
        reps.iter()
            .map(|r| describe(r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if case == Case::Auto {
        let Some(src) = src else {
            return Verdict::Lost(format!("{name} was deleted (moved in place)"));
        };
        if !reps.is_empty() {
            return Verdict::Duplicated(format!(
                "{name} moved in place has servers made for it: {}",
                reps_text()
            ));
        }
        let tagged = !src["metadata"][TAG_MOVING_TO].is_null();
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
    let good = reps
        .iter()
        .filter(|r| at_rest(r, "ACTIVE", TARGET_AZ))
        .count();
    if src.is_none() && good == 0 {
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
    if let Some(s) = src
        && s["status"] == "ACTIVE"
        && reps.iter().any(|r| r["status"] == "ACTIVE")
    {
        return Verdict::TwoRunning(format!(
            "{name}: the source runs next to its replacement {}",
            reps_text()
        ));
    }
    if reps.is_empty() {
        return match src {
            Some(s) if at_rest(s, "ACTIVE", SOURCE_AZ) => Verdict::Intact,
            Some(s) => Verdict::Broken(format!(
                "{name}: no replacement, the source is {}",
                describe(s)
            )),
            None => Verdict::Lost(format!("{name}: no source, no replacement")),
        };
    }
    if good != 1 {
        return Verdict::Broken(format!("{name}: its replacement is {}", reps_text()));
    }
    match (case, src) {
        (Case::SnapshotKeep, Some(s)) if at_rest(s, "SHUTOFF", SOURCE_AZ) => Verdict::Moved,
        (Case::SnapshotDelete, None) => Verdict::Moved,
        (_, Some(s)) => Verdict::Broken(format!(
            "{name}: the source is {} next to its replacement",
            describe(s)
        )),
        (_, None) => Verdict::Broken(format!("{name}: source_after keep, but the source is gone")),
    }
}

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
    /// Servers booted for a source beyond the one replacement (info).
    extra_boots: usize,
    problems: Vec<String>,
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

    fn finish(&self, case: &str, wall: Duration) {
        eprintln!(
            "\n{:<42} {:>6} {:>7} {:>6} {:>6} {:>5} {:>4} {:>5} {:>6} {:>8} {:>9} {:>5} {:>6} {:>7} {:>6} {:>6}",
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
            "boots+",
            "wall"
        );
        eprintln!(
            "{:<42} {:>6} {:>7} {:>6} {:>6} {:>5} {:>4} {:>5} {:>6} {:>8} {:>9} {:>5} {:>6} {:>7} {:>6} {:>5.0}s",
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
            self.extra_boots,
            wall.as_secs_f64()
        );
        eprintln!(
            "(boots+: replacements booted beyond one per moved source and deleted again, for information)"
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

#[allow(clippy::too_many_arguments)]
async fn referee(
    tally: &mut Tally,
    trial: &str,
    world: &World,
    case: Case,
    ids: &BTreeMap<String, String>,
    since: &str,
    runs: &[Ended],
    run_ids: &BTreeSet<String>,
) {
    let before = tally.violations();
    tally.trials += 1;
    tally.servers += ids.len();
    let admin = &world.admin;
    let prefix = {
        let first = ids.keys().next().expect("a trial has servers");
        first[..first.len() - 1].to_owned() // "<tag>-<t>-"
    };

    // 1. the cloud, once it has finished what the runs asked of it
    // (deletes, mostly); a server still being deleted counts as gone
    let settled = std::time::Instant::now();
    let mut now = must(super::e2e::list_servers(&world.member, &prefix, false).await);
    while now.iter().any(|s| !s["OS-EXT-STS:task_state"].is_null())
        && settled.elapsed() < super::e2e::LIMIT
    {
        tokio::time::sleep(Duration::from_secs(1)).await;
        now = must(super::e2e::list_servers(&world.member, &prefix, false).await);
    }
    now.retain(|s| s["OS-EXT-STS:task_state"] != "deleting");
    let ever = servers_ever(&world.member, &prefix, since).await;
    let mut verdicts = BTreeMap::new();
    for (name, id) in ids {
        let src = must(super::e2e::show_server(admin, id).await)
            .filter(|s| s["OS-EXT-STS:task_state"] != "deleting");
        let v = judge(case, name, id, src.as_ref(), &now);
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
        if case != Case::Auto && v == Verdict::Moved {
            let booted = ever
                .iter()
                .filter(|s| s["name"] == name.as_str() && s["id"] != id.as_str())
                .count();
            tally.extra_boots += booted.saturating_sub(1);
        }
        verdicts.insert(name.clone(), v);
    }
    let sources: BTreeSet<String> = ids.values().cloned().collect();
    for left in must(super::e2e::leftover_snapshots(admin, &prefix, &sources).await) {
        tally.leftovers += 1;
        tally.problem(trial, format!("LEFTOVER image {left}"));
    }
    for image in must(super::e2e::list_hidden_images(admin).await) {
        if is_ours(&image, &sources, run_ids) {
            tally.leftovers += 1;
            let marks: BTreeMap<&String, &Value> = image
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| k.starts_with("azmove_"))
                .collect();
            tally.problem(
                trial,
                format!(
                    "LEFTOVER hidden image {} ({}) {}",
                    image["id"].as_str().unwrap_or_default(),
                    image["status"].as_str().unwrap_or_default(),
                    compact(&serde_json::json!(marks))
                ),
            );
        }
    }

    // 2. the runs and their reports
    let mut moved_by: BTreeMap<String, usize> = BTreeMap::new();
    for r in runs {
        let code = r.run.code;
        let code_ok = matches!(code, Some(0 | 5));
        if !code_ok {
            tally.bad_exits += 1;
            tally.problem(trial, format!("{} exited {code:?}", r.label));
        }
        let Some(report) = &r.report else {
            if code == Some(0) && r.run.stdout.contains("No changes") {
                continue; // nothing to do: both servers unchanged, no report written
            }
            if code_ok {
                tally.bad_exits += 1;
                tally.problem(
                    trial,
                    format!("{} exited {code:?} without a report", r.label),
                );
            }
            continue;
        };
        let mut busy_or_changed = 0;
        let mut listed = BTreeSet::new();
        for row in report["servers"].as_array().into_iter().flatten() {
            let name = row["name"].as_str().unwrap_or_default().to_owned();
            let outcome = row["outcome"].as_str().unwrap_or("(none)");
            listed.insert(name.clone());
            match outcome {
                "moved" => {
                    *moved_by.entry(name.clone()).or_default() += 1;
                    if case == Case::Auto && row["strategy"] != "shelve" {
                        tally.report_errors += 1;
                        tally.problem(
                            trial,
                            format!(
                                "{} moved {name} by {}, not shelve",
                                r.label, row["strategy"]
                            ),
                        );
                    }
                }
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
                            r.label, row["message"]
                        ),
                    );
                }
                other => {
                    busy_or_changed += usize::from(other == "changed");
                    tally.report_errors += 1;
                    tally.problem(
                        trial,
                        format!(
                            "{} reports {name} `{other}` (only moved/unchanged/busy are right here): {}",
                            r.label, row["message"]
                        ),
                    );
                }
            }
        }
        let expected = if busy_or_changed > 0 { 5 } else { 0 };
        if code_ok && code != Some(expected) {
            tally.bad_exits += 1;
            tally.problem(
                trial,
                format!(
                    "{} exited {code:?} with {busy_or_changed} busy/changed rows (expected {expected})",
                    r.label
                ),
            );
        }
        for n in ids.keys().filter(|n| !listed.contains(*n)) {
            tally.report_errors += 1;
            tally.problem(
                trial,
                format!("{} does not report {n}, which its plan names", r.label),
            );
        }
    }
    for name in ids.keys() {
        let by = moved_by.get(name).copied().unwrap_or(0);
        let wrong = match verdicts.get(name) {
            _ if by > 1 => Some(format!("{name} is reported moved by {by} runs")),
            Some(Verdict::Moved) if by == 0 => {
                Some(format!("{name} moved, but no run reports it moved"))
            }
            Some(Verdict::Intact) if by > 0 => {
                Some(format!("{name} is reported moved but is where it was"))
            }
            _ => None,
        };
        if let Some(w) = wrong {
            tally.report_errors += 1;
            tally.problem(trial, w);
        }
    }
    if tally.violations() > before && tally.first_logs.is_none() {
        let tail = |text: &str| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(12)..].join("\n")
        };
        tally.first_logs = Some(format!(
            "{trial}\n{}",
            runs.iter()
                .map(|r| format!(
                    "--- {} exit {:?}\n{}\n{}",
                    r.label,
                    r.run.code,
                    tail(&r.run.stderr),
                    tail(&r.run.stdout)
                ))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
}
