//! `azmove validate FILE…`: check plan files offline and report every
//! problem with file:line:column.

use std::io::{Read, Write};
use std::path::PathBuf;

use crate::exit::Exit;
use crate::plan::parse::MAX_PLAN_BYTES;
use crate::plan::validate::{Report, validate_bytes};
use crate::render::Colors;
use crate::yaml::read_source;

/// The first line that marks a simulator scenario file.
pub const SCENARIO_HEADER: &str = "# azmove simulator scenario";

/// Whether `path` is a simulator scenario (its first line is the header).
fn is_scenario(path: &std::path::Path) -> bool {
    use std::io::BufRead;
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut first = String::new();
    let _ = std::io::BufReader::new(f).take(256).read_line(&mut first);
    first.trim_end() == SCENARIO_HEADER
}

/// How many servers a scenario describes, counting generated fleets.
fn scenario_servers(s: &crate::sim::Scenario) -> u64 {
    s.servers
        .iter()
        .map(|spec| match &spec.generate {
            Some(g) => u64::from(g.count.unwrap_or(0)),
            None => 1,
        })
        .sum()
}

pub fn run(files: &[PathBuf], colors: Colors) -> Exit {
    let color = colors.stderr;
    let mut stderr = colors.stderr();
    let mut stdout = std::io::stdout();
    let mut failed = 0usize;
    for file in files {
        let name = file.display();
        if is_scenario(file) {
            // Simulator scenarios live beside plans (plans/seed-cloud.yaml);
            // they are checked with their own loader rather than refused.
            match crate::sim::Scenario::load(file) {
                Ok(s) => {
                    let n = scenario_servers(&s);
                    let noun = if n == 1 { "server" } else { "servers" };
                    let _ = writeln!(stdout, "ok: {name} (simulator scenario, {n} {noun})");
                }
                Err(e) => {
                    failed += 1;
                    let _ = writeln!(stderr, "{e}");
                    let _ = writeln!(stderr, "error: {name}: invalid simulator scenario");
                }
            }
            continue;
        }
        let report = match read_source(file, MAX_PLAN_BYTES) {
            Ok(bytes) => validate_bytes(&name.to_string(), &bytes),
            Err(e) => Report {
                file: name.to_string(),
                plan: None,
                diagnostics: e.diagnostics,
            },
        };
        match (&report.plan, report.diagnostics.is_empty()) {
            (Some(plan), true) => {
                let n = plan.moves.len();
                let _ = writeln!(
                    stdout,
                    "ok: {name} ({n} {})",
                    if n == 1 { "move" } else { "moves" }
                );
            }
            _ => {
                failed += 1;
                for d in &report.diagnostics {
                    let _ = write!(stderr, "{}", d.render(color));
                }
                let n = report.diagnostics.len();
                let _ = writeln!(
                    stderr,
                    "error: {name}: {n} {}",
                    if n == 1 { "problem" } else { "problems" }
                );
            }
        }
    }
    let _ = stdout.flush();
    if failed == 0 {
        Exit::Success
    } else {
        if files.len() > 1 {
            let _ = writeln!(stderr, "{failed} of {} files have problems", files.len());
        }
        Exit::Failure
    }
}
