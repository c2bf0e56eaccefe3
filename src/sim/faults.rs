//! Fault injection. Each fault rule counts the events it applies to and
//! owns a random generator seeded from the scenario seed and the rule's
//! position, so whether the n-th event is hit depends only on the seed and
//! the order of events — never on timing or on other rules.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use regex::Regex;

use super::scenario::{CallRange, FaultSpec, OneOrMany};

/// The APIs of the simulated cloud, as named in scenario files and stats.
pub const SERVICES: &[&str] = &["identity", "compute", "image", "network", "volume"];

/// What a request looks like to the fault rules.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub service: &'a str,
    pub method: &'a str,
    /// Path after the service prefix and API version: `/servers/{uuid}/action`.
    pub path: &'a str,
    /// Server action name when the request is `POST /servers/{id}/action`.
    pub action: Option<&'a str>,
}

/// An injected HTTP error answer.
#[derive(Debug, Clone)]
pub struct HttpHit {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub message: Option<String>,
}

#[derive(Debug)]
struct Selector {
    nth: Option<OneOrMany>,
    calls: Option<CallRange>,
    probability: Option<f64>,
    count: u64,
    rng: ChaCha8Rng,
}

impl Selector {
    fn new(
        nth: Option<OneOrMany>,
        calls: Option<CallRange>,
        probability: Option<f64>,
        seed: u64,
        index: usize,
    ) -> Selector {
        let rule_seed = seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Selector {
            nth,
            calls,
            probability,
            count: 0,
            rng: ChaCha8Rng::seed_from_u64(rule_seed),
        }
    }

    /// Count one more event the rule applies to and decide whether it is hit.
    fn next(&mut self) -> bool {
        self.count += 1;
        let n = self.count;
        // Always draw, so that the n-th decision is the same whatever the
        // other selectors say.
        let draw: f64 = self.rng.random();
        let mut any = false;
        let mut hit = false;
        if let Some(nth) = &self.nth {
            any = true;
            hit |= nth.contains(n);
        }
        if let Some(r) = self.calls {
            any = true;
            hit |= r.from <= n && n <= r.to;
        }
        if let Some(p) = self.probability {
            any = true;
            hit |= draw < p;
        }
        !any || hit
    }
}

#[derive(Debug)]
struct RequestScope {
    service: Option<String>,
    method: Option<String>,
    path: Option<Regex>,
    action: Option<String>,
}

impl RequestScope {
    fn matches(&self, r: &RequestInfo<'_>) -> bool {
        if let Some(s) = &self.service
            && s != r.service
        {
            return false;
        }
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(r.method)
        {
            return false;
        }
        if let Some(p) = &self.path
            && !p.is_match(r.path)
        {
            return false;
        }
        if let Some(a) = &self.action
            && r.action != Some(a.as_str())
        {
            return false;
        }
        true
    }
}

#[derive(Debug)]
struct EventScope {
    availability_zone: Option<String>,
    server: Option<Regex>,
}

impl EventScope {
    fn matches(&self, az: &str, server_name: &str) -> bool {
        if let Some(a) = &self.availability_zone
            && a != az
        {
            return false;
        }
        if let Some(re) = &self.server
            && !re.is_match(server_name)
        {
            return false;
        }
        true
    }
}

/// Which server events an [`EventScope`] rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Snapshot,
    Boot,
    ColdMigration,
    LiveMigration,
    Unshelve,
    LiveMigrationCopy,
}

#[derive(Debug)]
enum Rule {
    SnapshotKilled(EventScope, Selector),
    BootError(EventScope, Selector),
    /// `kinds` lists the migration kinds it counts.
    MigrationError(EventScope, Selector, Vec<EventKind>),
    UnshelveError(EventScope, Selector),
    LiveMigrationHang(EventScope, Selector),
    Http(RequestScope, Selector, HttpHit),
    Latency(RequestScope, Selector, Duration),
}

/// All fault rules of a scenario, with their counters.
#[derive(Debug)]
pub struct Faults {
    rules: Vec<Rule>,
    token_valid_for: Option<Duration>,
    token_advertised: Option<Duration>,
    needs_action: bool,
}

fn compile(what: &str, index: usize, re: &Option<String>) -> Result<Option<Regex>, String> {
    re.as_ref()
        .map(|r| {
            Regex::new(r)
                .map_err(|e| format!("faults[{index}].{what}: invalid regular expression: {e}"))
        })
        .transpose()
}

fn check_service(index: usize, service: &Option<String>) -> Result<(), String> {
    if let Some(s) = service
        && !SERVICES.contains(&s.as_str())
    {
        return Err(format!(
            "faults[{index}].service: unknown service {s:?} (use one of {})",
            SERVICES.join(", ")
        ));
    }
    Ok(())
}

impl Faults {
    pub fn new(specs: &[FaultSpec], seed: u64) -> Result<Faults, String> {
        let mut rules = Vec::new();
        let mut token_valid_for = None;
        let mut token_advertised = None;
        let mut needs_action = false;
        for (i, spec) in specs.iter().enumerate() {
            match spec {
                FaultSpec::SnapshotKilled(e)
                | FaultSpec::BootError(e)
                | FaultSpec::UnshelveError(e)
                | FaultSpec::LiveMigrationHang(e) => {
                    let scope = EventScope {
                        availability_zone: e.availability_zone.clone(),
                        server: compile("server", i, &e.server)?,
                    };
                    let sel = Selector::new(e.nth.clone(), e.calls, e.probability, seed, i);
                    rules.push(match spec {
                        FaultSpec::SnapshotKilled(_) => Rule::SnapshotKilled(scope, sel),
                        FaultSpec::BootError(_) => Rule::BootError(scope, sel),
                        FaultSpec::UnshelveError(_) => Rule::UnshelveError(scope, sel),
                        _ => Rule::LiveMigrationHang(scope, sel),
                    });
                }
                FaultSpec::MigrationError(m) => {
                    let scope = EventScope {
                        availability_zone: m.availability_zone.clone(),
                        server: compile("server", i, &m.server)?,
                    };
                    let sel = Selector::new(m.nth.clone(), m.calls, m.probability, seed, i);
                    let kinds = match m.kind.as_deref() {
                        Some("cold") => vec![EventKind::ColdMigration],
                        Some("live") => vec![EventKind::LiveMigration],
                        None => vec![EventKind::ColdMigration, EventKind::LiveMigration],
                        Some(other) => {
                            return Err(format!(
                                "faults[{i}].kind: use `cold` or `live`, not {other:?}"
                            ));
                        }
                    };
                    rules.push(Rule::MigrationError(scope, sel, kinds));
                }
                FaultSpec::HttpError(h) => {
                    check_service(i, &h.service)?;
                    needs_action |= h.action.is_some();
                    let scope = RequestScope {
                        service: h.service.clone(),
                        method: if h.action.is_some() {
                            Some("POST".to_owned())
                        } else {
                            h.method.clone()
                        },
                        path: compile("path", i, &h.path)?,
                        action: h.action.clone(),
                    };
                    let sel = Selector::new(h.nth.clone(), h.calls, h.probability, seed, i);
                    let hit = HttpHit {
                        status: h.status,
                        retry_after: h.retry_after,
                        message: h.message.clone(),
                    };
                    rules.push(Rule::Http(scope, sel, hit));
                }
                FaultSpec::Latency(l) => {
                    check_service(i, &l.service)?;
                    let scope = RequestScope {
                        service: l.service.clone(),
                        method: l.method.clone(),
                        path: compile("path", i, &l.path)?,
                        action: None,
                    };
                    let sel = Selector::new(l.nth.clone(), l.calls, l.probability, seed, i);
                    rules.push(Rule::Latency(scope, sel, l.delay));
                }
                FaultSpec::TokenExpiry(t) => {
                    token_valid_for = Some(t.after);
                    token_advertised = t.advertised;
                }
            }
        }
        Ok(Faults {
            rules,
            token_valid_for,
            token_advertised,
            needs_action,
        })
    }

    /// Whether some rule looks at the action name in a request body.
    pub fn needs_action(&self) -> bool {
        self.needs_action
    }

    /// Extra delay for this request (sum of the latency rules that hit it).
    pub fn latency(&mut self, r: &RequestInfo<'_>) -> Duration {
        let mut total = Duration::ZERO;
        for rule in &mut self.rules {
            if let Rule::Latency(scope, sel, delay) = rule
                && scope.matches(r)
                && sel.next()
            {
                total += *delay;
            }
        }
        total
    }

    /// The first HTTP error rule that hits this request, if any. Every
    /// applicable rule counts the request, hit or not.
    pub fn http_error(&mut self, r: &RequestInfo<'_>) -> Option<HttpHit> {
        let mut found = None;
        for rule in &mut self.rules {
            if let Rule::Http(scope, sel, hit) = rule
                && scope.matches(r)
                && sel.next()
                && found.is_none()
            {
                found = Some(hit.clone());
            }
        }
        found
    }

    /// Whether the snapshot of this server, starting now, will be killed.
    pub fn snapshot_killed(&mut self, az: &str, server_name: &str) -> bool {
        self.event(az, server_name, EventKind::Snapshot)
    }

    /// Whether this boot will end in ERROR.
    pub fn boot_error(&mut self, az: &str, server_name: &str) -> bool {
        self.event(az, server_name, EventKind::Boot)
    }

    /// Whether this migration (to `az`) fails its scheduling or pre-checks.
    pub fn migration_error(&mut self, az: &str, server_name: &str, live: bool) -> bool {
        let kind = if live {
            EventKind::LiveMigration
        } else {
            EventKind::ColdMigration
        };
        self.event(az, server_name, kind)
    }

    /// Whether this unshelve (onto a host of `az`) fails to spawn.
    pub fn unshelve_error(&mut self, az: &str, server_name: &str) -> bool {
        self.event(az, server_name, EventKind::Unshelve)
    }

    /// Whether this live migration's copy (to `az`) never completes.
    pub fn live_migration_hang(&mut self, az: &str, server_name: &str) -> bool {
        self.event(az, server_name, EventKind::LiveMigrationCopy)
    }

    fn event(&mut self, az: &str, server_name: &str, kind: EventKind) -> bool {
        let mut hit = false;
        for rule in &mut self.rules {
            let (scope, sel) = match rule {
                Rule::SnapshotKilled(scope, sel) if kind == EventKind::Snapshot => (scope, sel),
                Rule::BootError(scope, sel) if kind == EventKind::Boot => (scope, sel),
                Rule::MigrationError(scope, sel, kinds) if kinds.contains(&kind) => (scope, sel),
                Rule::UnshelveError(scope, sel) if kind == EventKind::Unshelve => (scope, sel),
                Rule::LiveMigrationHang(scope, sel) if kind == EventKind::LiveMigrationCopy => {
                    (scope, sel)
                }
                _ => continue,
            };
            if scope.matches(az, server_name) {
                hit |= sel.next();
            }
        }
        hit
    }

    /// (how long a new token works, what its `expires_at` claims).
    pub fn token_lifetime(&self, default_ttl: Duration) -> (Duration, Duration) {
        let valid = self.token_valid_for.unwrap_or(default_ttl);
        let advertised = self.token_advertised.unwrap_or(valid);
        (valid, advertised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::Scenario;

    fn faults(yaml: &str, seed: u64) -> Faults {
        let s = Scenario::from_yaml(yaml).unwrap();
        Faults::new(&s.faults, seed).unwrap()
    }

    #[test]
    fn nth_hits_exactly_that_event() {
        let mut f = faults("faults:\n  - snapshot_killed: {nth: 3}\n", 1);
        let hits: Vec<bool> = (0..5).map(|_| f.snapshot_killed("nova", "vm")).collect();
        assert_eq!(hits, [false, false, true, false, false]);
    }

    #[test]
    fn scope_limits_what_is_counted() {
        let mut f = faults(
            "faults:\n  - boot_error: {availability_zone: nova2, nth: 1}\n",
            1,
        );
        assert!(!f.boot_error("nova", "a"));
        assert!(f.boot_error("nova2", "b"));
        assert!(!f.boot_error("nova2", "c"));
    }

    #[test]
    fn migration_faults_count_only_their_kind() {
        let mut f = faults(
            "faults:\n  - migration_error: {kind: live, nth: 2}\n  - unshelve_error: {nth: 1}\n  - live_migration_hang: {server: \"^db\"}\n",
            1,
        );
        assert!(!f.migration_error("nova2", "a", false));
        assert!(!f.migration_error("nova2", "a", true));
        assert!(!f.migration_error("nova2", "a", false));
        assert!(f.migration_error("nova2", "a", true));
        assert!(f.unshelve_error("nova2", "a"));
        assert!(!f.unshelve_error("nova2", "a"));
        assert!(f.live_migration_hang("nova", "db-1"));
        assert!(!f.live_migration_hang("nova", "web-1"));
    }

    #[test]
    fn call_ranges_hit_a_burst() {
        let mut f = faults(
            "faults:\n  - http_error: {status: 503, calls: {from: 3, to: 4}, service: compute}\n",
            1,
        );
        let r = RequestInfo {
            service: "compute",
            method: "GET",
            path: "/servers/detail",
            action: None,
        };
        let other = RequestInfo {
            service: "image",
            ..r
        };
        let mut statuses = Vec::new();
        for _ in 0..6 {
            assert!(f.http_error(&other).is_none());
            statuses.push(f.http_error(&r).map(|h| h.status));
        }
        assert_eq!(statuses, [None, None, Some(503), Some(503), None, None]);
    }

    #[test]
    fn same_seed_same_sequence_other_seed_differs() {
        let yaml = "faults:\n  - http_error: {status: 429, probability: 0.3}\n";
        let r = RequestInfo {
            service: "compute",
            method: "GET",
            path: "/servers",
            action: None,
        };
        let run = |seed| {
            let mut f = faults(yaml, seed);
            (0..200)
                .map(|_| f.http_error(&r).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|h| **h).count();
        assert!((20..=100).contains(&hits), "{hits} hits of 200 at p=0.3");
    }

    #[test]
    fn bad_rules_are_reported() {
        let s =
            Scenario::from_yaml("faults:\n  - http_error: {status: 500, service: nova}\n").unwrap();
        let err = Faults::new(&s.faults, 0).unwrap_err();
        assert!(err.contains("unknown service"), "{err}");
        let s =
            Scenario::from_yaml("faults:\n  - http_error: {status: 500, path: \"(\"}\n").unwrap();
        assert!(Faults::new(&s.faults, 0).is_err());
    }
}
