//! The processes a benchmark runs: the simulator (`azmove sim serve`, a
//! separate process so that it does not count towards azmove's CPU and
//! memory) and the measured commands, each under GNU `time`, which reads
//! the child's own user/system time and peak RSS from `wait4` — figures a
//! parent cannot get race-free from `/proc`, and `unsafe` is not allowed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::BenchError;

/// GNU time; the `time` package on Debian and Ubuntu.
pub const GNU_TIME: &str = "/usr/bin/time";

/// How long the simulator may take to print where it listens (10,000+
/// servers load in well under a second; a loaded machine gets slack).
const SIM_START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running `azmove sim serve`, stopped when dropped.
#[derive(Debug)]
pub struct SimServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// The `OS_*` variables it printed for its first admin user.
    pub env: Vec<(String, String)>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl SimServer {
    /// Start the simulator of `scenario` on a free loopback port; its
    /// stderr goes to `log`.
    pub fn start(azmove: &Path, scenario: &Path, log: &Path) -> Result<SimServer, BenchError> {
        let log_file = File::create(log).map_err(|e| BenchError::io(log, e))?;
        let mut child = Command::new(azmove)
            .arg("sim")
            .arg("serve")
            .arg("--scenario")
            .arg(scenario)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| BenchError::Spawn {
                program: azmove.display().to_string(),
                source: e,
            })?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Sim(
                "its standard output could not be read".into(),
            ));
        };
        // A thread reads the banner so that a simulator that never prints it
        // is noticed by a timeout instead of hanging the benchmark.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep draining so the
                    // simulator never blocks on a full pipe.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + SIM_START_TIMEOUT;
        let mut base_url = None;
        let mut env = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line
                        .strip_prefix("# azmove simulator serving scenario ")
                        .and_then(|rest| rest.rsplit_once(" at "))
                        .map(|(_, url)| url.trim().to_string())
                    {
                        base_url = Some(url);
                    } else if let Some(kv) = parse_export(&line) {
                        env.push(kv);
                    } else if line.trim() == "# clouds.yaml" {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(BenchError::Sim(format!(
                        "it did not print where it listens (see {})",
                        log.display()
                    )));
                }
            }
        }
        let Some(base_url) = base_url else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Sim("its banner named no URL".into()));
        };
        if !env.iter().any(|(k, _)| k == "OS_AUTH_URL") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Sim("it printed no OS_AUTH_URL".into()));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| BenchError::Sim(format!("cannot start an async runtime: {e}")))?;
        Ok(SimServer {
            child,
            base_url,
            env,
            http: reqwest::Client::new(),
            runtime,
        })
    }

    /// `GET /_sim/stats` (not counted by the simulator itself).
    pub fn stats(&self) -> Result<SimStats, BenchError> {
        let url = format!("{}/_sim/stats", self.base_url);
        self.runtime.block_on(async {
            let resp = self
                .http
                .get(&url)
                .send()
                .await
                .map_err(|e| BenchError::Sim(format!("GET {url}: {e}")))?;
            if !resp.status().is_success() {
                return Err(BenchError::Sim(format!(
                    "GET {url}: status {}",
                    resp.status()
                )));
            }
            resp.json::<SimStats>()
                .await
                .map_err(|e| BenchError::Sim(format!("GET {url}: unexpected body: {e}")))
        })
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        // Nothing to save: the simulator's state is thrown away.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `export NAME='value'` as printed by `azmove sim serve` (POSIX single quotes).
fn parse_export(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("export ")?;
    let (name, value) = rest.split_once('=')?;
    let value = value.strip_prefix('\'')?.strip_suffix('\'')?;
    Some((name.to_string(), value.replace("'\\''", "'")))
}

/// The parts of `GET /_sim/stats` the benchmarks read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SimStats {
    pub requests_total: u64,
    #[serde(default)]
    pub requests_by_route: BTreeMap<String, u64>,
    #[serde(default)]
    pub requests_by_api: BTreeMap<String, u64>,
    #[serde(default)]
    pub max_requests_per_second: u64,
    #[serde(default)]
    pub operations: Operations,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Operations {
    #[serde(default)]
    pub max_in_flight: u64,
    #[serde(default)]
    pub max_in_flight_by_source_az: BTreeMap<String, u64>,
    #[serde(default)]
    pub max_in_flight_by_target_az: BTreeMap<String, u64>,
}

impl SimStats {
    /// Requests received since `before`, per route.
    pub fn routes_since(&self, before: &SimStats) -> BTreeMap<String, u64> {
        self.requests_by_route
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.saturating_sub(before.requests_by_route.get(k).copied().unwrap_or(0)),
                )
            })
            .filter(|(_, v)| *v > 0)
            .collect()
    }

    /// Requests received since `before`, per API (identity, compute, …).
    pub fn apis_since(&self, before: &SimStats) -> BTreeMap<String, u64> {
        self.requests_by_api
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.saturating_sub(before.requests_by_api.get(k).copied().unwrap_or(0)),
                )
            })
            .filter(|(_, v)| *v > 0)
            .collect()
    }
}

/// What one measured child cost.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub wall_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_kib: u64,
    pub status: ExitStatus,
}

impl Timed {
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }

    pub fn rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }
}

/// One measured run and what the simulator saw during it.
#[derive(Debug, Clone)]
pub struct Observed {
    pub timed: Timed,
    /// Requests the simulator received during the run.
    pub requests: u64,
    pub apis: BTreeMap<String, u64>,
    pub routes: BTreeMap<String, u64>,
}

impl Observed {
    pub fn between(timed: Timed, before: &SimStats, after: &SimStats) -> Observed {
        Observed {
            timed,
            requests: after.requests_total.saturating_sub(before.requests_total),
            apis: after.apis_since(before),
            routes: after.routes_since(before),
        }
    }
}

/// A command to measure.
#[derive(Debug, Clone)]
pub struct Measured<'a> {
    pub program: &'a Path,
    pub args: Vec<OsString>,
    /// Set on top of the benchmark's own environment, from which every
    /// `OS_*` variable is removed first (so no stray cloud is used).
    pub env: Vec<(String, String)>,
    pub cwd: &'a Path,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// Where GNU time writes its figures.
    pub time_file: PathBuf,
}

/// Run `m` to completion under GNU time.
pub fn run_timed(m: &Measured<'_>) -> Result<Timed, BenchError> {
    let stdout = File::create(&m.stdout).map_err(|e| BenchError::io(&m.stdout, e))?;
    let stderr = File::create(&m.stderr).map_err(|e| BenchError::io(&m.stderr, e))?;
    let mut cmd = Command::new(GNU_TIME);
    cmd.arg("-f")
        .arg("%U %S %M")
        .arg("-o")
        .arg(&m.time_file)
        .arg(m.program)
        .args(&m.args)
        .current_dir(m.cwd)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for (k, _) in std::env::vars_os().filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v))) {
        if k.starts_with("OS_") {
            cmd.env_remove(&k);
        }
    }
    for (k, v) in &m.env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let status = cmd.status().map_err(|e| BenchError::Spawn {
        program: GNU_TIME.into(),
        source: e,
    })?;
    let wall_s = started.elapsed().as_secs_f64();
    let text =
        std::fs::read_to_string(&m.time_file).map_err(|e| BenchError::io(&m.time_file, e))?;
    let (user_s, sys_s, max_rss_kib) =
        parse_time_output(&text).ok_or_else(|| BenchError::TimeOutput {
            file: m.time_file.clone(),
            text: text.clone(),
        })?;
    Ok(Timed {
        wall_s,
        user_s,
        sys_s,
        max_rss_kib,
        status,
    })
}

/// The last line of GNU time's `-f "%U %S %M"` output (a failed command
/// adds "Command exited with non-zero status N" before it).
fn parse_time_output(text: &str) -> Option<(f64, f64, u64)> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut parts = line.split_whitespace();
    let user = parts.next()?.parse().ok()?;
    let sys = parts.next()?.parse().ok()?;
    let rss = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((user, sys, rss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_lines_are_unquoted_like_a_shell_would() {
        assert_eq!(
            parse_export("export OS_PASSWORD='it'\\''s'"),
            Some(("OS_PASSWORD".into(), "it's".into()))
        );
        assert_eq!(parse_export("# clouds.yaml"), None);
        assert_eq!(parse_export("export BROKEN=unquoted"), None);
    }

    #[test]
    fn gnu_time_output_is_read_from_its_last_line() {
        assert_eq!(
            parse_time_output("0.52 0.08 61234\n"),
            Some((0.52, 0.08, 61234))
        );
        assert_eq!(
            parse_time_output("Command exited with non-zero status 3\n1.00 0.00 100\n"),
            Some((1.0, 0.0, 100))
        );
        assert_eq!(parse_time_output("garbage"), None);
        assert_eq!(parse_time_output(""), None);
    }

    #[test]
    fn route_counts_are_differences_and_zeroes_are_dropped() {
        let before = SimStats {
            requests_by_route: BTreeMap::from([("a".into(), 3), ("b".into(), 1)]),
            ..SimStats::default()
        };
        let after = SimStats {
            requests_by_route: BTreeMap::from([("a".into(), 5), ("b".into(), 1), ("c".into(), 2)]),
            ..SimStats::default()
        };
        assert_eq!(
            after.routes_since(&before),
            BTreeMap::from([("a".into(), 2), ("c".into(), 2)])
        );
    }
}
