use super::*;

const SNAP: [Step; 3] = [Step::Snapshot, Step::WaitImage, Step::Boot];

fn job(key: &str, from: &str, to: &str, after: &[&str]) -> JobSpec {
    JobSpec {
        key: key.into(),
        source_az: Some(from.into()),
        target_az: to.into(),
        after: after.iter().map(|s| s.to_string()).collect(),
        steps: SNAP.to_vec(),
        retries: 1,
    }
}

fn limits(c: u32, per: &[(&str, u32)]) -> Limits {
    Limits {
        concurrency: c,
        per_az: per.iter().map(|(a, n)| (a.to_string(), *n)).collect(),
        requests_per_second: 10.0,
    }
}

fn keys(cmds: &[Command]) -> Vec<&str> {
    cmds.iter().map(Command::key).collect()
}

const T: Duration = Duration::ZERO;

#[test]
fn starts_within_limits_in_order_and_walks_the_steps() {
    let mut d = Dispatcher::new(
        vec![
            job("a", "nova", "nova2", &[]),
            job("b", "nova", "nova2", &[]),
            job("c", "x", "y", &[]),
        ],
        BTreeMap::new(),
        &limits(2, &[("nova", 1)]),
    );
    let cmds = d.next_commands(T);
    assert_eq!(keys(&cmds), vec!["a", "c"]);
    d.report("a", Outcome::Done, T);
    assert_eq!(
        d.next_commands(T),
        vec![Command::Run {
            key: "a".into(),
            step: Step::WaitImage,
            attempt: 0
        }]
    );
    d.report("a", Outcome::Done, T);
    d.next_commands(T);
    d.report("a", Outcome::Done, T);
    assert_eq!(d.job("a").map(|j| j.state.clone()), Some(JobState::Done));
    assert_eq!(keys(&d.next_commands(T)), vec!["b"]);
}

#[test]
fn after_waits_for_success_and_failure_skips_transitively() {
    let mut d = Dispatcher::new(
        vec![
            job("db", "a", "b", &[]),
            job("app", "a", "b", &["db"]),
            job("web", "a", "b", &["app"]),
        ],
        BTreeMap::new(),
        &limits(8, &[]),
    );
    assert_eq!(keys(&d.next_commands(T)), vec!["db"]);
    d.report(
        "db",
        Outcome::Failed {
            reason: "boom".into(),
            rollback: true,
        },
        T,
    );
    assert_eq!(
        d.next_commands(T),
        vec![Command::Rollback {
            key: "db".into(),
            reason: "boom".into()
        }]
    );
    d.report("db", Outcome::Done, T);
    assert!(d.next_commands(T).is_empty());
    assert!(d.is_finished());
    assert_eq!(
        d.job("app").map(|j| j.state.clone()),
        Some(JobState::Skipped {
            because: "db".into()
        })
    );
    assert_eq!(
        d.job("web").map(|j| j.state.clone()),
        Some(JobState::Skipped {
            because: "app".into()
        })
    );
}

#[test]
fn redo_goes_back_until_retries_run_out_then_rolls_back() {
    let mut d = Dispatcher::new(
        vec![job("a", "x", "y", &[])],
        BTreeMap::new(),
        &limits(1, &[]),
    );
    d.next_commands(T);
    d.report("a", Outcome::Done, T);
    d.next_commands(T);
    d.report(
        "a",
        Outcome::Redo {
            from: Step::Snapshot,
            reason: "killed".into(),
        },
        T,
    );
    assert_eq!(
        d.next_commands(T),
        vec![Command::Run {
            key: "a".into(),
            step: Step::Snapshot,
            attempt: 1
        }]
    );
    d.report("a", Outcome::Done, T);
    d.next_commands(T);
    d.report(
        "a",
        Outcome::Redo {
            from: Step::Snapshot,
            reason: "killed".into(),
        },
        T,
    );
    let cmds = d.next_commands(T);
    assert!(
        matches!(&cmds[..], [Command::Rollback { reason, .. }] if reason.contains("after 2 attempts"))
    );
    d.report("a", Outcome::Done, T);
    assert!(matches!(
        d.job("a").map(|j| &j.state),
        Some(JobState::Failed { .. })
    ));
}

#[test]
fn interrupt_starts_nothing_new_and_lets_in_flight_commands_end() {
    let mut d = Dispatcher::new(
        vec![job("a", "x", "y", &[]), job("b", "x", "y", &[])],
        BTreeMap::new(),
        &limits(1, &[]),
    );
    d.next_commands(T);
    d.interrupt(T);
    assert_eq!(
        d.job("b").map(|j| j.state.clone()),
        Some(JobState::Interrupted)
    );
    assert!(!d.is_finished());
    d.report("a", Outcome::Done, T);
    assert!(d.next_commands(T).is_empty());
    assert!(d.is_finished());
    let a = d.job("a").expect("job a");
    assert_eq!(a.state, JobState::Interrupted);
    assert_eq!(a.remaining_steps(), &[Step::WaitImage, Step::Boot]);
}

#[test]
fn outside_failures_skip_and_outside_successes_satisfy() {
    let ext = BTreeMap::from([("blocked".to_string(), false), ("same".to_string(), true)]);
    let mut d = Dispatcher::new(
        vec![
            job("a", "x", "y", &["blocked"]),
            job("b", "x", "y", &["same", "gone"]),
        ],
        ext,
        &limits(4, &[]),
    );
    assert_eq!(keys(&d.next_commands(T)), vec!["b"]);
    assert_eq!(
        d.job("a").map(|j| j.state.clone()),
        Some(JobState::Skipped {
            because: "blocked".into()
        })
    );
}

#[test]
fn a_cycle_ends_as_skipped_instead_of_hanging() {
    let mut d = Dispatcher::new(
        vec![job("a", "x", "y", &["b"]), job("b", "x", "y", &["a"])],
        BTreeMap::new(),
        &limits(4, &[]),
    );
    assert!(d.next_commands(T).is_empty());
    assert!(d.is_finished());
}
