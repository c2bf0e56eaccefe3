//! What the simulated cloud saw: request counts, the busiest second,
//! concurrent operations per AZ, and every resource created or deleted.
//! Benchmarks and tests read it to check that a client respects its limits.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A snapshot of the simulator's counters (`GET /_sim/stats`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    pub requests_total: u64,
    /// Per API: identity, compute, image, network, volume.
    pub requests_by_api: BTreeMap<String, u64>,
    /// Per API and method: "compute GET".
    pub requests_by_method: BTreeMap<String, u64>,
    /// Per API, method and route template: "compute GET /servers/detail".
    pub requests_by_route: BTreeMap<String, u64>,
    /// Per HTTP status code of the answers.
    pub responses_by_status: BTreeMap<String, u64>,
    /// Faults injected, per kind ("http_error 429", "snapshot_killed", …).
    pub faults_injected: BTreeMap<String, u64>,
    /// Most requests received within any sliding one-second window.
    pub max_requests_per_second: u64,
    pub operations: OperationStats,
    /// Servers, images and ports created, in order.
    pub created: Vec<ResourceEvent>,
    /// Servers, images and ports deleted, in order.
    pub deleted: Vec<ResourceEvent>,
    /// Every migration record (cold and live), in creation order, with its
    /// latest status.
    #[serde(default)]
    pub migrations: Vec<MigrationEvent>,
}

/// A migration as the stats see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MigrationEvent {
    /// Nova's integer migration id.
    pub id: u64,
    pub uuid: String,
    pub server_id: String,
    pub server_name: String,
    /// `migration` (cold) or `live-migration`.
    pub migration_type: String,
    pub source_compute: String,
    pub dest_compute: Option<String>,
    pub source_az: String,
    pub dest_az: Option<String>,
    pub status: String,
    /// Simulator clock time, RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

/// Long-running server operations (a server in BUILD or with a task in
/// progress). "Source" operations act on a server where it is (stop,
/// snapshot, shelve, delete, start); "target" ones put a server somewhere
/// (boot, unshelve). Migrations count on both sides: in the AZ they leave
/// and, once the destination is known, in the AZ they go to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OperationStats {
    pub in_flight: u64,
    pub max_in_flight: u64,
    pub in_flight_by_source_az: BTreeMap<String, u64>,
    pub max_in_flight_by_source_az: BTreeMap<String, u64>,
    pub in_flight_by_target_az: BTreeMap<String, u64>,
    pub max_in_flight_by_target_az: BTreeMap<String, u64>,
    /// Operations started, per kind (boot, stop, start, snapshot, shelve, …).
    pub started: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceEvent {
    /// server, image or port.
    pub kind: String,
    pub id: String,
    pub name: String,
    /// Simulator clock time, RFC 3339.
    pub at: String,
}

/// Whether an operation moves a server away from (source) or into (target) an AZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpSide {
    Source,
    Target,
}

/// Collects [`Stats`]; the sliding window lives here, not in the snapshot.
#[derive(Debug, Default)]
pub struct Collector {
    stats: Stats,
    window: VecDeque<Instant>,
    /// Per server, the AZ counters its running operation holds.
    running: HashMap<String, Vec<(OpSide, String)>>,
}

impl Collector {
    pub fn snapshot(&self) -> Stats {
        self.stats.clone()
    }

    pub fn record_request(&mut self, api: &str, method: &str, route: &str, now: Instant) {
        let s = &mut self.stats;
        s.requests_total += 1;
        *s.requests_by_api.entry(api.to_owned()).or_default() += 1;
        *s.requests_by_method
            .entry(format!("{api} {method}"))
            .or_default() += 1;
        *s.requests_by_route
            .entry(format!("{api} {method} {route}"))
            .or_default() += 1;
        self.window.push_back(now);
        while let Some(front) = self.window.front() {
            if now.duration_since(*front) >= Duration::from_secs(1) {
                self.window.pop_front();
            } else {
                break;
            }
        }
        s.max_requests_per_second = s.max_requests_per_second.max(self.window.len() as u64);
    }

    pub fn record_status(&mut self, status: u16) {
        *self
            .stats
            .responses_by_status
            .entry(status.to_string())
            .or_default() += 1;
    }

    pub fn record_fault(&mut self, what: &str) {
        *self
            .stats
            .faults_injected
            .entry(what.to_owned())
            .or_default() += 1;
    }

    pub fn resource_created(&mut self, kind: &str, id: &str, name: &str, at: String) {
        self.stats.created.push(ResourceEvent {
            kind: kind.to_owned(),
            id: id.to_owned(),
            name: name.to_owned(),
            at,
        });
    }

    pub fn resource_deleted(&mut self, kind: &str, id: &str, name: &str, at: String) {
        self.stats.deleted.push(ResourceEvent {
            kind: kind.to_owned(),
            id: id.to_owned(),
            name: name.to_owned(),
            at,
        });
    }

    /// A server starts an operation; a running one on the same server ends first.
    pub fn op_started(&mut self, server_id: &str, kind: &str, side: OpSide, az: &str) {
        self.op_finished(server_id);
        let ops = &mut self.stats.operations;
        *ops.started.entry(kind.to_owned()).or_default() += 1;
        ops.in_flight += 1;
        ops.max_in_flight = ops.max_in_flight.max(ops.in_flight);
        self.op_add_side(server_id, side, az);
    }

    /// The running operation of a server also holds a slot in `az` on
    /// `side` (a migration once its destination is known).
    pub fn op_add_side(&mut self, server_id: &str, side: OpSide, az: &str) {
        let sides = self.running.entry(server_id.to_owned()).or_default();
        if sides.iter().any(|(s, a)| *s == side && a == az) {
            return;
        }
        sides.push((side, az.to_owned()));
        let ops = &mut self.stats.operations;
        let (current, max) = match side {
            OpSide::Source => (
                &mut ops.in_flight_by_source_az,
                &mut ops.max_in_flight_by_source_az,
            ),
            OpSide::Target => (
                &mut ops.in_flight_by_target_az,
                &mut ops.max_in_flight_by_target_az,
            ),
        };
        let n = current.entry(az.to_owned()).or_default();
        *n += 1;
        let m = max.entry(az.to_owned()).or_default();
        *m = (*m).max(*n);
    }

    pub fn op_finished(&mut self, server_id: &str) {
        let Some(sides) = self.running.remove(server_id) else {
            return;
        };
        let ops = &mut self.stats.operations;
        ops.in_flight = ops.in_flight.saturating_sub(1);
        for (side, az) in sides {
            let current = match side {
                OpSide::Source => &mut ops.in_flight_by_source_az,
                OpSide::Target => &mut ops.in_flight_by_target_az,
            };
            if let Some(n) = current.get_mut(&az) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Record a new migration, or the new state of a known one.
    pub fn migration(&mut self, event: MigrationEvent) {
        match self.stats.migrations.iter_mut().find(|m| m.id == event.id) {
            Some(known) => *known = event,
            None => self.stats.migrations.push(event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_counts_the_busiest_second() {
        let mut c = Collector::default();
        let t0 = Instant::now();
        for i in 0..5 {
            c.record_request(
                "compute",
                "GET",
                "/servers",
                t0 + Duration::from_millis(i * 100),
            );
        }
        // 1.5 s later only the new ones count.
        for i in 0..3 {
            c.record_request(
                "compute",
                "GET",
                "/servers",
                t0 + Duration::from_millis(2000 + i * 10),
            );
        }
        let s = c.snapshot();
        assert_eq!(s.max_requests_per_second, 5);
        assert_eq!(s.requests_total, 8);
        assert_eq!(s.requests_by_route["compute GET /servers"], 8);
    }

    #[test]
    fn operations_track_maxima_per_az() {
        let mut c = Collector::default();
        c.op_started("a", "snapshot", OpSide::Source, "nova");
        c.op_started("b", "snapshot", OpSide::Source, "nova");
        c.op_started("c", "boot", OpSide::Target, "nova2");
        c.op_finished("a");
        c.op_started("a", "boot", OpSide::Target, "nova2");
        let ops = c.snapshot().operations;
        assert_eq!(ops.max_in_flight, 3);
        assert_eq!(ops.in_flight, 3);
        assert_eq!(ops.max_in_flight_by_source_az["nova"], 2);
        assert_eq!(ops.in_flight_by_source_az["nova"], 1);
        assert_eq!(ops.max_in_flight_by_target_az["nova2"], 2);
        assert_eq!(ops.started["snapshot"], 2);
    }

    #[test]
    fn a_migration_holds_a_slot_on_both_sides() {
        let mut c = Collector::default();
        c.op_started("a", "migrate", OpSide::Source, "nova");
        c.op_add_side("a", OpSide::Target, "nova2");
        c.op_add_side("a", OpSide::Target, "nova2");
        let ops = c.snapshot().operations;
        assert_eq!(ops.in_flight, 1);
        assert_eq!(ops.in_flight_by_source_az["nova"], 1);
        assert_eq!(ops.in_flight_by_target_az["nova2"], 1);
        c.op_finished("a");
        let ops = c.snapshot().operations;
        assert_eq!(ops.in_flight, 0);
        assert_eq!(ops.in_flight_by_source_az["nova"], 0);
        assert_eq!(ops.in_flight_by_target_az["nova2"], 0);
        assert_eq!(ops.max_in_flight_by_target_az["nova2"], 1);
    }
}
