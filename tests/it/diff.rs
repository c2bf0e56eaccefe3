//! `azmove diff`: comparing two plan files, and a plan file with its
//! version at a git revision.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn azmove() -> Command {
    let mut c = Command::cargo_bin("azmove").expect("binary built");
    c.env("NO_COLOR", "1").args(["--color", "never"]);
    c
}

const OLD: &str = "\
version: 1
limits:
  concurrency: 4
moves:
  - server: db01
    to: nova2
  - server: app01
    to: nova2
    after: [db01]
  - server: legacy
    to: nova2
";

const NEW: &str = "\
version: 1
limits:
  concurrency: 8
defaults:
  source_after: delete
moves:
  - server: db01
    to: nova3
  - server: app01
    to: nova2
    after: [db01, db02]
  - server: db02
    to: nova3
";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn text_output_lists_added_removed_and_changed() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.yaml", OLD);
    let new = write(dir.path(), "new.yaml", NEW);
    azmove()
        .arg("diff")
        .arg(&old)
        .arg(&new)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("  ~ limits.concurrency: 4 → 8"))
        .stdout(predicate::str::contains(
            "  + defaults.source_after: delete  (applies to 3 of 3 moves)",
        ))
        .stdout(predicate::str::contains(
            "  ~ db01\n      ~ to: nova2 → nova3",
        ))
        .stdout(predicate::str::contains(
            "      ~ after: [db01] → [db01, db02]  (added db02)",
        ))
        .stdout(predicate::str::contains("  + db02 → nova3"))
        .stdout(predicate::str::contains("  - legacy → nova2"))
        .stdout(predicate::str::contains(
            "1 move added, 1 removed, 2 changed; 2 settings changed.",
        ));
}

#[test]
fn identical_files_exit_0_with_no_differences() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yaml", OLD);
    let b = write(dir.path(), "b.yaml", OLD);
    azmove()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No differences."));
}

#[test]
fn markdown_and_json_formats() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.yaml", OLD);
    let new = write(dir.path(), "new.yaml", NEW);
    azmove()
        .args(["diff", "--format", "markdown"])
        .arg(&old)
        .arg(&new)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "| ~ | `db01` | `nova3` | `to`: `nova2` → `nova3` |",
        ))
        .stdout(predicate::str::contains("| + | `db02` | `nova3` |"));
    let out = azmove()
        .args(["diff", "--format", "json"])
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["summary"]["added"], 1);
    assert_eq!(v["summary"]["removed"], 1);
    assert_eq!(v["summary"]["changed"], 2);
    let kinds: Vec<&str> = v["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["changed", "changed", "added", "removed"]);
}

#[test]
fn an_invalid_file_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.yaml", OLD);
    let bad = write(
        dir.path(),
        "bad.yaml",
        "version: 1\nmoves:\n  - server: a\n    to: b\n    too: c\n",
    );
    azmove()
        .arg("diff")
        .arg(&old)
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.yaml:5:5"))
        .stderr(predicate::str::contains("unknown key `too`"));
}

#[test]
fn without_old_or_git_it_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let new = write(dir.path(), "new.yaml", NEW);
    azmove()
        .arg("diff")
        .arg(&new)
        .assert()
        .code(64)
        .stderr(predicate::str::contains("--git"));
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=azmove test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

#[test]
fn git_revision_is_compared_with_the_working_copy() {
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("git not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    let plan = write(&dir.path().join("plans"), "fleet.yaml", OLD);
    git(dir.path(), &["add", "plans/fleet.yaml"]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    std::fs::write(&plan, NEW).unwrap();
    azmove()
        .current_dir(dir.path())
        .args(["diff", "--git", "HEAD", "plans/fleet.yaml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "Comparing HEAD:plans/fleet.yaml → plans/fleet.yaml",
        ))
        .stdout(predicate::str::contains("  + db02 → nova3"));

    // A file that is new since the revision: every move is added.
    let fresh = write(&dir.path().join("plans"), "new.yaml", NEW);
    azmove()
        .arg("diff")
        .arg("--git")
        .arg("HEAD")
        .arg(&fresh)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("does not exist at HEAD"))
        .stdout(predicate::str::contains(
            "3 moves added, 0 removed, 0 changed",
        ));

    // An unknown revision is an error that says what git said.
    azmove()
        .current_dir(dir.path())
        .args(["diff", "--git", "no-such-rev", "plans/fleet.yaml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("git could not show the file"));
}

#[test]
fn the_command_line_definition_is_consistent() {
    use clap::CommandFactory;
    azmove::cli::Cli::command().debug_assert();
}
