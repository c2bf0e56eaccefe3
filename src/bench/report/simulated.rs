//! The simulated sections of the page: azmove against its own simulator,
//! running faster than real time (each section says at which time scale).

use std::fmt::Write as _;

use super::*;
use crate::bench::apply_suite::ApplyRow;
use crate::bench::plan_suite::PlanResults;
use crate::bench::stats::Summary;

/// How the largest plans' time divides between azmove's phases.
pub(super) fn plan_cpu_split(p: &PlanResults) -> String {
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
pub(super) fn makespan_gap(x: &ApplyRow) -> String {
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
        crate::bench::apply_suite::POLL_MIN.as_secs_f64()
    )
}

/// Requests per server split into the moves' own calls and reads.
/// Requests per server split into the moves' own calls (the same for every
/// run) and the rest: authentication, planning and polling.
pub(super) fn request_split(rows: &[&ApplyRow]) -> String {
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

pub(super) fn plan_section(s: &mut String, r: &Results) {
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

pub(super) fn apply_section(s: &mut String, r: &Results) {
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
        crate::bench::apply_suite::DISK_GB,
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

pub(super) fn requests_section(s: &mut String, r: &Results) {
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

pub(super) fn baseline_section(s: &mut String, r: &Results) {
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
    let _ = writeln!(s, "#### (b) Naive per-server polling\n");
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
