//! `azmove diff OLD NEW` and `azmove diff --git REV NEW`: compare two
//! versions of a plan file offline, for change review.
//!
//! Exits 0 whether or not there are differences (the output says which);
//! 1 when a file cannot be read or parsed, or git fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::exit::Exit;
use crate::plan::diff::{diff_plans, render_json, render_markdown, render_text};
use crate::plan::file::{Limits, Options, PLAN_VERSION, PlanFile};
use crate::plan::parse::{MAX_PLAN_BYTES, PlanErrors, parse_plan};
use crate::render::{Colors, OutputFormat};
use crate::yaml::{self, Diagnostic};

/// What `azmove diff` was asked.
#[derive(Debug, Clone)]
pub struct DiffSettings {
    /// `OLD NEW`, or `NEW` alone with `git`.
    pub files: Vec<PathBuf>,
    /// Compare NEW with its version at this git revision.
    pub git: Option<String>,
    pub format: OutputFormat,
}

/// The old side: a plan, or nothing when the file is new at that revision.
enum Old {
    Plan(Box<PlanFile>),
    Absent,
}

pub fn run(args: &DiffSettings, colors: Colors) -> Exit {
    let mut stderr = colors.stderr();
    let report = |errors: PlanErrors| {
        super::plan_errors(&errors, colors);
        Exit::Failure
    };

    let (old_path, new_path) = match (args.files.as_slice(), &args.git) {
        ([old, new], None) => (Some(old), new),
        ([new], Some(_)) => (None, new),
        _ => {
            let _ = writeln!(
                stderr,
                "azmove diff: give the old and the new plan file (`azmove diff OLD NEW`), or a git revision and the new file (`azmove diff --git HEAD NEW`)"
            );
            return Exit::Usage;
        }
    };
    let (old_name, old) = match (old_path, &args.git) {
        (Some(path), _) => match read_plan(path) {
            Ok(p) => (path.display().to_string(), Old::Plan(Box::new(p))),
            Err(e) => return report(e),
        },
        (None, Some(rev)) => {
            let name = format!("{rev}:{}", new_path.display());
            match git_show(rev, new_path) {
                Ok(Some(bytes)) => match parse_plan(&name, &bytes) {
                    Ok((p, _)) => (name, Old::Plan(Box::new(p))),
                    Err(e) => return report(e),
                },
                Ok(None) => (name, Old::Absent),
                Err(d) => {
                    return report(PlanErrors {
                        file: name,
                        diagnostics: vec![*d],
                    });
                }
            }
        }
        (None, None) => return Exit::Usage,
    };
    let new_name = new_path.display().to_string();
    let new = match read_plan(new_path) {
        Ok(p) => p,
        Err(e) => return report(e),
    };
    let old = match old {
        Old::Plan(p) => *p,
        Old::Absent => {
            let _ = writeln!(
                stderr,
                "note: {new_name} does not exist at {}; every move shows as added",
                args.git.as_deref().unwrap_or("")
            );
            empty_plan()
        }
    };

    let diff = diff_plans(&old, &new);
    let out = match args.format {
        OutputFormat::Text => render_text(&diff, &old_name, &new_name, colors.stdout),
        OutputFormat::Markdown => render_markdown(&diff, &old_name, &new_name),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(&render_json(&diff, &old_name, &new_name))
                .unwrap_or_default();
            s.push('\n');
            s
        }
    };
    let _ = super::print(&out, colors);
    Exit::Success
}

fn read_plan(path: &Path) -> Result<PlanFile, PlanErrors> {
    let bytes = yaml::read_source(path, MAX_PLAN_BYTES)?;
    parse_plan(&path.display().to_string(), &bytes).map(|(p, _)| p)
}

fn empty_plan() -> PlanFile {
    PlanFile {
        version: PLAN_VERSION,
        cloud: None,
        region: None,
        defaults: Options::default(),
        limits: Limits::default(),
        moves: Vec::new(),
    }
}

/// `git show REV:./FILE`, run in the file's directory so that relative paths
/// work from anywhere in the work tree. `Ok(None)`: the file did not exist
/// at that revision.
fn git_show(rev: &str, path: &Path) -> Result<Option<Vec<u8>>, Box<Diagnostic>> {
    let name = format!("{rev}:{}", path.display());
    let fail = |message: String, help: &str| {
        Box::new(Diagnostic::whole_file("diff::git", &name, message).with_help(help))
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Some(file) = path.file_name() else {
        return Err(fail("NEW must name a file".into(), "name a plan file"));
    };
    if rev.starts_with('-') {
        return Err(fail(
            format!("`{rev}` is not a revision"),
            "write a commit, branch or tag, e.g. `--git HEAD` or `--git main`",
        ));
    }
    let spec = format!("{rev}:./{}", file.to_string_lossy());
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .arg("show")
        .arg(&spec)
        .output()
        .map_err(|e| {
            fail(
                format!("cannot run git: {e}"),
                "install git, or compare two files: `azmove diff OLD NEW`",
            )
        })?;
    if output.status.success() {
        if output.stdout.len() > MAX_PLAN_BYTES {
            return Err(fail(
                "the file at that revision is larger than plan files may be".into(),
                "compare smaller plan files",
            ));
        }
        return Ok(Some(output.stdout));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("exists on disk, but not in") || stderr.contains("does not exist in") {
        return Ok(None);
    }
    Err(fail(
        format!("git could not show the file at `{rev}`: {}", stderr.trim()),
        "check the revision (`git log --oneline`) and that the file is inside a git work tree",
    ))
}
