//! `azmove validate` on good and bad plan files: the real binary, plus the
//! loader as a library for hostile and generated inputs. Nothing here may
//! make the loader panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use azmove::plan::file::{
    Limits, MoveEntry, Options, PlanFile, Selector, SourceAfter, Strategy as MoveStrategy, Timeouts,
};
use azmove::plan::parse::{MAX_PLAN_BYTES, parse_plan, parse_plan_lenient};
use azmove::yaml::to_yaml_string;
use predicates::prelude::*;
use proptest::prelude::*;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/plans")
        .join(name)
}

fn azmove() -> Command {
    let mut c = Command::cargo_bin("azmove").expect("binary built");
    c.env("NO_COLOR", "1").arg("--color").arg("never");
    c
}

/// Run `azmove validate` on a file; return (exit code, stdout, stderr).
fn validate(path: &Path) -> (i32, String, String) {
    let out = azmove().arg("validate").arg(path).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Expect a failure whose stderr contains every needle.
fn rejects(path: &Path, needles: &[&str]) -> String {
    let (code, stdout, stderr) = validate(path);
    assert_eq!(
        code,
        1,
        "expected exit 1 for {}\nstdout: {stdout}\nstderr: {stderr}",
        path.display()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}:\n{stderr}");
    }
    stderr
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn the_example_plans_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    azmove()
        .arg("validate")
        .arg(root.join("plans/seed.yaml"))
        .arg(root.join("plans/fleet.yaml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("seed.yaml (1 move)"))
        .stdout(predicate::str::contains("fleet.yaml (5 moves)"));
}

#[test]
fn empty_file() {
    rejects(&data("empty.yaml"), &["the file is empty", "version: 1"]);
}

#[test]
fn non_utf8_bytes() {
    rejects(
        &data("latin1.yaml"),
        &["not UTF-8", "line 3", "save the file as UTF-8"],
    );
}

#[test]
fn a_50_mb_file_is_refused_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let line = b"# padding padding padding padding padding padding padding padding\n";
    let mut bytes = b"version: 1\nmoves: []\n".to_vec();
    while bytes.len() < 50 * 1024 * 1024 {
        bytes.extend_from_slice(line);
    }
    let p = write(&dir, "huge.yaml", &bytes);
    rejects(&p, &["huge.yaml", "50.0 MiB", "up to 10 MiB"]);
    assert!(bytes.len() > MAX_PLAN_BYTES);
}

#[test]
fn alias_bomb() {
    rejects(
        &data("alias-bomb.yaml"),
        &["alias bomb", "alias-bomb.yaml:"],
    );
}

#[test]
fn one_hundred_thousand_nesting_levels() {
    let dir = tempfile::tempdir().unwrap();
    let flow = format!(
        "version: 1\nmoves: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    rejects(
        &write(&dir, "flow.yaml", flow.as_bytes()),
        &["nested more than 64 levels", "flow.yaml:2:"],
    );
    let block = format!("version: 1\nmoves: \n  {}x\n", "- ".repeat(100_000));
    rejects(
        &write(&dir, "block.yaml", block.as_bytes()),
        &["nested more than 64 levels"],
    );
    let maps = format!("{}x\n", "{a: ".repeat(100_000));
    rejects(
        &write(&dir, "maps.yaml", maps.as_bytes()),
        &["nested more than 64 levels"],
    );
}

#[test]
fn tab_indentation() {
    rejects(
        &data("tab-indented.yaml"),
        &["tab-indented.yaml:3:", "tab character", "spaces"],
    );
}

#[test]
fn a_json_file_that_matches_the_schema_is_accepted() {
    azmove()
        .arg("validate")
        .arg(data("plan.json"))
        .assert()
        .success()
        .stdout(predicate::str::contains("plan.json (1 move)"));
}

#[test]
fn a_plan_with_10000_entries_validates() {
    let dir = tempfile::tempdir().unwrap();
    let mut text =
        String::from("version: 1\nlimits: {concurrency: 16, per_az: {nova2: 8}}\nmoves:\n");
    for i in 0..10_000 {
        text.push_str(&format!("  - server: vm{i:05}\n    to: nova2\n"));
        if i > 0 && i % 10 == 0 {
            text.push_str(&format!("    after: [vm{:05}]\n", i - 1));
        }
    }
    let p = write(&dir, "big.yaml", text.as_bytes());
    let start = Instant::now();
    let (code, stdout, stderr) = validate(&p);
    eprintln!(
        "validating 10,000 entries (binary, including start-up): {:?}",
        start.elapsed()
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(10000 moves)"), "{stdout}");
}

#[test]
fn unknown_key_gets_a_suggestion() {
    rejects(
        &data("unknown-key.yaml"),
        &[
            "unknown-key.yaml:5:5",
            "unknown key `sourceafter`",
            "did you mean `source_after`?",
        ],
    );
}

#[test]
fn three_mistakes_give_three_located_diagnostics() {
    let stderr = rejects(
        &data("three-mistakes.yaml"),
        &[
            "three-mistakes.yaml:3:16",
            "three-mistakes.yaml:7:5",
            "three-mistakes.yaml:10:13",
            "concurrency: 0",
            "sourceafter: keep",
            "after: [db1]",
            "did you mean `db01`?",
            "3 problems",
        ],
    );
    // Each diagnostic shows its source line with a caret under the value.
    assert!(stderr.matches("╰──").count() >= 3, "{stderr}");
}

#[test]
fn cycle_is_printed() {
    rejects(&data("cycle.yaml"), &["a → b → c → a", "cycle.yaml:8:13"]);
}

#[test]
fn unknown_after_reference() {
    rejects(
        &data("unknown-after.yaml"),
        &[
            "unknown-after.yaml:7:13",
            "`after` names `db02`",
            "did you mean `db01`?",
        ],
    );
}

#[test]
fn duplicate_server() {
    rejects(
        &data("duplicate-server.yaml"),
        &[
            "duplicate-server.yaml:5:13",
            "server `web01` is listed twice",
            "first listed here",
        ],
    );
}

#[test]
fn duplicate_key() {
    rejects(
        &data("duplicate-key.yaml"),
        &[
            "duplicate-key.yaml:5:5",
            "duplicate key `to`",
            "first defined here",
        ],
    );
}

#[test]
fn bad_duration_unit() {
    rejects(
        &data("bad-duration.yaml"),
        &[
            "bad-duration.yaml:4:15",
            "unknown unit `minuts`",
            "units: ms, s, m, h, d",
        ],
    );
}

#[test]
fn bad_glob() {
    rejects(
        &data("bad-glob.yaml"),
        &["bad-glob.yaml:5:13", "not a valid glob"],
    );
}

#[test]
fn unsupported_version() {
    rejects(
        &data("unsupported-version.yaml"),
        &[
            "unsupported-version.yaml:1:10",
            "version 2 is not supported",
            "upgrade azmove",
        ],
    );
}

#[test]
fn misspelt_strategy_is_named_with_the_allowed_ones() {
    rejects(
        &data("unknown-strategy.yaml"),
        &[
            "unknown-strategy.yaml:5:15",
            "cannot be `lvie`",
            "did you mean `live`?",
            "`shelve`, `cold`, `live`, `auto`",
        ],
    );
}

#[test]
fn every_file_is_checked_and_the_good_one_reported() {
    let out = azmove()
        .arg("validate")
        .arg(data("cycle.yaml"))
        .arg(data("plan.json"))
        .arg(data("does-not-exist.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("ok: ") && stdout.contains("plan.json"),
        "{stdout}"
    );
    assert!(stderr.contains("a → b → c → a"), "{stderr}");
    assert!(
        stderr.contains("does-not-exist.yaml") && stderr.contains("cannot read the file"),
        "{stderr}"
    );
    assert!(stderr.contains("2 of 3 files have problems"), "{stderr}");
}

#[test]
fn colour_only_when_asked() {
    let plain = azmove()
        .arg("validate")
        .arg(data("cycle.yaml"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stderr).contains('\u{1b}'));
    let coloured = Command::cargo_bin("azmove")
        .unwrap()
        .args(["--color", "always", "validate"])
        .arg(data("cycle.yaml"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&coloured.stderr).contains('\u{1b}'));
}

// ---------------------------------------------------------------------------
// Round trip and robustness, through the library
// ---------------------------------------------------------------------------

/// Text that must survive serialisation: YAML's special words, numbers,
/// colons, quotes, leading spaces, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_-]{0,12}",
        Just("yes".to_string()),
        Just("no".to_string()),
        Just("null".to_string()),
        Just("~".to_string()),
        Just("0123".to_string()),
        Just("1.10".to_string()),
        Just("1e3".to_string()),
        Just("true".to_string()),
        Just("a: b # c".to_string()),
        Just(" lead".to_string()),
        Just("'quoted\"".to_string()),
        Just("zoné-ü".to_string()),
        Just("- dash".to_string()),
        Just("{name}-{short_id}".to_string()),
        Just("*star".to_string()),
        "\\PC{0,10}",
    ]
}

fn duration() -> impl Strategy<Value = Option<Duration>> {
    proptest::option::of(
        (0u64..200_000, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    )
}

fn strategy() -> impl Strategy<Value = Option<MoveStrategy>> {
    proptest::option::of(proptest::sample::select(MoveStrategy::ALL.to_vec()))
}

fn strategies() -> impl Strategy<Value = Option<Vec<MoveStrategy>>> {
    proptest::option::of(proptest::collection::vec(
        proptest::sample::select(MoveStrategy::ALL.to_vec()),
        0..5,
    ))
}

fn source_after() -> impl Strategy<Value = Option<SourceAfter>> {
    proptest::option::of(proptest::sample::select(vec![
        SourceAfter::Keep,
        SourceAfter::Stop,
        SourceAfter::Delete,
    ]))
}

fn timeouts() -> impl Strategy<Value = Option<Timeouts>> {
    proptest::option::of((duration(), duration(), duration(), duration()).prop_map(
        |(stop, snapshot, boot, source)| Timeouts {
            stop,
            snapshot,
            boot,
            source,
        },
    ))
}

fn options() -> impl Strategy<Value = Options> {
    (
        strategy(),
        strategies(),
        proptest::option::of(any::<bool>()),
        source_after(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(any::<u32>()),
        timeouts(),
    )
        .prop_map(
            |(
                strategy,
                strategies,
                stop_before_snapshot,
                source_after,
                keep_snapshot,
                server_name,
                snapshot_name,
                retries,
                timeouts,
            )| Options {
                strategy,
                strategies,
                stop_before_snapshot,
                source_after,
                keep_snapshot,
                server_name,
                snapshot_name,
                retries,
                timeouts,
            },
        )
}

fn selector() -> impl Strategy<Value = Selector> {
    (
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::collection::btree_map(text(), text(), 0..3),
    )
        .prop_map(|(name, availability_zone, host, metadata)| Selector {
            name,
            availability_zone,
            host,
            metadata,
        })
}

fn entry() -> impl Strategy<Value = MoveEntry> {
    (
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(selector()),
        text(),
        proptest::collection::vec(text(), 0..3),
        options(),
    )
        .prop_map(|(id, server, select, to, after, o)| MoveEntry {
            id,
            server,
            select,
            to,
            after,
            strategy: o.strategy,
            strategies: o.strategies,
            stop_before_snapshot: o.stop_before_snapshot,
            source_after: o.source_after,
            keep_snapshot: o.keep_snapshot,
            server_name: o.server_name,
            snapshot_name: o.snapshot_name,
            retries: o.retries,
            timeouts: o.timeouts,
        })
}

fn plan_file() -> impl Strategy<Value = PlanFile> {
    (
        proptest::option::of(text()),
        proptest::option::of(text()),
        options(),
        (
            1u32..64,
            proptest::collection::btree_map(text(), 0u32..32, 0..3),
            0.001f64..1e6,
        ),
        proptest::collection::vec(entry(), 0..6),
    )
        .prop_map(
            |(cloud, region, defaults, (concurrency, per_az, rps), moves)| PlanFile {
                version: 1,
                cloud,
                region,
                defaults,
                limits: Limits {
                    concurrency,
                    per_az: per_az.into_iter().collect::<BTreeMap<_, _>>(),
                    requests_per_second: rps,
                },
                moves,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn serialised_plans_load_back_unchanged(plan in plan_file()) {
        let yaml = to_yaml_string(&plan).expect("serialises");
        let (back, _) = parse_plan("generated.yaml", &yaml)
            .map_err(|e| TestCaseError::fail(format!("{e}\n---\n{yaml}")))?;
        prop_assert_eq!(back, plan, "YAML was:\n{}", yaml);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_plan_lenient("fuzz.yaml", &bytes);
    }

    #[test]
    fn mangled_plans_never_panic(cut in 0usize..400, junk in "[\\[\\]{}:&*!|>'\"#\t -]{0,8}") {
        let base = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plans/fleet.yaml")).unwrap();
        let cut = cut.min(base.len());
        let cut = (0..=cut).rev().find(|i| base.is_char_boundary(*i)).unwrap_or(0);
        let text = format!("{}{}{}", &base[..cut], junk, &base[cut..]);
        let report = azmove::plan::validate::validate_bytes("mangled.yaml", text.as_bytes());
        for d in &report.diagnostics {
            let _ = d.render(false);
        }
    }
}

#[test]
fn scenario_files_beside_plans_are_checked_as_scenarios() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad-cloud.yaml");
    std::fs::write(
        &bad,
        "# azmove simulator scenario\nseed: 1\nno_such_key: true\n",
    )
    .expect("write");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    azmove()
        .arg("validate")
        .arg(root.join("plans/seed-cloud.yaml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("simulator scenario, 1 server)"));
    azmove()
        .arg("validate")
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicate::str::contains("no_such_key"))
        .stderr(predicate::str::contains("invalid simulator scenario"));
}
