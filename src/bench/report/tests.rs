use super::*;
use crate::bench::bound::Bound;
use std::collections::BTreeMap;

fn sum(x: f64) -> Summary {
    Summary {
        min: x,
        median: x,
        max: x,
        runs: 3,
    }
}

pub(super) fn info() -> RunInfo {
    RunInfo {
        date: "2026-01-01T00:00:00Z".into(),
        command: "cargo run --release --bin azmove-bench -- all".into(),
        cpu_model: "Test CPU".into(),
        nproc: 2,
        memory_gib: 4.0,
        os: "Linux".into(),
        rustc: "rustc 1.89".into(),
        commit: "abc1234".into(),
        load_start: "1.0 1.0 1.0".into(),
        load_end: "1.0 1.0 1.0".into(),
        profile: "release".into(),
    }
}

fn apply_row(id: &str, rps: f64, ratio: f64) -> ApplyRow {
    ApplyRow {
        id: id.into(),
        label: id.into(),
        servers: 100,
        polling: "shared list polls (changes-since)".into(),
        time_scale: 20.0,
        concurrency: 20,
        per_az: BTreeMap::from([("nova2".into(), 10)]),
        snapshot_s: 15.24,
        move_s: 60.24,
        bound: Bound {
            critical_path: 60.24,
            work: 6024.0,
            concurrency_bound: 301.2,
            az_bounds: BTreeMap::new(),
            bound: 301.2,
            binding: "concurrency 20".into(),
            effective_parallelism: 20.0,
        },
        bound_wall_s: 15.06,
        makespan_s: sum(15.06 * ratio),
        ratio: sum(ratio),
        process_wall_s: sum(16.0),
        cpu_s: sum(0.5),
        rss_mib: sum(30.0),
        requests: sum(rps * 100.0),
        requests_per_server: sum(rps),
        max_requests_per_second: sum(50.0),
        max_in_flight: 20,
        max_in_flight_by_source_az: BTreeMap::new(),
        max_in_flight_by_target_az: BTreeMap::new(),
        apis: BTreeMap::new(),
        routes: BTreeMap::from([("compute GET /servers/detail".into(), 42)]),
    }
}

fn plan_row(servers: usize, requests: f64, cpu: f64) -> PlanRow {
    PlanRow {
        servers,
        unrelated: servers / 10,
        shape: "one `server:` entry per server".into(),
        requests: sum(requests),
        request_target: crate::bench::plan_suite::request_target(servers),
        wall_s: sum(1.0),
        cpu_s: sum(cpu),
        rss_mib: sum(50.0),
        observe_ms: None,
        plan_ms: Some(sum(200.0)),
        routes: BTreeMap::new(),
    }
}

#[test]
fn nothing_measured_is_said_plainly_and_earlier_figures_are_kept() {
    let r = Results {
        earlier: Some("Recorded: 149.5 s.".into()),
        earlier_simulated: Some("Simulated: 1.09.".into()),
        ..Results::default()
    };
    let text = render(&r);
    assert!(text.contains("\n\nRecorded: 149.5 s."), "{text}");
    assert!(
        text.contains("(their results files were not kept)\n\nSimulated: 1.09."),
        "{text}"
    );
    assert!(targets(&r).iter().all(|t| t.2 == Verdict::NotMeasured));
    assert!(text.contains("not measured"));
}

#[test]
fn verdicts_follow_the_figures() {
    let r = Results {
        plan: Some(PlanResults {
            info: info(),
            rows: vec![plan_row(100, 9.0, 0.01), plan_row(10_000, 25.0, 1.5)],
        }),
        apply: Some(ApplyResults {
            info: info(),
            rows: vec![
                apply_row("makespan", 6.0, 1.02),
                apply_row("short", 6.0, 1.02),
                apply_row("long", 9.0, 1.02),
            ],
        }),
        baseline: None,
        ..Results::default()
    };
    let t = targets(&r);
    let verdict = |prefix: &str| t.iter().find(|x| x.0.starts_with(prefix)).map(|x| x.2);
    // 25 requests > ceil(10000/1000) + 10 = 20.
    assert_eq!(
        verdict("simulated plan: API requests"),
        Some(Verdict::Missed)
    );
    assert_eq!(verdict("simulated plan: CPU"), Some(Verdict::Missed));
    assert_eq!(verdict("simulated plan: peak RSS"), Some(Verdict::Met));
    assert_eq!(verdict("simulated apply: makespan"), Some(Verdict::Met));
    // 9 > 8 and 9/6 is not flat.
    assert_eq!(
        verdict("simulated apply: requests per moved server"),
        Some(Verdict::Missed)
    );
    assert_eq!(verdict("simulated speed-up"), Some(Verdict::NotMeasured));
    let text = render(&r);
    assert!(
        text.contains("**missed**") && text.contains("**met**"),
        "{text}"
    );
    assert!(text.contains("| 10,000 (+1,000) |"), "{text}");
}

#[test]
fn the_speed_up_pairs_extremes_for_worst_and_best() {
    let b = BaselineResults {
        info: info(),
        cli: "openstack 10.5.0".into(),
        scenario_servers: 100,
        servers_per_run: 5,
        time_scale: 20.0,
        move_s: 60.24,
        source_after: "delete".into(),
        wall_s: sum(150.0),
        per_server_s: Summary {
            min: 28.0,
            median: 30.0,
            max: 32.0,
            runs: 3,
        },
        cpu_s: sum(50.0),
        requests_per_server: sum(60.0),
        apis: BTreeMap::new(),
        routes: BTreeMap::new(),
    };
    let azmove = Summary {
        min: 15.0,
        median: 16.0,
        max: 20.0,
        runs: 3,
    };
    let sp = speedup(&b, &azmove);
    assert!((sp.median - 3000.0 / 16.0).abs() < 1e-9);
    assert!((sp.min - 2800.0 / 20.0).abs() < 1e-9);
    assert!((sp.max - 3200.0 / 15.0).abs() < 1e-9);
}

#[test]
fn thousands_are_grouped() {
    assert_eq!(thousands(7), "7");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(10_000), "10,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
}
