use super::*;

fn server(status: &str, az: Option<&str>, host: Option<&str>, pin: Option<&str>) -> Server {
    Server {
        id: "s".into(),
        status: status.into(),
        availability_zone: az.map(Into::into),
        host: host.map(Into::into),
        pinned_availability_zone: pin.map(Into::into),
        ..Server::default()
    }
}

#[test]
fn place_says_status_az_host_and_pin() {
    assert_eq!(
        place(&server(
            "ACTIVE",
            Some("nova2"),
            Some("node-31"),
            Some("nova2")
        )),
        "ACTIVE in nova2 on node-31, pinned to nova2"
    );
    // Members see no host.
    assert_eq!(
        place(&server("SHUTOFF", Some("nova"), None, None)),
        "SHUTOFF in nova, not pinned"
    );
    let mut offloaded = server("SHELVED_OFFLOADED", None, None, Some("nova2"));
    offloaded.task_state = Some("unshelving".into());
    assert_eq!(
        place(&offloaded),
        "SHELVED_OFFLOADED (task unshelving), on no host, pinned to nova2"
    );
}

#[test]
fn only_running_or_stopped_servers_without_a_task_are_at_rest() {
    assert!(at_rest(&server("ACTIVE", None, None, None)));
    assert!(at_rest(&server("SHUTOFF", None, None, None)));
    assert!(!at_rest(&server("VERIFY_RESIZE", None, None, None)));
    let mut busy = server("ACTIVE", None, None, None);
    busy.task_state = Some("migrating".into());
    assert!(!at_rest(&busy));
}

#[test]
fn a_failure_before_any_change_undoes_nothing() {
    let r = nothing_to_undo(StepResult::failed("busy", true));
    assert!(matches!(
        r.outcome,
        crate::apply::dispatcher::Outcome::Failed {
            rollback: false,
            ..
        }
    ));
}

#[test]
fn downtime_runs_from_the_first_stop_to_the_first_start() {
    let mut ctx = JobCtx::default();
    ctx.up();
    assert!(ctx.downtime.is_none(), "no stop, no downtime");
    ctx.down("shelve");
    let first = ctx.down_since;
    ctx.down("migrate");
    assert_eq!(ctx.down_since, first, "the first stop counts");
    ctx.up();
    let d = ctx.downtime.expect("measured");
    assert_eq!(d.from, "shelve");
    assert!(ctx.down_since.is_none());
}
