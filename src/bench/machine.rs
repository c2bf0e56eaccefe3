//! Where and when a benchmark ran: figures mean little without the machine
//! (cores, CPU, load) and the exact command.

use std::process::Command;

use serde::{Deserialize, Serialize};

/// The machine and build a set of figures comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// UTC, RFC 3339.
    pub date: String,
    /// The command that reproduces the figures.
    pub command: String,
    pub cpu_model: String,
    /// Cores usable by the process (what `nproc` prints).
    pub nproc: usize,
    pub memory_gib: f64,
    pub os: String,
    pub rustc: String,
    /// `git rev-parse --short HEAD`, and whether the tree had changes.
    pub commit: String,
    /// `/proc/loadavg` (1, 5, 15 min) when the suite started and ended.
    pub load_start: String,
    pub load_end: String,
    /// `release` or `debug`: which build of azmove was measured.
    pub profile: String,
}

impl RunInfo {
    pub fn collect(command: String, profile: &str) -> RunInfo {
        RunInfo {
            date: now_rfc3339(),
            command,
            cpu_model: cpu_model().unwrap_or_else(|| "unknown".into()),
            nproc: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory_gib: memory_gib().unwrap_or(0.0),
            os: output_of("uname", &["-sr"]).unwrap_or_else(|| std::env::consts::OS.into()),
            rustc: output_of("rustc", &["-V"]).unwrap_or_else(|| "unknown".into()),
            commit: commit(),
            load_start: load_average(),
            load_end: String::new(),
            profile: profile.to_string(),
        }
    }

    /// Record the load when the suite ends.
    pub fn finish(&mut self) {
        self.load_end = load_average();
    }
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    parse_cpu_model(&text)
}

fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn memory_gib() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 = text
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0 / 1024.0)
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Read-only: `--no-optional-locks` keeps `git status` from refreshing
/// the index while others work in the same tree.
fn commit() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let Some(head) = output_of("git", &["-C", root, "rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    let dirty = Command::new("git")
        .args([
            "--no-optional-locks",
            "-C",
            root,
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    if dirty {
        format!("{head} with uncommitted changes")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_model_name_is_the_cpu() {
        let info = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(parse_cpu_model(info).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(parse_cpu_model("processor: 0\n"), None);
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        let d = now_rfc3339();
        assert!(d.ends_with('Z') && d.contains('T'), "{d}");
    }
}
