//! Where a cold or live migration goes: a host of the target AZ chosen at
//! the step, not by the planner, since only then is it known which hosts
//! are up and how full they are.
//!
//! Candidates are the hosts `os-availability-zone/detail` lists for the
//! target AZ whose nova-compute is enabled and up, minus the server's own
//! host and hosts a migration of this server already failed to. Where
//! `os-hypervisors/detail` gives usage (up to microversion 2.87, admin),
//! hosts without room for the flavor's RAM are left out and the one with
//! the most free RAM wins, after subtracting what this run's own moves
//! have just sent there (the cloud's figures lag behind): concurrent moves
//! spread instead of piling onto one host. Without usage figures the host
//! with the fewest moves of this run wins, and Nova's scheduler checks the
//! room. vCPUs and disk are not checked: their overcommit ratios are not
//! visible through the API, so the figures would refuse moves Nova accepts.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::apply::cloud::Cloud;
use crate::openstack::Hypervisor;
use crate::plan::inventory::Host;

/// Hypervisor figures older than this are read again before a choice.
pub const HOSTS_FRESH_FOR: Duration = Duration::from_secs(30);

/// RAM a move of this run sent to a host and the cloud may not show yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub host: String,
    pub ram_mb: u64,
    /// The move (its key) that made the claim.
    pub key: String,
    pub at: Instant,
}

/// The choice among the hosts of an AZ. Pure: the inputs are what was
/// read, the output the host or why there is none.
pub fn choose(
    az: &str,
    zone_hosts: &[Host],
    hypervisors: Option<&[Hypervisor]>,
    claims: &[Claim],
    ram_mb: Option<u64>,
    exclude: &[String],
) -> Result<String, String> {
    let up: Vec<&Host> = zone_hosts.iter().filter(|h| h.enabled && h.up).collect();
    if up.is_empty() {
        return Err(format!("no compute host of {az} is enabled and up"));
    }
    let mut full = Vec::new();
    let mut ranked: Vec<(Option<i64>, usize, &str)> = Vec::new();
    for h in up {
        if exclude.iter().any(|x| same_host(x, &h.name)) {
            continue;
        }
        let hv = hypervisors.and_then(|list| {
            list.iter().find(|v| {
                v.service_host
                    .as_deref()
                    .is_some_and(|s| same_host(s, &h.name))
                    || same_host(&v.hostname, &h.name)
            })
        });
        if hv.is_some_and(|v| !v.usable()) {
            continue;
        }
        let mine: Vec<&Claim> = claims
            .iter()
            .filter(|c| same_host(&c.host, &h.name))
            .collect();
        let claimed: i64 = mine.iter().map(|c| c.ram_mb as i64).sum();
        let free = hv.and_then(Hypervisor::free_ram).map(|f| f - claimed);
        if let (Some(free), Some(need)) = (free, ram_mb)
            && free < need as i64
        {
            full.push(format!("{} has {free} MB free", h.name));
            continue;
        }
        ranked.push((free, mine.len(), h.name.as_str()));
    }
    // Known free RAM first, most of it first; then fewest moves of this
    // run; then the name, so that the choice is repeatable.
    ranked.sort_by(|a, b| {
        b.0.is_some()
            .cmp(&a.0.is_some())
            .then(b.0.cmp(&a.0))
            .then(a.1.cmp(&b.1))
            .then(a.2.cmp(b.2))
    });
    match ranked.first() {
        Some((_, _, name)) => Ok((*name).to_string()),
        None if !full.is_empty() => Err(format!(
            "no host of {az} has room for the flavor ({} MB of RAM): {}",
            ram_mb.unwrap_or_default(),
            full.join(", ")
        )),
        None => Err(format!("no other host of {az} is enabled and up")),
    }
}

#[derive(Debug, Default)]
struct Book {
    /// `None`: not read yet, or not visible to the caller.
    hypervisors: Option<Vec<Hypervisor>>,
    read_at: Option<Instant>,
    /// The caller may not list hypervisors (403): do not ask again.
    hidden: bool,
    claims: Vec<Claim>,
}

/// The hypervisor figures and the claims of the moves of one run, shared
/// by all of them. Reads are coalesced: concurrent choices wait for one
/// read instead of each making their own.
#[derive(Debug, Default)]
pub struct HostBook {
    book: Mutex<Book>,
}

impl HostBook {
    /// Choose a destination in `az` for the move `key` and claim the
    /// flavor's RAM there.
    pub async fn pick(
        &self,
        cloud: &dyn Cloud,
        az: &str,
        zone_hosts: &[Host],
        ram_mb: Option<u64>,
        exclude: &[String],
        key: &str,
    ) -> Result<String, String> {
        let mut book = self.book.lock().await;
        let stale = book.read_at.is_none_or(|t| t.elapsed() >= HOSTS_FRESH_FOR);
        if stale && !book.hidden {
            let started = Instant::now();
            match cloud.hypervisors().await {
                Ok(list) => {
                    book.hypervisors = Some(list);
                    book.read_at = Some(started);
                    // The cloud's figures now include what was sent before.
                    book.claims.retain(|c| c.at >= started);
                }
                Err(e) if matches!(e.status(), Some(401 | 403)) => {
                    tracing::debug!("hypervisors are not visible: {e}");
                    book.hidden = true;
                }
                Err(e) => tracing::warn!("could not read the hypervisors: {e}"),
            }
        }
        let host = choose(
            az,
            zone_hosts,
            book.hypervisors.as_deref(),
            &book.claims,
            ram_mb,
            exclude,
        )?;
        book.claims.push(Claim {
            host: host.clone(),
            ram_mb: ram_mb.unwrap_or_default(),
            key: key.to_string(),
            at: Instant::now(),
        });
        Ok(host)
    }

    /// The move `key` did not land where it claimed: let the claim go.
    pub async fn release(&self, key: &str) {
        self.book.lock().await.claims.retain(|c| c.key != key);
    }
}

/// Whether two names denote one compute host. The zone lists nova-compute
/// service hosts (often short names) while a server shows its hypervisor's
/// hostname (often the FQDN): `node-31` and `node-31.example.org` agree.
pub(crate) fn same_host(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long == short
        || long
            .strip_prefix(short)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> Host {
        Host {
            name: name.into(),
            enabled: true,
            up: true,
        }
    }

    fn hv(name: &str, free: i64) -> Hypervisor {
        Hypervisor {
            hostname: format!("{name}.example.org"),
            service_host: Some(name.into()),
            state: Some("up".into()),
            status: Some("enabled".into()),
            free_ram_mb: Some(free),
            ..Hypervisor::default()
        }
    }

    fn claim(host: &str, ram: u64) -> Claim {
        Claim {
            host: host.into(),
            ram_mb: ram,
            key: "k".into(),
            at: Instant::now(),
        }
    }

    #[test]
    fn the_most_free_ram_wins_and_full_hosts_are_left_out() {
        let hosts = [host("a"), host("b"), host("c")];
        let hvs = [hv("a", 4096), hv("b", 8192), hv("c", 1024)];
        assert_eq!(
            choose("z", &hosts, Some(&hvs), &[], Some(2048), &[]).as_deref(),
            Ok("b")
        );
        let e = choose("z", &hosts, Some(&hvs), &[], Some(16384), &[]).unwrap_err();
        assert!(e.contains("no host of z has room"), "{e}");
        assert!(e.contains("b has 8192 MB free"), "{e}");
    }

    #[test]
    fn concurrent_moves_spread_over_the_hosts() {
        let hosts = [host("a"), host("b")];
        let hvs = [hv("a", 8192), hv("b", 6144)];
        // A move just sent 4096 MB to a: b has more room now.
        let claims = [claim("a", 4096)];
        assert_eq!(
            choose("z", &hosts, Some(&hvs), &claims, Some(1024), &[]).as_deref(),
            Ok("b")
        );
        // Without usage figures: the host with fewer moves of this run.
        assert_eq!(
            choose("z", &hosts, None, &claims, Some(1024), &[]).as_deref(),
            Ok("b")
        );
        assert_eq!(
            choose("z", &hosts, None, &[], None, &[]).as_deref(),
            Ok("a")
        );
    }

    #[test]
    fn disabled_down_and_excluded_hosts_are_never_chosen() {
        let mut off = host("a");
        off.enabled = false;
        let mut down = hv("b", 99999);
        down.state = Some("down".into());
        let hosts = [off, host("b"), host("c"), host("d")];
        let hvs = [hv("a", 99999), down, hv("c", 100), hv("d", 200)];
        assert_eq!(
            choose("z", &hosts, Some(&hvs), &[], Some(64), &["d".into()]).as_deref(),
            Ok("c")
        );
        let e = choose(
            "z",
            &hosts,
            Some(&hvs),
            &[],
            Some(64),
            &["c".into(), "d".into()],
        )
        .unwrap_err();
        assert!(e.contains("no other host"), "{e}");
        let e = choose("z", &[], None, &[], None, &[]).unwrap_err();
        assert!(e.contains("enabled and up"), "{e}");
    }

    #[test]
    fn hypervisors_match_by_service_host_or_fully_qualified_name() {
        let hosts = [host("a"), host("b")];
        let mut by_fqdn = hv("b", 9000);
        by_fqdn.service_host = None;
        let hvs = [hv("a", 1000), by_fqdn];
        assert_eq!(
            choose("z", &hosts, Some(&hvs), &[], Some(512), &[]).as_deref(),
            Ok("b")
        );
    }

    #[test]
    fn short_and_fully_qualified_host_names_agree() {
        assert!(same_host("node-31", "node-31.example.org"));
        assert!(same_host("node-31.example.org", "node-31"));
        assert!(!same_host("node-3", "node-31"));
        assert!(!same_host("node-31", "node-32.example.org"));
    }
}
