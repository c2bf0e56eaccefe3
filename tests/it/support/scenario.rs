//! Simulator scenarios built in code. Most tests need the same small cloud
//! — two AZs, the flavor `m1.tiny`, the image `cirros`, the shared network
//! `net1`, the admin user `admin` — and differ only in a few places (host
//! size, quota, timings, servers, faults); a builder states those places
//! and nothing else, where pasted YAML hid them among forty common lines.

use std::fmt::Write as _;

use azmove::sim::Scenario;

/// The builder. [`ScenarioBuilder::new`] gives the default cloud:
/// `nova` (node-27) and `nova2` (node-31), hosts of 256 vCPUs, 512 GiB and
/// 10 TB, `m1.tiny` (id "1"), `cirros` (20 MB), the project `admin` with
/// Nova's default quota, the user `admin` (password `secret`, roles admin,
/// member and reader), and `net1` (shared, subnet 10.0.0.0/16).
#[derive(Debug, Clone)]
pub struct ScenarioBuilder {
    seed: u64,
    time_scale: Option<f64>,
    max_microversion: Option<String>,
    timings: Vec<(String, String)>,
    zones: Vec<(String, Vec<String>)>,
    host: Host,
    quota: Option<Quota>,
    member: Option<(String, String)>,
    cidr: String,
    servers: Vec<String>,
    faults: Vec<String>,
}

/// The capacity of every host.
#[derive(Debug, Clone, Copy)]
struct Host {
    vcpus: u64,
    ram_mb: u64,
    disk_gb: u64,
}

/// A Nova quota; -1 is unlimited.
#[derive(Debug, Clone, Copy)]
struct Quota {
    instances: i64,
    cores: i64,
    ram_mb: i64,
}

impl ScenarioBuilder {
    pub fn new(seed: u64) -> ScenarioBuilder {
        ScenarioBuilder {
            seed,
            time_scale: None,
            max_microversion: None,
            timings: Vec::new(),
            zones: vec![
                ("nova".to_owned(), vec!["node-27".to_owned()]),
                ("nova2".to_owned(), vec!["node-31".to_owned()]),
            ],
            host: Host {
                vcpus: 256,
                ram_mb: 524_288,
                disk_gb: 10_000,
            },
            quota: None,
            member: None,
            cidr: "10.0.0.0/16".to_owned(),
            servers: Vec::new(),
            faults: Vec::new(),
        }
    }

    /// Two AZs of two hosts each — `nova` (node-27, node-28) and `nova2`
    /// (node-31, node-32) — roomy enough for hundreds of servers, compute
    /// microversion 2.104 (cold and live moves need it), and the member
    /// `demo` (password `demo-secret`) in its own project besides `admin`.
    pub fn two_zones(seed: u64, time_scale: f64) -> ScenarioBuilder {
        ScenarioBuilder::new(seed)
            .time_scale(time_scale)
            .max_microversion("2.104")
            .zones(&[
                ("nova", &["node-27", "node-28"]),
                ("nova2", &["node-31", "node-32"]),
            ])
            .hosts_of(4096, 8_388_608, 100_000)
            .quota(100_000, 100_000, 100_000_000)
            .member("demo", "demo-secret")
    }

    /// `count` servers `vm-00001`… in `nova`, three hosts there and one in
    /// `nova2`, no quota: the scale tests' fleet.
    pub fn fleet(seed: u64, count: usize) -> ScenarioBuilder {
        ScenarioBuilder::new(seed)
            .zones(&[
                ("nova", &["node-1", "node-2", "node-3"]),
                ("nova2", &["node-4"]),
            ])
            .hosts_of(4096, 4_194_304, 100_000)
            .quota(-1, -1, -1)
            .servers(count, "vm-{i:05}", "nova")
    }

    pub fn time_scale(mut self, scale: f64) -> ScenarioBuilder {
        self.time_scale = Some(scale);
        self
    }

    /// The highest compute microversion (cold and live moves need 2.104).
    pub fn max_microversion(mut self, version: &str) -> ScenarioBuilder {
        self.max_microversion = Some(version.to_owned());
        self
    }

    /// One `timings` entry, e.g. `("boot", "4s")`.
    pub fn timing(mut self, key: &str, value: &str) -> ScenarioBuilder {
        self.timings.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The AZs and their hosts, in place of the default two.
    pub fn zones(mut self, zones: &[(&str, &[&str])]) -> ScenarioBuilder {
        self.zones = zones
            .iter()
            .map(|(az, hosts)| {
                let hosts = hosts.iter().map(|h| (*h).to_owned()).collect();
                ((*az).to_owned(), hosts)
            })
            .collect();
        self
    }

    /// The capacity of every host.
    pub fn hosts_of(mut self, vcpus: u64, ram_mb: u64, disk_gb: u64) -> ScenarioBuilder {
        self.host = Host {
            vcpus,
            ram_mb,
            disk_gb,
        };
        self
    }

    /// The compute quota of every project (-1: unlimited).
    pub fn quota(mut self, instances: i64, cores: i64, ram_mb: i64) -> ScenarioBuilder {
        self.quota = Some(Quota {
            instances,
            cores,
            ram_mb,
        });
        self
    }

    /// A second project, `user`'s own, where `user` has the roles member
    /// and reader; `net1` then belongs to `admin` (and is still shared).
    pub fn member(mut self, user: &str, password: &str) -> ScenarioBuilder {
        self.member = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// The CIDR of `net1`'s subnet.
    pub fn cidr(mut self, cidr: &str) -> ScenarioBuilder {
        self.cidr = cidr.to_owned();
        self
    }

    /// An ACTIVE `m1.tiny` server from `cirros` on `net1`, in `az`.
    pub fn server(self, name: &str, az: &str) -> ScenarioBuilder {
        self.server_with(name, az, "")
    }

    /// [`Self::server`] with more keys of the server's entry, as YAML flow
    /// mapping entries: `"project: demo, user: demo, status: SHUTOFF"`.
    pub fn server_with(mut self, name: &str, az: &str, more: &str) -> ScenarioBuilder {
        let more = if more.is_empty() {
            String::new()
        } else {
            format!(", {more}")
        };
        self.servers.push(format!(
            "{{name: \"{name}\", availability_zone: {az}, {}{more}}}",
            Self::SERVER_BASICS
        ));
        self
    }

    /// [`Self::server`] in `user`'s project, created by `user`.
    pub fn server_of(self, name: &str, az: &str, user: &str) -> ScenarioBuilder {
        self.server_with(name, az, &format!("project: {user}, user: {user}"))
    }

    /// `count` servers like [`Self::server`], named from `template`
    /// (`"vm-{i:02}"`), numbered from 1.
    pub fn servers(mut self, count: usize, template: &str, az: &str) -> ScenarioBuilder {
        self.servers.push(format!(
            "generate: {{count: {count}, name: \"{template}\", availability_zone: {az}, {}}}",
            Self::SERVER_BASICS
        ));
        self
    }

    /// One entry of `faults`, as a YAML flow mapping:
    /// `"snapshot_killed: {probability: 0.1}"`.
    pub fn fault(mut self, fault: &str) -> ScenarioBuilder {
        self.faults.push(fault.to_owned());
        self
    }

    const SERVER_BASICS: &str = "flavor: m1.tiny, image: cirros, networks: [net1]";

    pub fn yaml(&self) -> String {
        let mut y = format!("seed: {}\n", self.seed);
        if let Some(scale) = self.time_scale {
            writeln!(y, "time_scale: {scale}").unwrap();
        }
        if let Some(version) = &self.max_microversion {
            writeln!(y, "max_microversion: \"{version}\"").unwrap();
        }
        if !self.timings.is_empty() {
            y.push_str("timings:\n");
            for (key, value) in &self.timings {
                writeln!(y, "  {key}: {value}").unwrap();
            }
        }
        let Host {
            vcpus,
            ram_mb,
            disk_gb,
        } = self.host;
        y.push_str("availability_zones:\n");
        for (az, hosts) in &self.zones {
            let hosts: Vec<String> = hosts
                .iter()
                .map(|h| {
                    format!("{{name: {h}, vcpus: {vcpus}, ram_mb: {ram_mb}, disk_gb: {disk_gb}}}")
                })
                .collect();
            writeln!(y, "  - {{name: {az}, hosts: [{}]}}", hosts.join(", ")).unwrap();
        }
        y.push_str("flavors:\n  - {name: m1.tiny, id: \"1\", vcpus: 1, ram_mb: 512, disk_gb: 1}\n");
        y.push_str("images:\n  - {name: cirros, size_mb: 20}\n");
        let quota = self.quota.map_or(String::new(), |q| {
            format!(
                ", quota: {{instances: {}, cores: {}, ram_mb: {}}}",
                q.instances, q.cores, q.ram_mb
            )
        });
        writeln!(y, "projects:\n  - {{name: admin{quota}}}").unwrap();
        if let Some((user, _)) = &self.member {
            writeln!(y, "  - {{name: {user}{quota}}}").unwrap();
        }
        y.push_str("users:\n");
        y.push_str(
            "  - {name: admin, password: secret, project: admin, roles: [admin, member, reader]}\n",
        );
        if let Some((user, password)) = &self.member {
            writeln!(
                y,
                "  - {{name: {user}, password: {password}, project: {user}, roles: [member, reader]}}"
            )
            .unwrap();
        }
        let owner = if self.member.is_some() {
            "project: admin, "
        } else {
            ""
        };
        writeln!(
            y,
            "networks:\n  - {{name: net1, {owner}shared: true, subnets: [{{name: sub1, cidr: {}}}]}}",
            self.cidr
        )
        .unwrap();
        if !self.servers.is_empty() {
            y.push_str("servers:\n");
            for server in &self.servers {
                writeln!(y, "  - {server}").unwrap();
            }
        }
        if !self.faults.is_empty() {
            y.push_str("faults:\n");
            for fault in &self.faults {
                writeln!(y, "  - {fault}").unwrap();
            }
        }
        y
    }

    pub fn build(&self) -> Scenario {
        Scenario::from_yaml(&self.yaml()).expect("the built scenario is valid")
    }
}
