use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

const AZS: [&str; 3] = ["nova", "nova2", "nova3"];
const STEPS: [Step; 4] = [
    Step::StopSource,
    Step::Snapshot,
    Step::WaitImage,
    Step::Boot,
];

/// A scripted outcome for one report: 0 done (most likely), 1 redo, 2 failed
/// with rollback, 3 failed without.
#[derive(Debug, Clone)]
struct Case {
    jobs: Vec<(usize, usize, Vec<usize>, usize, u32)>,
    concurrency: u32,
    per_az: Vec<Option<u32>>,
    outcomes: Vec<u8>,
    picks: Vec<usize>,
    interrupt_at: Option<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..25)
        .prop_flat_map(|n| {
            let jobs = (0..n)
                .map(|i| {
                    (
                        0usize..3,
                        0usize..3,
                        proptest::collection::vec(0..i.max(1), 0..3),
                        1usize..=4,
                        0u32..3,
                    )
                })
                .collect::<Vec<_>>();
            (
                jobs,
                1u32..6,
                proptest::collection::vec(proptest::option::of(1u32..4), 3),
                proptest::collection::vec(0u8..12, 400),
                proptest::collection::vec(0usize..1000, 400),
                proptest::option::of(0usize..60),
            )
        })
        .prop_map(
            |(jobs, concurrency, per_az, outcomes, picks, interrupt_at)| Case {
                jobs,
                concurrency,
                per_az,
                outcomes,
                picks,
                interrupt_at,
            },
        )
}

fn build(c: &Case) -> (Vec<JobSpec>, Limits) {
    let specs = c
        .jobs
        .iter()
        .enumerate()
        .map(|(i, (from, to, after, nsteps, retries))| JobSpec {
            key: format!("j{i}"),
            source_az: Some(AZS[*from].to_string()),
            target_az: AZS[*to].to_string(),
            // Only earlier jobs, so the graph is acyclic.
            after: if i == 0 {
                Vec::new()
            } else {
                after.iter().map(|a| format!("j{a}")).collect()
            },
            steps: STEPS[..*nsteps].to_vec(),
            retries: *retries,
        })
        .collect();
    let per_az = c
        .per_az
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (AZS[i].to_string(), n)))
        .collect();
    (
        specs,
        Limits {
            concurrency: c.concurrency,
            per_az,
            requests_per_second: 1.0,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn limits_order_and_termination_hold(c in case()) {
        let (specs, limits) = build(&c);
        let by_key: BTreeMap<String, JobSpec> =
            specs.iter().map(|s| (s.key.clone(), s.clone())).collect();
        let mut d = Dispatcher::new(specs.clone(), BTreeMap::new(), &limits);
        let mut in_flight: BTreeMap<String, Command> = BTreeMap::new();
        let mut active: BTreeSet<String> = BTreeSet::new();
        let mut started: BTreeSet<String> = BTreeSet::new();
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut rounds = 0usize;
        let mut o = 0usize;
        loop {
            rounds += 1;
            prop_assert!(rounds < 10_000, "the run does not end");
            if Some(rounds) == c.interrupt_at {
                d.interrupt(Duration::from_secs(rounds as u64));
            }
            let now = Duration::from_secs(rounds as u64);
            for cmd in d.next_commands(now) {
                let key = cmd.key().to_string();
                prop_assert!(!in_flight.contains_key(&key), "two commands at once for {}", key);
                if !active.contains(&key) {
                    let is_rollback = matches!(cmd, Command::Rollback { .. });
                    prop_assert!(!d.is_interrupted() || is_rollback, "new job after interrupt");
                    prop_assert!(started.insert(key.clone()), "{} started twice", key);
                    for a in &by_key[&key].after {
                        prop_assert!(done.contains(a), "{} started before {} was done", key, a);
                    }
                    active.insert(key.clone());
                }
                in_flight.insert(key, cmd);
            }
            // Independent count of what is in flight, against the limits.
            prop_assert!(active.len() <= limits.concurrency as usize);
            for (az, cap) in &limits.per_az {
                let n = active
                    .iter()
                    .filter(|k| azs_of(by_key[*k].source_az.as_deref(), &by_key[*k].target_az).contains(&az.as_str()))
                    .count();
                prop_assert!(n <= *cap as usize, "{} in flight in {} (cap {})", n, az, cap);
            }
            if in_flight.is_empty() {
                prop_assert!(d.is_finished(), "nothing in flight but not finished");
                break;
            }
            let pick = c.picks[rounds % c.picks.len()] % in_flight.len();
            let key = in_flight.keys().nth(pick).cloned().expect("picked");
            let cmd = in_flight.remove(&key).expect("present");
            let roll = c.outcomes[o % c.outcomes.len()];
            o += 1;
            let outcome = match (&cmd, roll) {
                (Command::Rollback { .. }, _) => Outcome::Done,
                (Command::Run { step, .. }, 9) => Outcome::Redo { from: *step, reason: "x".into() },
                (Command::Run { .. }, 10) => Outcome::Failed { reason: "x".into(), rollback: true },
                (Command::Run { .. }, 11) => Outcome::Failed { reason: "x".into(), rollback: false },
                _ => Outcome::Done,
            };
            d.report(&key, outcome, now);
            if let Some(job) = d.job(&key)
                && job.state.is_terminal()
            {
                active.remove(&key);
                if job.state == JobState::Done {
                    done.insert(key.clone());
                }
            }
        }
        // Every job ended; failures skipped their dependents.
        for job in d.jobs() {
            prop_assert!(job.state.is_terminal());
            if job.state == JobState::Done {
                prop_assert_eq!(job.remaining_steps().len(), 0);
                prop_assert!(job.redos <= job.spec.retries);
            }
            if d.is_interrupted() {
                continue;
            }
            let any_prereq_failed = job.spec.after.iter().any(|a| {
                !matches!(d.job(a).map(|j| &j.state), Some(JobState::Done))
            });
            prop_assert_eq!(
                any_prereq_failed,
                matches!(job.state, JobState::Skipped { .. }),
                "{} is {:?}", job.spec.key, job.state
            );
        }
    }
}
