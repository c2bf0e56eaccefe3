//! Nova's own record of what it did to a server — the instance actions
//! and their events (`GET /servers/{id}/os-instance-actions/{request_id}`)
//! — turned into the figures that say whether azmove keeps Nova busy: how
//! long Nova worked on each move, and how long it sat idle between one
//! action's end and the next request.
//!
//! Pure: the JSON comes from `tests/cloud/bench-cloud.py actions`.

use serde_json::Value;
use time::PrimitiveDateTime;
use time::macros::format_description;

/// One instance action: from the API receiving the request to its last
/// event finishing (seconds since the Unix epoch, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub name: String,
    pub start: f64,
    pub finish: f64,
}

/// What Nova did for one move (the source and, for the snapshot strategy,
/// its replacement), from the actions that started during the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// Seconds Nova was working on this move: the union of its actions.
    pub busy_s: f64,
    /// Idle seconds between the end of one action and the start of the
    /// next, in order (0 when they overlap).
    pub gaps_s: Vec<f64>,
    /// The action names, in order.
    pub actions: Vec<String>,
}

/// Nova's timestamps: `2018-04-25T01:26:36.790544`, UTC without an offset
/// (MariaDB's DATETIME keeps whole seconds, so the fraction is often 0).
pub fn parse_time(text: &str) -> Option<f64> {
    let with_fraction =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    let whole = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let text = text.trim_end_matches('Z');
    let t = PrimitiveDateTime::parse(text, with_fraction)
        .or_else(|_| PrimitiveDateTime::parse(text, whole))
        .ok()?
        .assume_utc();
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// The actions of one server, from a list of `instanceAction` objects
/// (the body of each `/os-instance-actions/{request_id}`, or that body
/// itself with its `instanceAction` wrapper). An action whose events have
/// not finished ends at its `updated_at`.
pub fn parse_actions(list: &Value) -> Result<Vec<Action>, String> {
    let items = list
        .as_array()
        .ok_or_else(|| "the instance actions are not a list".to_string())?;
    items
        .iter()
        .map(|item| {
            let a = item.get("instanceAction").unwrap_or(item);
            let name = a["action"]
                .as_str()
                .ok_or_else(|| format!("an instance action has no name: {a}"))?;
            let time_of = |v: &Value| v.as_str().and_then(parse_time);
            let start = time_of(&a["start_time"])
                .ok_or_else(|| format!("action {name} has no readable start_time"))?;
            let events = a["events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            let finish = events
                .iter()
                .filter_map(|e| time_of(&e["finish_time"]))
                .chain(time_of(&a["updated_at"]))
                .fold(start, f64::max);
            Ok(Action {
                name: name.to_string(),
                start,
                finish,
            })
        })
        .collect()
}

/// The chain of the actions that started at or after `since` (the run's
/// start, rounded down to a whole second like Nova's clock).
pub fn chain(actions: &[Action], since: f64) -> Chain {
    let mut run: Vec<&Action> = actions.iter().filter(|a| a.start >= since).collect();
    run.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut busy_s = 0.0;
    let mut gaps_s = Vec::new();
    // The end of the work so far: overlapping actions are counted once.
    let mut end: Option<f64> = None;
    for a in &run {
        match end {
            None => busy_s += a.finish - a.start,
            Some(e) => {
                gaps_s.push((a.start - e).max(0.0));
                busy_s += (a.finish - a.start.max(e)).max(0.0);
            }
        }
        end = Some(end.map_or(a.finish, |e| e.max(a.finish)));
    }
    Chain {
        busy_s,
        gaps_s,
        actions: run.iter().map(|a| a.name.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/openstack-api-samples/nova/os-instance-actions"
    );

    fn sample(name: &str) -> Value {
        let path = format!("{SAMPLES}/{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn action(name: &str, start: f64, finish: f64) -> Action {
        Action {
            name: name.into(),
            start,
            finish,
        }
    }

    #[test]
    fn the_api_sample_ends_at_its_last_event() {
        // v2.51: 01:26:30.301030 → 01:26:30.798227 (no updated_at yet);
        // v2.84: 01:26:36.341290 → 01:26:36.790544.
        for (version, want) in [("v2.51", 0.497_197), ("v2.84", 0.449_254)] {
            let body = sample(&format!("{version}/instance-action-get-resp.json"));
            let got = parse_actions(&Value::Array(vec![body])).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].name, "stop");
            let busy = got[0].finish - got[0].start;
            assert!((busy - want).abs() < 1e-5, "{version}: {busy}");
        }
        let member = sample("v2.84/instance-action-get-non-admin-resp.json");
        let got = parse_actions(&Value::Array(vec![member])).unwrap();
        assert!((got[0].finish - got[0].start - 0.395_885).abs() < 1e-5);
    }

    #[test]
    fn a_listed_action_without_events_ends_at_its_update() {
        let list = sample("v2.84/instance-actions-list-resp.json");
        let got = parse_actions(&list["instanceActions"]).unwrap();
        let create = got.iter().find(|a| a.name == "create").unwrap();
        assert!((create.finish - create.start - 2.301_696).abs() < 1e-5);
    }

    #[test]
    fn whole_second_timestamps_of_mariadb_are_read() {
        let a = parse_time("2026-12-03T21:00:44.000000").unwrap();
        let b = parse_time("2026-12-03T21:00:53").unwrap();
        assert_eq!(b - a, 9.0);
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn the_chain_keeps_the_run_and_measures_idle_time_between_actions() {
        let actions = [
            action("create", 0.0, 10.0),
            action("stop", 100.0, 102.0),
            action("createImage", 104.5, 110.0),
            action("delete", 125.0, 128.0),
        ];
        let c = chain(&actions, 100.0);
        assert_eq!(c.actions, ["stop", "createImage", "delete"]);
        assert_eq!(c.gaps_s, [2.5, 15.0]);
        assert_eq!(c.busy_s, 2.0 + 5.5 + 3.0);
    }

    #[test]
    fn overlapping_actions_are_busy_once_and_leave_no_gap() {
        let actions = [action("delete", 20.0, 24.0), action("create", 10.0, 22.0)];
        let c = chain(&actions, 0.0);
        assert_eq!(c.actions, ["create", "delete"]);
        assert_eq!(c.gaps_s, [0.0]);
        assert_eq!(c.busy_s, 14.0);
        assert_eq!(chain(&[], 0.0).busy_s, 0.0);
    }
}
