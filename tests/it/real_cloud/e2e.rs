//! Driving the real `azmove` binary against the harness cloud, and checking
//! what it did through raw HTTP ([`super::os_http`]), never through azmove's
//! own client: the referee must not share the player's mistakes.
//!
//! Everything a test creates carries its unique tag as a name prefix;
//! [`guarded`] deletes every server, image, port and volume with that prefix
//! when the test ends, whether it passed, failed or panicked.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use futures::FutureExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::apply::journal_events;

use super::os_http::{CloudsYaml, Res, Session, compact, poll};

/// The day-1 world created by `tests/cloud/cloud up` (tests/cloud/README.md).
pub const IMAGE: &str = "cirros";
pub const NETWORK: &str = "net1";
pub const KEYPAIR: &str = "azmove-key";
pub const SOURCE_AZ: &str = "nova";
pub const TARGET_AZ: &str = "nova2";
pub const SOURCE_HOSTS: [&str; 2] = ["node-27", "node-28"];
pub const TARGET_HOST: &str = "node-31";

/// Generous limits so that a broken cloud cannot hang the suite; they assert
/// nothing about speed.
pub const LIMIT: Duration = Duration::from_secs(300);
/// How long one `azmove` run may take before the test gives up on it.
pub const RUN_LIMIT: Duration = Duration::from_secs(600);

/// Compute microversion for reads: 2.47 embeds the flavor (`original_name`),
/// 2.100 is what the tests boot with.
pub const MV: &str = "2.100";

/// The tags azmove puts on what it creates (docs/plan.md): part of its
/// contract with the user, so the referee reads them by name.
pub const TAG_SOURCE: &str = "azmove_source";
pub const TAG_TARGET: &str = "azmove_target";
pub const TAG_MOVED_TO: &str = "azmove_moved_to";

/// Logged-in sessions and the ids of the day-1 resources.
pub struct World {
    pub clouds_yaml: PathBuf,
    pub admin: Session,
    pub member: Session,
    pub image: String,
    pub net: String,
}

impl World {
    pub async fn connect(clouds: &CloudsYaml, clouds_yaml: &Path) -> World {
        let admin = Session::login(&must(clouds.cloud("admin")).auth)
            .await
            .unwrap_or_else(|e| panic!("Keystone login as admin: {e}"));
        let member = Session::login(&must(clouds.cloud("member")).auth)
            .await
            .unwrap_or_else(|e| panic!("Keystone login as the demo member: {e}"));
        let image = must(
            member
                .id_by_name(
                    "image",
                    &format!("/v2/images?name={IMAGE}"),
                    "images",
                    IMAGE,
                )
                .await,
        );
        let net = must(
            member
                .id_by_name(
                    "network",
                    &format!("/v2.0/networks?name={NETWORK}"),
                    "networks",
                    NETWORK,
                )
                .await,
        );
        World {
            clouds_yaml: clouds_yaml.to_path_buf(),
            admin,
            member,
            image,
            net,
        }
    }

    pub fn session(&self, who: Who) -> &Session {
        match who {
            Who::Admin => &self.admin,
            Who::Member => &self.member,
        }
    }
}

/// Which clouds.yaml entry acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Admin,
    Member,
}

impl Who {
    pub fn cloud(self) -> &'static str {
        match self {
            Who::Admin => "admin",
            Who::Member => "member",
        }
    }
}

/// Unwrap a helper's result, failing the test with its sentence.
#[track_caller]
pub fn must<T>(r: Res<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A tag unique to one test run: every name the test creates starts with it.
pub fn new_tag(test: &str) -> String {
    format!(
        "e2e-{test}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Run `body`, then delete everything named with `tag`'s prefix, then
/// re-raise the body's panic if it had one.
pub async fn guarded<F: Future<Output = ()>>(world: &World, tag: &str, body: F) {
    let outcome = std::panic::AssertUnwindSafe(body).catch_unwind().await;
    clean_up(&world.admin, tag).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Delete every server, image, port and volume of any project whose name
/// starts with `prefix`. Best effort: problems are printed, not raised, so
/// that they never hide the test's own failure.
pub async fn clean_up(admin: &Session, prefix: &str) {
    let servers = match list_servers(admin, prefix, true).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cleanup: listing servers: {e}");
            Vec::new()
        }
    };
    for s in &servers {
        let id = s["id"].as_str().unwrap_or_default();
        if let Err(e) = admin.delete("compute", &format!("/servers/{id}")).await {
            eprintln!("cleanup: {e}");
        }
    }
    for s in &servers {
        let path = format!("/servers/{}", s["id"].as_str().unwrap_or_default());
        if let Err(e) = admin.wait_gone("compute", &path, LIMIT).await {
            eprintln!("cleanup: {e}");
        }
    }
    match list_images(admin).await {
        Ok(images) => {
            for img in images.iter().filter(|i| named(i, prefix)) {
                let id = img["id"].as_str().unwrap_or_default();
                if let Err(e) = admin.delete("image", &format!("/v2/images/{id}")).await {
                    eprintln!("cleanup: {e}");
                }
            }
        }
        Err(e) => eprintln!("cleanup: listing images: {e}"),
    }
    match admin.get("network", "/v2.0/ports", None).await {
        Ok(r) => {
            for p in r.body["ports"].as_array().into_iter().flatten() {
                if named(p, prefix) {
                    let id = p["id"].as_str().unwrap_or_default();
                    if let Err(e) = admin.delete("network", &format!("/v2.0/ports/{id}")).await {
                        eprintln!("cleanup: {e}");
                    }
                }
            }
        }
        Err(e) => eprintln!("cleanup: listing ports: {e}"),
    }
    match admin
        .get("volumev3", "/volumes/detail?all_tenants=1", None)
        .await
    {
        Ok(r) => {
            for v in r.body["volumes"].as_array().into_iter().flatten() {
                if named(v, prefix) {
                    let id = v["id"].as_str().unwrap_or_default().to_owned();
                    if let Err(e) = delete_volume(admin, &id).await {
                        eprintln!("cleanup: {e}");
                    }
                }
            }
        }
        Err(e) => eprintln!("cleanup: listing volumes: {e}"),
    }
    // networks last: their ports are gone with the servers (subnets go with them)
    match admin.get("network", "/v2.0/networks", None).await {
        Ok(r) => {
            for n in r.body["networks"].as_array().into_iter().flatten() {
                if named(n, prefix) {
                    let id = n["id"].as_str().unwrap_or_default();
                    if let Err(e) = admin
                        .delete("network", &format!("/v2.0/networks/{id}"))
                        .await
                    {
                        eprintln!("cleanup: {e}");
                    }
                }
            }
        }
        Err(e) => eprintln!("cleanup: listing networks: {e}"),
    }
}

/// A network with one IPv4 subnet, in the session's project.
pub async fn create_network(session: &Session, name: &str, cidr: &str) -> Res<String> {
    let r = session
        .post(
            "network",
            "/v2.0/networks",
            None,
            &json!({"network": {"name": name}}),
        )
        .await?;
    let net = r.expect_ok("POST /v2.0/networks")?;
    let id = net["network"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("POST /v2.0/networks: no id in {}", compact(&net)))?;
    let subnet = json!({"subnet": {"name": name, "network_id": id, "ip_version": 4, "cidr": cidr}});
    session
        .post("network", "/v2.0/subnets", None, &subnet)
        .await?
        .expect_ok("POST /v2.0/subnets")?;
    Ok(id)
}

/// The network names of a server's `addresses`, in the order Nova sent
/// them (the order of its NICs), read from the raw body: a JSON map type
/// would sort them.
pub async fn network_order(session: &Session, id: &str) -> Res<Vec<String>> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Keys, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                        out.push(k);
                    }
                    Ok(Keys(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    #[derive(serde::Deserialize)]
    struct One {
        server: Addresses,
    }
    #[derive(serde::Deserialize)]
    struct Addresses {
        addresses: Keys,
    }
    let url = format!("{}/servers/{id}", session.endpoint("compute")?);
    let text = session
        .http
        .get(&url)
        .header("X-Auth-Token", &session.token)
        .header("OpenStack-API-Version", format!("compute {MV}"))
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?
        .text()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let one: One = serde_json::from_str(&text).map_err(|e| format!("GET {url}: {e}: {text}"))?;
    Ok(one.server.addresses.0)
}

fn named(resource: &Value, prefix: &str) -> bool {
    resource["name"]
        .as_str()
        .is_some_and(|n| n.starts_with(prefix))
}

/// A volume can be deleted only once its server has let go of it.
async fn delete_volume(admin: &Session, id: &str) -> Res<()> {
    let path = format!("/volumes/{id}");
    poll(LIMIT, &format!("volume {id} to be deleted"), || async {
        let r = admin.delete("volumev3", &path).await?;
        Ok(match r.status {
            StatusCode::ACCEPTED | StatusCode::NOT_FOUND => Some(()),
            _ => None, // in-use or detaching: try again
        })
    })
    .await?;
    admin.wait_gone("volumev3", &path, LIMIT).await
}

/// Servers whose name starts with `prefix` (Nova's `name` filter is a
/// regular expression), with full detail; `all_projects` needs admin.
pub async fn list_servers(session: &Session, prefix: &str, all_projects: bool) -> Res<Vec<Value>> {
    let mut path = format!("/servers/detail?name=^{prefix}");
    if all_projects {
        path.push_str("&all_tenants=1");
    }
    let body = session
        .get("compute", &path, Some(MV))
        .await?
        .expect_ok(&path)?;
    Ok(body["servers"].as_array().cloned().unwrap_or_default())
}

/// Every image the session can see, following Glance's `next` links.
pub async fn list_images(session: &Session) -> Res<Vec<Value>> {
    let mut out = Vec::new();
    let mut path = "/v2/images?limit=200".to_owned();
    loop {
        let body = session.get("image", &path, None).await?.expect_ok(&path)?;
        out.extend(body["images"].as_array().into_iter().flatten().cloned());
        match body["next"].as_str() {
            Some(next) if !next.is_empty() => path = next.to_owned(),
            _ => return Ok(out),
        }
    }
}

/// Every hidden image the session can see (`os_hidden=true`, Image API
/// 2.7), following Glance's `next` links: azmove's claims and run records
/// live there, out of every normal image list.
pub async fn list_hidden_images(session: &Session) -> Res<Vec<Value>> {
    let mut out = Vec::new();
    let mut path = "/v2/images?os_hidden=true&limit=200".to_owned();
    loop {
        let body = session.get("image", &path, None).await?.expect_ok(&path)?;
        out.extend(body["images"].as_array().into_iter().flatten().cloned());
        match body["next"].as_str() {
            Some(next) if !next.is_empty() => path = next.to_owned(),
            _ => return Ok(out),
        }
    }
}

/// Images that are azmove snapshots of one of `sources`, or named with `prefix`.
pub async fn leftover_snapshots(
    session: &Session,
    prefix: &str,
    sources: &BTreeSet<String>,
) -> Res<Vec<String>> {
    Ok(list_images(session)
        .await?
        .iter()
        .filter(|i| named(i, prefix) || i[TAG_SOURCE].as_str().is_some_and(|s| sources.contains(s)))
        .map(|i| {
            format!(
                "{} {} ({})",
                i["id"].as_str().unwrap_or_default(),
                i["name"].as_str().unwrap_or_default(),
                i["status"].as_str().unwrap_or_default()
            )
        })
        .collect())
}

/// How to boot one source server.
pub struct Boot<'a> {
    pub name: String,
    pub flavor: &'a str,
    pub metadata: Value,
    /// A Neutron port made beforehand (else Nova makes the ports).
    pub port: Option<String>,
    /// How many ports on net1 Nova makes when neither `port` nor `networks`
    /// is given.
    pub nics: usize,
    /// Network ids, one NIC each, in this order (instead of net1).
    pub networks: Vec<String>,
    /// Boot from a Cinder volume made from the image instead of the image.
    pub volume: Option<String>,
}

impl<'a> Boot<'a> {
    pub fn new(name: String) -> Self {
        Boot {
            name,
            flavor: "m1.tiny",
            metadata: json!({}),
            port: None,
            nics: 1,
            networks: Vec::new(),
            volume: None,
        }
    }
}

/// POST /servers in AZ `nova` with security group `default` and the key pair;
/// returns the new server's id (it is still building).
pub async fn boot(session: &Session, world: &World, spec: &Boot<'_>) -> Res<String> {
    let flavor = session
        .id_by_name("compute", "/flavors", "flavors", spec.flavor)
        .await?;
    let networks = match &spec.port {
        Some(port) => vec![json!({"port": port})],
        None if !spec.networks.is_empty() => {
            spec.networks.iter().map(|n| json!({"uuid": n})).collect()
        }
        None => vec![json!({"uuid": world.net}); spec.nics],
    };
    let mut server = json!({
        "name": spec.name, "flavorRef": flavor, "availability_zone": SOURCE_AZ,
        "networks": networks, "security_groups": [{"name": "default"}],
        "key_name": KEYPAIR, "metadata": spec.metadata});
    match &spec.volume {
        Some(volume) => {
            server["block_device_mapping_v2"] = json!([{
                "boot_index": 0, "uuid": volume, "source_type": "volume",
                "destination_type": "volume", "delete_on_termination": false}]);
        }
        None => server["imageRef"] = json!(world.image),
    }
    let r = session
        .post(
            "compute",
            "/servers",
            Some(MV),
            &json!({ "server": server }),
        )
        .await?;
    if r.status != StatusCode::ACCEPTED {
        return Err(format!(
            "POST /servers {}: HTTP {} {}",
            spec.name,
            r.status.as_u16(),
            compact(&r.body)
        ));
    }
    r.body["server"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("POST /servers {}: no id in {}", spec.name, compact(&r.body)))
}

/// Boot all `specs` at once and wait until every one is ACTIVE; returns
/// name → server body.
pub async fn boot_all(
    session: &Session,
    world: &World,
    specs: &[Boot<'_>],
) -> Res<BTreeMap<String, Value>> {
    let ids = futures::future::try_join_all(specs.iter().map(|s| boot(session, world, s))).await?;
    let servers = futures::future::try_join_all(
        ids.iter()
            .map(|id| session.wait_server(id, &["ACTIVE"], LIMIT)),
    )
    .await?;
    Ok(specs.iter().map(|s| s.name.clone()).zip(servers).collect())
}

/// A Neutron port on net1 named `name`, in the session's project.
pub async fn create_port(session: &Session, world: &World, name: &str) -> Res<String> {
    let body = json!({"port": {"name": name, "network_id": world.net}});
    let r = session.post("network", "/v2.0/ports", None, &body).await?;
    let port = r.expect_ok("POST /v2.0/ports")?;
    port["port"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("POST /v2.0/ports: no id in {}", compact(&port)))
}

/// A bootable 1 GiB Cinder volume made from the image, in AZ `nova`; waits
/// until it is `available`.
pub async fn create_boot_volume(session: &Session, world: &World, name: &str) -> Res<String> {
    let body = json!({"volume": {"name": name, "size": 1, "imageRef": world.image,
                                  "availability_zone": SOURCE_AZ}});
    let r = session.post("volumev3", "/volumes", None, &body).await?;
    let v = r.expect_ok("POST /volumes")?;
    let id = v["volume"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("POST /volumes: no id in {}", compact(&v)))?;
    let path = format!("/volumes/{id}");
    poll(
        LIMIT,
        &format!("volume {id} to become available"),
        || async {
            let v = session
                .get("volumev3", &path, None)
                .await?
                .expect_ok(&path)?;
            match v["volume"]["status"].as_str() {
                Some("available") => Ok(Some(())),
                Some(s @ ("error" | "error_deleting")) => Err(format!("volume {id} is {s}")),
                _ => Ok(None),
            }
        },
    )
    .await?;
    Ok(id)
}

/// The Neutron ports attached to a server.
pub async fn ports_of(session: &Session, id: &str) -> Res<Vec<Value>> {
    let path = format!("/v2.0/ports?device_id={id}");
    let body = session
        .get("network", &path, None)
        .await?
        .expect_ok(&path)?;
    Ok(body["ports"].as_array().cloned().unwrap_or_default())
}

/// GET /servers/{id} at [`MV`]; `None` once it is deleted.
pub async fn show_server(session: &Session, id: &str) -> Res<Option<Value>> {
    let path = format!("/servers/{id}");
    let r = session.get("compute", &path, Some(MV)).await?;
    if r.status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    Ok(Some(r.expect_ok(&path)?["server"].clone()))
}

/// The instance actions of a server (also of a deleted one: 2.21+), as
/// (action, start time) pairs.
pub async fn instance_actions(session: &Session, id: &str) -> Res<Vec<(String, String)>> {
    let path = format!("/servers/{id}/os-instance-actions");
    let body = session
        .get("compute", &path, Some("2.84"))
        .await?
        .expect_ok(&path)?;
    Ok(body["instanceActions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["action"].as_str().unwrap_or_default().to_owned(),
                a["start_time"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// A Nova or Glance timestamp cut to whole seconds (`YYYY-MM-DDTHH:MM:SS`),
/// so that `2026-01-01T10:00:00Z` and `2026-01-01T10:00:00.000000` compare
/// as equal and later ones as greater. Nova stores whole seconds anyway.
pub fn second(ts: &str) -> Res<String> {
    let cut = ts
        .get(..19)
        .ok_or_else(|| format!("timestamp {ts:?} is too short"))?;
    let b = cut.as_bytes();
    let shape_ok = b.len() == 19
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':');
    if shape_ok {
        Ok(cut.to_owned())
    } else {
        Err(format!("timestamp {ts:?} is not ISO 8601"))
    }
}

/// The replacements azmove made for `source` (servers tagged with its id).
pub fn replacements_of<'a>(servers: &'a [Value], source: &str) -> Vec<&'a Value> {
    servers
        .iter()
        .filter(|s| s["metadata"][TAG_SOURCE].as_str() == Some(source))
        .collect()
}

/// The result of one `azmove` run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub command: String,
}

impl Run {
    fn from_output(command: String, out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            command,
        }
    }

    /// Fail the test unless the exit code is `want`, with everything printed.
    #[track_caller]
    pub fn expect_code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(want),
            "`{}` exited {:?}, expected {want}\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The `azmove` binary of this build, run in a scratch directory with the
/// harness clouds.yaml and nothing else from the caller's OpenStack
/// environment.
pub struct Azmove {
    pub dir: tempfile::TempDir,
    clouds_yaml: PathBuf,
}

impl Azmove {
    pub fn new(world: &World) -> Azmove {
        Azmove {
            dir: tempfile::tempdir().expect("a temporary directory"),
            clouds_yaml: world.clouds_yaml.clone(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// tests/cloud/plans/`template` with `@TAG@` replaced, written to the
    /// scratch directory.
    pub fn plan(&self, template: &str, tag: &str) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/cloud/plans")
            .join(template);
        let text = std::fs::read_to_string(&src)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()));
        let out = self.path(template);
        std::fs::write(&out, text.replace("@TAG@", tag))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
        out
    }

    /// A plan written as `text` into the scratch directory as `name`
    /// (for plans a test builds itself rather than from tests/cloud/plans).
    pub fn write_plan(&self, name: &str, text: &str) -> PathBuf {
        let out = self.path(name);
        std::fs::write(&out, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
        out
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_azmove"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OS_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("OS_CLIENT_CONFIG_FILE", &self.clouds_yaml)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .args(["--color", "never"])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Run to completion and capture the output.
    pub fn run(&self, args: &[&str]) -> Run {
        let line = format!("azmove {}", args.join(" "));
        let start = Instant::now();
        let out = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"));
        println!(
            "`{line}` exited {:?} after {:.1?}",
            out.status.code(),
            start.elapsed()
        );
        Run::from_output(line, out)
    }

    /// Start in the background, output into files of the scratch directory.
    pub fn spawn(&self, args: &[&str], label: &str) -> Running {
        let line = format!("azmove {}", args.join(" "));
        let stdout =
            std::fs::File::create(self.path(&format!("{label}.out"))).expect("stdout file");
        let stderr =
            std::fs::File::create(self.path(&format!("{label}.err"))).expect("stderr file");
        let child = self
            .command(args)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"));
        Running {
            child: Some(child),
            line,
            out: self.path(&format!("{label}.out")),
            err: self.path(&format!("{label}.err")),
        }
    }
}

/// A background `azmove`; killed if dropped while still running.
pub struct Running {
    child: Option<Child>,
    pub line: String,
    out: PathBuf,
    err: PathBuf,
}

impl Running {
    /// `Some(run)` once it has exited.
    pub fn try_finished(&mut self) -> Option<Run> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(Run {
                    code: status.code(),
                    stdout: std::fs::read_to_string(&self.out).unwrap_or_default(),
                    stderr: std::fs::read_to_string(&self.err).unwrap_or_default(),
                    command: self.line.clone(),
                })
            }
            _ => None,
        }
    }

    /// Wait until it exits; SIGKILL it after `limit` (its `code` is then
    /// `None`, like any death by a signal).
    pub async fn finish(&mut self, limit: Duration) -> Run {
        let start = Instant::now();
        loop {
            if let Some(run) = self.try_finished() {
                return run;
            }
            if start.elapsed() >= limit {
                self.kill();
                return Run {
                    code: None,
                    stdout: std::fs::read_to_string(&self.out).unwrap_or_default(),
                    stderr: std::fs::read_to_string(&self.err).unwrap_or_default(),
                    command: format!("{} (killed after {limit:?})", self.line),
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, like a crash or a lost machine: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The harness world, or `None` after printing the SKIPPED line.
pub async fn world_or_skip(test: &str) -> Option<World> {
    let clouds = super::os_http::real_cloud_or_skip(test).await?;
    let location = super::os_http::locate_real_cloud().expect("located by real_cloud_or_skip");
    Some(World::connect(&clouds, &location.clouds_yaml).await)
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// The JSON report `apply --report` wrote.
pub fn read_report(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("report {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("report {}: {e}", path.display()))
}

#[track_caller]
pub fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {v}"))
}

/// Servers named `prefix*` that exist or were deleted since `since`
/// (`changes-since` lists deleted ones too): every server ever made.
pub async fn servers_ever(session: &Session, prefix: &str, since: &str) -> Vec<Value> {
    let path = format!("/servers/detail?name=^{prefix}&changes-since={since}");
    let body = must(
        session
            .get("compute", &path, Some(MV))
            .await
            .and_then(|r| r.expect_ok(&path)),
    );
    body["servers"].as_array().cloned().unwrap_or_default()
}

/// The earliest `created` of `servers`, for [`servers_ever`].
pub fn earliest_created(servers: &BTreeMap<String, Value>) -> String {
    servers
        .values()
        .filter_map(|s| s["created"].as_str())
        .min()
        .expect("servers have `created`")
        .to_owned()
}

/// Run `action` on server `id` (`POST /servers/{id}/action`).
pub async fn server_action(session: &Session, id: &str, action: Value) -> Res<()> {
    let path = format!("/servers/{id}/action");
    let r = session.post("compute", &path, Some(MV), &action).await?;
    if r.status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "POST {path} {}: HTTP {} {}",
            compact(&action),
            r.status.as_u16(),
            compact(&r.body)
        ))
    }
}

/// Start `apply` and SIGKILL it as soon as its journal shows one of `steps`
/// started, or `after` that step started (to land inside the cloud's own
/// work). `Some(run)` if it finished first.
pub async fn apply_and_kill(
    az: &Azmove,
    args: &[&str],
    journal: &Path,
    steps: &[&str],
    after: Duration,
) -> Option<Run> {
    let old: BTreeSet<String> = journal_events(journal)
        .iter()
        .filter_map(|e| e["run"].as_str().map(str::to_owned))
        .collect();
    let mut running = az.spawn(args, &format!("killed-{}", old.len()));
    let start = std::time::Instant::now();
    let mut seen: Option<std::time::Instant> = None;
    loop {
        if let Some(run) = running.try_finished() {
            return Some(run);
        }
        if seen.is_none()
            && journal_events(journal).iter().any(|e| {
                e["event"] == "step_started"
                    && e["run"].as_str().is_some_and(|r| !old.contains(r))
                    && e["step"].as_str().is_some_and(|s| steps.contains(&s))
            })
        {
            seen = Some(std::time::Instant::now());
        }
        if seen.is_some_and(|t| t.elapsed() >= after) {
            running.kill();
            println!("killed `{}` {after:?} after one of {steps:?}", running.line);
            return None;
        }
        assert!(
            start.elapsed() < RUN_LIMIT,
            "`{}` neither finished nor reached {steps:?}",
            running.line
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Crash drill: for each stage, start `apply` and SIGKILL it at one of the
/// stage's steps (see [`apply_and_kill`]); a run that ends by itself first
/// (e.g. refusing a server still busy from the previous kill) is printed
/// and the stage tried again, up to 3 times; one that succeeds ends the
/// drill. Then run it until it exits 0 (at most 4 more runs).
pub async fn kill_in_stages_then_finish(
    az: &Azmove,
    args: &[&str],
    journal: &Path,
    stages: &[(&[&str], Duration)],
) -> Run {
    let mut finished: Option<Run> = None;
    'stages: for (steps, after) in stages {
        for _ in 0..3 {
            match apply_and_kill(az, args, journal, steps, *after).await {
                None => continue 'stages,
                Some(run) if run.code == Some(0) => {
                    finished = Some(run);
                    break 'stages;
                }
                Some(run) => println!(
                    "`{}` ended by itself with {:?} before {steps:?}:\n{}\n{}",
                    run.command, run.code, run.stdout, run.stderr
                ),
            }
        }
    }
    let mut runs = 0;
    loop {
        match finished {
            Some(run) if run.code == Some(0) => return run,
            Some(run) => println!(
                "`{}` exited {:?}:\n{}\n{}",
                run.command, run.code, run.stdout, run.stderr
            ),
            None => {}
        }
        runs += 1;
        assert!(
            runs <= 4,
            "apply did not finish after the kills and 3 more runs"
        );
        finished = Some(az.run(args));
    }
}

#[cfg(test)]
mod tests {
    use super::second;

    #[test]
    fn timestamps_compare_by_second() {
        assert_eq!(
            second("2026-11-25T21:30:36Z").as_deref(),
            Ok("2026-11-25T21:30:36")
        );
        assert_eq!(
            second("2026-11-25T21:30:36.000000").as_deref(),
            Ok("2026-11-25T21:30:36")
        );
        assert!(second("2026-11-25").is_err());
        assert!(second("2026/11/25 21:30:36").is_err());
    }
}
