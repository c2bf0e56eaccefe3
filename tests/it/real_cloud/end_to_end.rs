//! End-to-end tests against a real OpenStack control plane.
//!
//! They run only when the harness cloud is there: `AZMOVE_REAL_CLOUD` names its
//! clouds.yaml (then an unreachable cloud fails the test), or
//! `<repo>/target/minicloud/clouds.yaml` (or `$AZMOVE_CLOUD_DIR/clouds.yaml`)
//! exists and Keystone answers. Otherwise every test prints
//! `SKIPPED: real cloud not running (start it with tests/cloud/cloud up)`.
//!
//! The simulator is written by the same people as the client, so it can share
//! their misunderstandings; these tests hold both to what real Keystone, Nova,
//! Glance and Neutron do. See docs/testing.md.
//!
//! ```text
//! tests/cloud/cloud up && cargo test --test it real_cloud::end_to_end:: -- --ignored --nocapture
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::e2e::{
    Azmove, Boot, IMAGE, KEYPAIR, NETWORK, SOURCE_AZ, SOURCE_HOSTS, TAG_MOVED_TO, TAG_SOURCE,
    TAG_TARGET, TARGET_AZ, TARGET_HOST, Who, World, boot_all, earliest_created, guarded, must,
    new_tag, path_str, read_report, servers_ever, str_of, world_or_skip,
};
use super::os_http::{CloudsYaml, Res, Session, compact, real_cloud_or_skip, unique};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The flavor of the day-1 world the raw-HTTP tests boot with.
const FLAVOR: &str = "m1.tiny";

const BOOT_LIMIT: Duration = Duration::from_secs(240);
const IMAGE_LIMIT: Duration = Duration::from_secs(240);

async fn sessions(clouds: &CloudsYaml) -> (Session, Session) {
    let admin = Session::login(&clouds.cloud("admin").expect("admin cloud").auth)
        .await
        .expect("Keystone v3 password login as admin");
    let member = Session::login(&clouds.cloud("member").expect("member cloud").auth)
        .await
        .expect("Keystone v3 password login as the demo member");
    (admin, member)
}

#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn keystone_tokens_catalog_and_nova_version() {
    let Some(clouds) = real_cloud_or_skip("keystone_tokens_catalog_and_nova_version").await else {
        return;
    };
    let (admin, member) = sessions(&clouds).await;

    assert!(
        admin.roles.iter().any(|r| r == "admin"),
        "admin roles: {:?}",
        admin.roles
    );
    assert!(
        member.roles.iter().any(|r| r == "member"),
        "member roles: {:?}",
        member.roles
    );
    assert!(
        !member.roles.iter().any(|r| r == "admin"),
        "member roles: {:?}",
        member.roles
    );
    assert_ne!(admin.project_id, member.project_id);
    for session in [&admin, &member] {
        for service in [
            "identity",
            "compute",
            "image",
            "network",
            "placement",
            "volumev3",
        ] {
            let url = session
                .endpoint(service)
                .expect("public endpoint in the catalog");
            assert!(
                url.starts_with("http://127.0.0.1:"),
                "{service} endpoint {url} is not loopback"
            );
        }
    }

    // the compute endpoint is the v2.1 root: its version document names the
    // microversion range every client negotiates against
    let doc = member
        .get("compute", "", None)
        .await
        .and_then(|r| r.expect_ok("GET compute version document"))
        .expect("compute version document");
    assert_eq!(doc["version"]["id"], "v2.1", "{}", compact(&doc));
    assert_eq!(doc["version"]["status"], "CURRENT");
    assert_eq!(doc["version"]["min_version"], "2.1");
    assert_eq!(doc["version"]["version"], "2.104");

    // an unsupported microversion is refused with 406, not silently downgraded
    let r = member
        .get("compute", "/servers", Some("2.105"))
        .await
        .expect("GET /servers");
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE, "{}", compact(&r.body));
    let r = member
        .get("compute", "/servers", Some("2.104"))
        .await
        .expect("GET /servers");
    assert_eq!(r.status, StatusCode::OK, "{}", compact(&r.body));
}

/// The classic procedure over raw HTTP, as the non-admin member: boot in `nova`
/// with network, security group, key and metadata; stop; createImage; boot the
/// snapshot in `nova2` with what was noted from the source; check it landed on
/// node-31 (as admin: members cannot see hosts); delete the source.
#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn classic_snapshot_move_over_raw_http() {
    let Some(clouds) = real_cloud_or_skip("classic_snapshot_move_over_raw_http").await else {
        return;
    };
    let (admin, member) = sessions(&clouds).await;
    let mut created = Created::default();
    let outcome = classic_move(&admin, &member, &mut created).await;
    created.clean_up(&admin).await;
    if let Err(e) = outcome {
        panic!("classic move failed: {e}");
    }
}

/// Everything the test created, deleted at the end whatever happened.
#[derive(Default)]
struct Created {
    servers: Vec<String>,
    images: Vec<String>,
}

impl Created {
    async fn clean_up(&self, admin: &Session) {
        for id in &self.servers {
            let path = format!("/servers/{id}");
            if let Err(e) = admin.delete("compute", &path).await {
                eprintln!("cleanup: {e}");
            }
        }
        for id in &self.servers {
            let path = format!("/servers/{id}");
            if let Err(e) = admin.wait_gone("compute", &path, BOOT_LIMIT).await {
                eprintln!("cleanup: {e}");
            }
        }
        for id in &self.images {
            if let Err(e) = admin.delete("image", &format!("/v2/images/{id}")).await {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

async fn classic_move(admin: &Session, member: &Session, created: &mut Created) -> Res<()> {
    let image = member
        .id_by_name(
            "image",
            &format!("/v2/images?name={IMAGE}"),
            "images",
            IMAGE,
        )
        .await?;
    let flavor = member
        .id_by_name("compute", "/flavors", "flavors", FLAVOR)
        .await?;
    let net = member
        .id_by_name(
            "network",
            &format!("/v2.0/networks?name={NETWORK}"),
            "networks",
            NETWORK,
        )
        .await?;
    let name = unique("azmove-e2e");

    // 1. the source server, booted in AZ nova
    let boot = json!({"server": {
        "name": name, "imageRef": image, "flavorRef": flavor, "availability_zone": "nova",
        "networks": [{"uuid": net}], "security_groups": [{"name": "default"}],
        "key_name": KEYPAIR, "metadata": {"azmove_test": "classic", "owner": "e2e"}}});
    let r = member
        .post("compute", "/servers", Some("2.100"), &boot)
        .await?;
    if r.status != StatusCode::ACCEPTED {
        return Err(format!(
            "POST /servers: HTTP {} {}",
            r.status.as_u16(),
            compact(&r.body)
        ));
    }
    let src_id = r.body["server"]["id"]
        .as_str()
        .ok_or("POST /servers: no server id")?
        .to_owned();
    created.servers.push(src_id.clone());
    let src = member.wait_server(&src_id, &["ACTIVE"], BOOT_LIMIT).await?;
    check_eq(&src["OS-EXT-AZ:availability_zone"], "nova", "source AZ")?;
    check_eq(&src["key_name"], KEYPAIR, "source key_name")?;
    check_eq(
        &src["metadata"]["azmove_test"],
        "classic",
        "source metadata",
    )?;
    check_eq(
        &src["security_groups"][0]["name"],
        "default",
        "source security group",
    )?;
    if src["addresses"][NETWORK]
        .as_array()
        .is_none_or(|a| a.is_empty())
    {
        return Err(format!(
            "source has no address on {NETWORK}: {}",
            compact(&src["addresses"])
        ));
    }
    if src.get("OS-EXT-SRV-ATTR:host").is_some() {
        return Err("a member can see OS-EXT-SRV-ATTR:host".into());
    }
    let src_host = admin_host(admin, &src_id).await?;
    if !SOURCE_HOSTS.contains(&src_host.as_str()) {
        return Err(format!(
            "source booted on {src_host}, not in AZ nova's hosts {SOURCE_HOSTS:?}"
        ));
    }

    // 2. stop it so the snapshot is consistent
    let action = format!("/servers/{src_id}/action");
    let r = member
        .post("compute", &action, Some("2.100"), &json!({"os-stop": null}))
        .await?;
    if r.status != StatusCode::ACCEPTED {
        return Err(format!(
            "os-stop: HTTP {} {}",
            r.status.as_u16(),
            compact(&r.body)
        ));
    }
    member
        .wait_server(&src_id, &["SHUTOFF"], BOOT_LIMIT)
        .await?;

    // 3. createImage: from 2.45 the image id is in the body
    let snap_name = format!("{name}-snap");
    let body = json!({"createImage": {"name": snap_name, "metadata": {"azmove_source": src_id}}});
    let r = member
        .post("compute", &action, Some("2.100"), &body)
        .await?;
    if r.status != StatusCode::ACCEPTED {
        return Err(format!(
            "createImage: HTTP {} {}",
            r.status.as_u16(),
            compact(&r.body)
        ));
    }
    let snap_id = r.body["image_id"]
        .as_str()
        .ok_or("createImage: no image_id in the body")?
        .to_owned();
    created.images.push(snap_id.clone());
    let snap = member.wait_image_active(&snap_id, IMAGE_LIMIT).await?;
    check_eq(
        &snap["azmove_source"],
        &src_id,
        "snapshot property azmove_source",
    )?;
    check_eq(&snap["image_type"], "snapshot", "snapshot image_type")?;

    // 4. boot the snapshot in nova2 with what was noted from the source
    let flavor_name = src["flavor"]["original_name"]
        .as_str()
        .ok_or("source flavor.original_name")?;
    let flavor_id = member
        .id_by_name("compute", "/flavors", "flavors", flavor_name)
        .await?;
    let groups: Vec<Value> = src["security_groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| json!({"name": g["name"]}))
        .collect();
    let boot = json!({"server": {
        "name": format!("{name}-moved"), "imageRef": snap_id, "flavorRef": flavor_id,
        "availability_zone": "nova2", "networks": [{"uuid": net}], "security_groups": groups,
        "key_name": src["key_name"], "metadata": src["metadata"]}});
    let r = member
        .post("compute", "/servers", Some("2.100"), &boot)
        .await?;
    if r.status != StatusCode::ACCEPTED {
        return Err(format!(
            "POST /servers (snapshot): HTTP {} {}",
            r.status.as_u16(),
            compact(&r.body)
        ));
    }
    let dst_id = r.body["server"]["id"]
        .as_str()
        .ok_or("POST /servers: no server id")?
        .to_owned();
    created.servers.push(dst_id.clone());
    let dst = member.wait_server(&dst_id, &["ACTIVE"], BOOT_LIMIT).await?;
    check_eq(
        &dst["OS-EXT-AZ:availability_zone"],
        "nova2",
        "moved server AZ",
    )?;
    check_eq(&dst["image"]["id"], &snap_id, "moved server image")?;
    check_eq(&dst["key_name"], KEYPAIR, "moved server key_name")?;
    check_eq(
        &dst["metadata"]["azmove_test"],
        "classic",
        "moved server metadata",
    )?;
    check_eq(
        &dst["flavor"]["original_name"],
        FLAVOR,
        "moved server flavor",
    )?;
    let host = admin_host(admin, &dst_id).await?;
    if host != TARGET_HOST {
        return Err(format!("moved server is on {host}, not {TARGET_HOST}"));
    }

    // 5. only then the source goes
    let r = member
        .delete("compute", &format!("/servers/{src_id}"))
        .await?;
    if r.status != StatusCode::NO_CONTENT {
        return Err(format!(
            "DELETE source: HTTP {} {}",
            r.status.as_u16(),
            compact(&r.body)
        ));
    }
    member
        .wait_gone("compute", &format!("/servers/{src_id}"), BOOT_LIMIT)
        .await?;
    println!("moved {name}: {src_id} on {src_host} -> {dst_id} on {host}");
    Ok(())
}

/// The compute host of a server, which only an admin can see.
async fn admin_host(admin: &Session, id: &str) -> Res<String> {
    let path = format!("/servers/{id}");
    let s = admin
        .get("compute", &path, Some("2.100"))
        .await?
        .expect_ok(&path)?;
    s["server"]["OS-EXT-SRV-ATTR:host"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("admin view of {id} has no OS-EXT-SRV-ATTR:host"))
}

fn check_eq(got: &Value, want: &str, what: &str) -> Res<()> {
    if got.as_str() == Some(want) {
        Ok(())
    } else {
        Err(format!("{what}: got {got}, want {want:?}"))
    }
}

/// azmove's own client against the real cloud: configuration from the
/// harness clouds.yaml, login, microversion negotiation and the bulk reads the
/// planner is built on.
#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn azmove_client_reads_the_real_cloud() {
    let Some(_clouds) = real_cloud_or_skip("azmove_client_reads_the_real_cloud").await else {
        return;
    };
    let location = super::os_http::locate_real_cloud().expect("located by real_cloud_or_skip");
    let admin = azmove_client(&location.clouds_yaml, "admin").await;
    let member = azmove_client(&location.clouds_yaml, "member").await;

    for client in [&admin, &member] {
        assert_eq!(
            client.microversion().to_string(),
            "2.104",
            "negotiated microversion"
        );
    }
    assert!(admin.capabilities().is_admin);
    assert!(!member.capabilities().is_admin);

    // AZ detail: the harness's two AZs with their hosts, all up (admin only)
    let zones = admin
        .list_availability_zones(true)
        .await
        .expect("AZ detail as admin");
    let mut seen: Vec<(String, Vec<String>)> = zones
        .iter()
        .filter_map(|z| {
            let hosts = z.hosts.as_ref()?;
            let mut names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
            names.sort();
            assert!(hosts.iter().all(|h| h.up && h.enabled), "{z:?}");
            (!names.is_empty()).then(|| (z.name.clone(), names))
        })
        .filter(|(name, _)| name != "internal")
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "nova".to_owned(),
                vec!["node-27".to_owned(), "node-28".to_owned()]
            ),
            ("nova2".to_owned(), vec!["node-31".to_owned()]),
        ]
    );
    let zones = member
        .list_availability_zones(false)
        .await
        .expect("AZ list as member");
    let mut names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["nova", "nova2"]);
    assert!(
        zones.iter().all(|z| z.available && z.hosts.is_none()),
        "{zones:?}"
    );

    let flavors = member.list_flavors().await.expect("flavors");
    let tiny = flavors
        .iter()
        .find(|f| f.name == FLAVOR)
        .expect("m1.tiny is listed");
    assert_eq!(
        (tiny.id.as_str(), tiny.vcpus, tiny.ram_mb, tiny.disk_gb),
        ("1", 1, 512, 1)
    );
    assert!(flavors.iter().any(|f| f.name == "m1.small"), "{flavors:?}");

    let query = azmove::openstack::ImageQuery {
        name: Some(IMAGE.to_owned()),
        ..Default::default()
    };
    let images = member.list_images(&query).await.expect("images by name");
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0].status, "active");

    let quota = member.limits().await.expect("limits");
    assert_eq!(
        quota.instances.limit,
        Some(200),
        "{quota:?} (harness quota of demo)"
    );

    let networks = member.list_networks().await.expect("networks");
    assert!(
        networks.iter().any(|n| n.name == NETWORK && n.shared),
        "{networks:?}"
    );
    let groups = member
        .list_security_groups()
        .await
        .expect("security groups");
    assert!(groups.iter().any(|g| g.name == "default"), "{groups:?}");

    // every server the admin lists, the admin can read back one by one
    let servers = admin
        .list_servers(&azmove::openstack::ServerQuery {
            all_tenants: true,
            ..Default::default()
        })
        .await
        .expect("servers of every project");
    // (other tests may delete their servers in between: gone is fine, another
    // server under the same id is not)
    for s in servers.iter().take(5) {
        let one = admin.get_server(&s.id).await.expect("server show");
        if let Some(one) = one {
            assert_eq!(one.id, s.id);
        }
    }
    println!(
        "azmove client: {} servers, {} flavors, {} requests as admin",
        servers.len(),
        flavors.len(),
        admin.requests_sent()
    );
}

async fn azmove_client(clouds_yaml: &std::path::Path, cloud: &str) -> azmove::openstack::Client {
    use azmove::openstack::config::{CloudSelection, Env, resolve};
    let mut env = Env::new();
    env.insert(
        "OS_CLIENT_CONFIG_FILE".to_owned(),
        clouds_yaml.display().to_string(),
    );
    let selection = CloudSelection {
        os_cloud: Some(cloud.to_owned()),
        ..Default::default()
    };
    let config = resolve(&selection, &env)
        .unwrap_or_else(|e| panic!("cloud {cloud} from {}: {e}", clouds_yaml.display()));
    azmove::openstack::Client::connect(config, azmove::openstack::ClientOptions::default())
        .await
        .unwrap_or_else(|e| panic!("azmove client login as {cloud}: {e}"))
}

// ---------------------------------------------------------------------------
// The real `azmove` binary against the real cloud. azmove acts; the checks go
// through raw HTTP (tests/it/real_cloud/os_http.rs), never through azmove's client.
// ---------------------------------------------------------------------------

/// The paragraph of `text` (blocks are separated by blank lines) that
/// mentions `needle`.
fn paragraph<'a>(text: &'a str, needle: &str) -> &'a str {
    text.split("\n\n")
        .find(|p| p.contains(needle))
        .unwrap_or_else(|| panic!("no paragraph mentions {needle:?} in:\n{text}"))
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The user's metadata (without azmove's tags).
fn user_metadata(server: &Value) -> BTreeMap<String, Value> {
    server["metadata"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with("azmove_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn group_names(server: &Value) -> BTreeSet<String> {
    server["security_groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str().map(str::to_owned))
        .collect()
}

/// The replacement of `source` matches it in everything the plan promises to
/// keep (flavor, network, security groups, key, metadata, name), is ACTIVE in
/// nova2 and — seen as admin — runs on node-31, booted from a snapshot.
/// A source's NICs, noted before the move.
struct Nics {
    port_ids: Vec<Value>,
    /// The network of each port, sorted.
    network_ids: Vec<String>,
    /// Network names in NIC order (raw `addresses` order).
    order: Vec<String>,
}

async fn nics_of(session: &Session, id: &str) -> Nics {
    let ports = must(super::e2e::ports_of(session, id).await);
    let mut network_ids: Vec<String> = ports
        .iter()
        .map(|p| str_of(&p["network_id"], "port network_id").to_owned())
        .collect();
    network_ids.sort();
    Nics {
        port_ids: ports.iter().map(|p| p["id"].clone()).collect(),
        network_ids,
        order: must(super::e2e::network_order(session, id).await),
    }
}

async fn check_replacement(world: &World, source: &Value, source_nics: &Nics, replacement: &Value) {
    let src_id = str_of(&source["id"], "source id");
    let rep_id = str_of(&replacement["id"], "replacement id");
    let what = format!("replacement {rep_id} of {src_id}");
    // the admin view shows the host
    let rep = must(super::e2e::show_server(&world.admin, rep_id).await)
        .unwrap_or_else(|| panic!("{what} does not exist"));
    assert_eq!(rep["status"], "ACTIVE", "{what}: {}", compact(&rep));
    assert_eq!(rep["OS-EXT-AZ:availability_zone"], TARGET_AZ, "{what}");
    assert_eq!(rep["OS-EXT-SRV-ATTR:host"], TARGET_HOST, "{what}");
    assert_eq!(rep["name"], source["name"], "{what}: name");
    assert_eq!(
        rep["flavor"]["original_name"], source["flavor"]["original_name"],
        "{what}: flavor"
    );
    assert_eq!(rep["key_name"], KEYPAIR, "{what}: key pair");
    assert_eq!(
        group_names(&rep),
        group_names(source),
        "{what}: security groups"
    );
    assert_eq!(
        user_metadata(&rep),
        user_metadata(source),
        "{what}: metadata"
    );
    assert_eq!(rep["metadata"][TAG_SOURCE], src_id, "{what}: {TAG_SOURCE}");
    assert_eq!(
        rep["metadata"][TAG_TARGET], TARGET_AZ,
        "{what}: {TAG_TARGET}"
    );
    // booted from a snapshot that is gone again (keep_snapshot: false)
    let image = str_of(&rep["image"]["id"], "replacement image id");
    assert_ne!(Some(image), source["image"]["id"].as_str(), "{what}: image");
    let r = must(
        world
            .admin
            .get("image", &format!("/v2/images/{image}"), None)
            .await,
    );
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "{what}: snapshot {image} is left: {}",
        compact(&r.body)
    );
    // as many new ports as the source had, on the same networks, with the
    // NICs in the same order
    let nics = nics_of(&world.admin, rep_id).await;
    assert_eq!(
        nics.network_ids, source_nics.network_ids,
        "{what}: networks of the ports"
    );
    assert_eq!(nics.order, source_nics.order, "{what}: order of the NICs");
    for p in &nics.port_ids {
        assert!(!source_nics.port_ids.contains(p), "{what}: reuses port {p}");
    }
}

/// The replacement of source `id` (named `name`, like its replacement):
/// exactly one other server by that name was ever made (`ever`, from
/// [`servers_ever`]: Nova lists deleted servers without their metadata, so
/// they are counted by name), and it is the one server now tagged with the
/// source's id.
fn the_one_replacement(ever: &[Value], now: &[Value], name: &str, id: &str) -> Value {
    let made: Vec<String> = ever
        .iter()
        .filter(|s| s["name"] == name && s["id"] != id)
        .map(|s| format!("{} ({})", s["id"], s["status"]))
        .collect();
    assert_eq!(made.len(), 1, "{name}: servers made for it, ever: {made:?}");
    let tagged = super::e2e::replacements_of(now, id);
    assert_eq!(
        tagged.len(),
        1,
        "{name}: servers tagged {TAG_SOURCE}={id}: {}",
        tagged.len()
    );
    assert!(
        made[0].contains(str_of(&tagged[0]["id"], "id")),
        "{name}: {made:?}"
    );
    tagged[0].clone()
}

/// The classic scenario: a server booted in `nova` with a port on net1,
/// security group `default`, a key pair and metadata is planned and applied
/// to `nova2` as admin; once with `source_after: keep`, once (on a pre-made
/// Neutron port, flavor m1.small) with `source_after: delete`, once with two
/// ports on net1 and once with NICs on net1 and on a second network whose
/// name sorts first (the replacement must get the same NICs, in order).
#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn azmove_moves_the_classic_server() {
    let Some(world) = world_or_skip("azmove_moves_the_classic_server").await else {
        return;
    };
    let tag = new_tag("classic");
    guarded(&world, &tag, classic(&world, &tag)).await;
}

async fn classic(world: &World, tag: &str) {
    let admin = &world.admin;
    let port = must(super::e2e::create_port(admin, world, &format!("{tag}-port")).await);
    // a second network whose name sorts before net1's: NIC order is not name order
    let second = format!("{tag}-net");
    assert!(second.as_str() < NETWORK);
    let second = must(super::e2e::create_network(admin, &second, "10.77.0.0/24").await);
    let metadata = json!({"role": "classic", "owner": "e2e", "tag": tag});
    let specs = [
        Boot {
            metadata: metadata.clone(),
            ..Boot::new(format!("{tag}-keep"))
        },
        Boot {
            flavor: "m1.small",
            metadata: metadata.clone(),
            port: Some(port.clone()),
            ..Boot::new(format!("{tag}-del"))
        },
        Boot {
            metadata: metadata.clone(),
            nics: 2,
            ..Boot::new(format!("{tag}-2nic"))
        },
        Boot {
            metadata,
            networks: vec![world.net.clone(), second],
            ..Boot::new(format!("{tag}-2net"))
        },
    ];
    let sources = must(boot_all(admin, world, &specs).await);
    let mut hosts = BTreeMap::new();
    let mut nics = BTreeMap::new();
    for (name, s) in &sources {
        let id = str_of(&s["id"], "id");
        let n = nics_of(admin, id).await;
        let want = if name.ends_with("-keep") || name.ends_with("-del") {
            1
        } else {
            2
        };
        assert_eq!(n.port_ids.len(), want, "{name}: ports of the source");
        if name.ends_with("-2net") {
            assert_eq!(
                n.order,
                [NETWORK.to_owned(), format!("{tag}-net")],
                "{name}: NIC order"
            );
        }
        nics.insert(name.clone(), n);
        assert_eq!(s["OS-EXT-AZ:availability_zone"], SOURCE_AZ, "{name}");
        let host = str_of(&s["OS-EXT-SRV-ATTR:host"], "admin sees the host").to_owned();
        assert!(SOURCE_HOSTS.contains(&host.as_str()), "{name} on {host}");
        hosts.insert(name.clone(), host);
    }
    let keep = &sources[&format!("{tag}-keep")];
    let del = &sources[&format!("{tag}-del")];

    let az = Azmove::new(world);
    let plan = az.plan("classic.yaml", tag);
    let plan = path_str(&plan);
    let cloud = Who::Admin.cloud();

    // plan: both servers, nova (on their host, visible to admin) → nova2
    let p = az.run(&["plan", plan, "--os-cloud", cloud, "--detailed-exitcode"]);
    p.expect_code(2);
    for (name, s) in &sources {
        let id = str_of(&s["id"], "id");
        let line = p
            .stdout
            .lines()
            .find(|l| l.contains(name.as_str()) && l.contains(id))
            .unwrap_or_else(|| panic!("the plan does not name {name} ({id}):\n{}", p.stdout));
        let from = format!("{SOURCE_AZ}/{}", hosts[name]);
        assert!(
            line.contains(&from) && line.contains(&format!("→ {TARGET_AZ}")),
            "plan line for {name}: {line}"
        );
    }
    assert!(
        p.stdout
            .contains("Plan: 4 to move, 0 unchanged, 0 blocked."),
        "{}",
        p.stdout
    );

    // apply
    let report = az.path("report.json");
    let journal = az.path("journal");
    let a = az.run(&[
        "apply",
        plan,
        "--os-cloud",
        cloud,
        "--yes",
        "--journal-dir",
        path_str(&journal),
        "--report",
        path_str(&report),
    ]);
    a.expect_code(0);
    let report = read_report(&report);
    assert_eq!(
        report["counts"]["moved"],
        4,
        "{}",
        compact(&report["counts"])
    );

    // what the cloud says
    let now = super::e2e::list_servers(admin, tag, false).await;
    let now = must(now);
    for (name, source) in &sources {
        let reps = super::e2e::replacements_of(&now, str_of(&source["id"], "id"));
        assert_eq!(reps.len(), 1, "{name}: replacements {reps:?}");
        check_replacement(world, source, &nics[name], reps[0]).await;
        let reported = report["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["source_id"] == source["id"])
            .unwrap_or_else(|| panic!("{name} is not in the report"));
        assert_eq!(reported["replacement_id"], reps[0]["id"], "{name}: report");
        assert_eq!(reported["outcome"], "moved", "{name}: report");
    }

    // source_after: keep → stopped (it was stopped for the snapshot), still
    // in nova, tagged with its replacement
    let keep_id = str_of(&keep["id"], "id");
    let kept = must(super::e2e::show_server(admin, keep_id).await).expect("the kept source exists");
    let keep_rep = super::e2e::replacements_of(&now, keep_id)[0]["id"].clone();
    assert_eq!(kept["status"], "SHUTOFF", "kept source {keep_id}");
    assert_eq!(kept["OS-EXT-AZ:availability_zone"], SOURCE_AZ);
    assert_eq!(
        kept["metadata"][TAG_MOVED_TO], keep_rep,
        "kept source {keep_id}"
    );
    // source_after: delete → gone; its pre-made port is left alone
    let del_id = str_of(&del["id"], "id");
    assert!(
        must(super::e2e::show_server(admin, del_id).await).is_none(),
        "source {del_id} was not deleted"
    );
    let r = must(
        admin
            .get("network", &format!("/v2.0/ports/{port}"), None)
            .await,
    );
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the pre-made port {port} was deleted"
    );

    // no snapshot left, nothing else named with the tag
    let ids: BTreeSet<String> = sources
        .values()
        .map(|s| str_of(&s["id"], "id").to_owned())
        .collect();
    let left = must(super::e2e::leftover_snapshots(admin, tag, &ids).await);
    assert!(left.is_empty(), "snapshots left behind: {left:?}");
    assert_eq!(
        now.len(),
        7,
        "servers named {tag}*: 3 kept sources + 4 replacements"
    );

    // converged: planning again finds nothing to do
    let again = az.run(&["plan", plan, "--os-cloud", cloud, "--detailed-exitcode"]);
    again.expect_code(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);

    // the same server, now planned for another AZ: not "no changes"
    let elsewhere = az.path("elsewhere.yaml");
    std::fs::write(
        &elsewhere,
        format!("version: 1\nmoves:\n  - server: \"{tag}-keep\"\n    to: nova9\n"),
    )
    .expect("write the plan");
    let p = az.run(&["plan", path_str(&elsewhere), "--os-cloud", cloud]);
    p.expect_code(3);
    let why = paragraph(&p.stdout, &format!("{tag}-keep"));
    assert!(why.contains("already moved to nova2"), "{why}");
}

/// Twelve servers moved by a project member in four `after` stages under
/// `concurrency: 4` and `per_az: {nova2: 3}`; a thirteenth server that the
/// selector must not pick (right name, wrong metadata) stays.
#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn azmove_moves_a_fleet_in_order_within_limits() {
    let Some(world) = world_or_skip("azmove_moves_a_fleet_in_order_within_limits").await else {
        return;
    };
    let tag = new_tag("fleet");
    guarded(&world, &tag, fleet(&world, &tag)).await;
}

/// The fleet's stages in `after` order: (name part, count, role).
const FLEET: [(&str, usize, &str); 4] = [
    ("db", 2, "database"),
    ("mq", 1, "queue"),
    ("app", 6, "app"),
    ("web", 3, "web"),
];
/// Which stages each stage waits for (tests/cloud/plans/fleet.yaml).
const FLEET_AFTER: [(&str, &[&str]); 3] =
    [("mq", &["db"]), ("app", &["db", "mq"]), ("web", &["app"])];
/// `per_az: {nova2: 3}` is the tighter of the two limits.
const FLEET_IN_FLIGHT: usize = 3;

fn fleet_name(tag: &str, stage: &str, i: usize, count: usize) -> String {
    if count == 1 {
        format!("{tag}-{stage}")
    } else {
        format!("{tag}-{stage}-{i}")
    }
}

async fn fleet(world: &World, tag: &str) {
    let member = &world.member;
    let mut specs = Vec::new();
    let mut stage_of = BTreeMap::new();
    for (stage, count, role) in FLEET {
        for i in 0..count {
            let name = fleet_name(tag, stage, i, count);
            stage_of.insert(name.clone(), stage);
            specs.push(Boot {
                metadata: json!({"role": role, "tag": tag}),
                ..Boot::new(name)
            });
        }
    }
    let decoy = format!("{tag}-db-cache");
    specs.push(Boot {
        metadata: json!({"role": "cache"}),
        ..Boot::new(decoy.clone())
    });
    let sources = must(boot_all(member, world, &specs).await);
    let since = earliest_created(&sources);

    let az = Azmove::new(world);
    let plan = az.plan("fleet.yaml", tag);
    let plan = path_str(&plan);
    let cloud = Who::Member.cloud();
    let p = az.run(&["plan", plan, "--os-cloud", cloud, "--detailed-exitcode"]);
    p.expect_code(2);
    assert!(
        p.stdout
            .contains("Plan: 12 to move, 0 unchanged, 0 blocked."),
        "{}",
        p.stdout
    );
    assert!(
        !p.stdout.contains(&decoy),
        "the decoy was selected:\n{}",
        p.stdout
    );
    assert!(
        !p.stdout.contains("node-"),
        "a member's plan shows hosts:\n{}",
        p.stdout
    );

    let report_path = az.path("report.json");
    let a = az.run(&[
        "apply",
        plan,
        "--os-cloud",
        cloud,
        "--yes",
        "--journal-dir",
        path_str(&az.path("journal")),
        "--report",
        path_str(&report_path),
    ]);
    a.expect_code(0);
    println!("{}", tail(&a.stdout, 16));
    let report = read_report(&report_path);
    assert_eq!(
        report["counts"]["moved"],
        12,
        "{}",
        compact(&report["counts"])
    );

    // every source has exactly one replacement, ever (deleted ones included)
    let ever = servers_ever(member, tag, &since).await;
    let now = must(super::e2e::list_servers(member, tag, false).await);
    let mut replacement_of = BTreeMap::new();
    for (name, source) in sources.iter().filter(|(n, _)| **n != decoy) {
        let id = str_of(&source["id"], "id");
        let rep = &the_one_replacement(&ever, &now, name, id);
        assert_eq!(rep["status"], "ACTIVE", "{name}: {}", compact(rep));
        assert_eq!(rep["OS-EXT-AZ:availability_zone"], TARGET_AZ, "{name}");
        assert_eq!(rep["name"], name.as_str());
        assert_eq!(
            user_metadata(rep),
            user_metadata(source),
            "{name}: metadata"
        );
        replacement_of.insert(name.clone(), rep.clone());
        let src_now = must(super::e2e::show_server(member, id).await);
        if stage_of[name] == "web" {
            assert!(src_now.is_none(), "{name}: source_after delete left {id}");
        } else {
            let src_now = src_now.unwrap_or_else(|| panic!("{name}: kept source {id} is gone"));
            assert_eq!(src_now["status"], "SHUTOFF", "{name}");
            assert_eq!(src_now["metadata"][TAG_MOVED_TO], rep["id"], "{name}");
        }
    }
    let untouched =
        must(super::e2e::show_server(member, str_of(&sources[&decoy]["id"], "id")).await)
            .expect("the decoy exists");
    assert_eq!(untouched["status"], "ACTIVE");
    assert_eq!(untouched["OS-EXT-AZ:availability_zone"], SOURCE_AZ);
    assert_eq!(now.len(), 12 + 9 + 1, "replacements + kept sources + decoy");

    // `after`, as the cloud recorded it: a stage's first action on any of its
    // sources (stop, or createImage for the web servers) comes no earlier than
    // the launch of every replacement of the stages it waits for; and the
    // [first action, replacement launched] windows never overlap more than
    // the limits allow. Nova keeps whole seconds, so ties count as ordered.
    let mut window = BTreeMap::new();
    for (name, source) in sources.iter().filter(|(n, _)| **n != decoy) {
        let actions = must(super::e2e::instance_actions(member, str_of(&source["id"], "id")).await);
        let first = actions
            .iter()
            .filter(|(action, _)| action != "create")
            .map(|(_, at)| must(super::e2e::second(at)))
            .min()
            .unwrap_or_else(|| panic!("{name}: no action after create: {actions:?}"));
        let launched = must(super::e2e::second(str_of(
            &replacement_of[name]["OS-SRV-USG:launched_at"],
            "launched_at",
        )));
        window.insert(name.clone(), (first, launched));
    }
    for (stage, waits_for) in FLEET_AFTER {
        for (name, (first, _)) in window.iter().filter(|(n, _)| stage_of[*n] == stage) {
            for (pre, (_, launched)) in window
                .iter()
                .filter(|(n, _)| waits_for.contains(&stage_of[*n]))
            {
                assert!(
                    first >= launched,
                    "{name} started at {first}, before {pre}'s replacement was launched at {launched}"
                );
            }
        }
    }
    let api_peak = peak(window.values().cloned());
    assert!(
        api_peak <= FLEET_IN_FLIGHT,
        "{api_peak} servers in flight at once (cloud timestamps)"
    );

    // the same from azmove's own report, at finer resolution
    let mut spans = BTreeMap::new();
    for s in report["servers"].as_array().into_iter().flatten() {
        let steps = s["steps"].as_array().cloned().unwrap_or_default();
        let start = steps
            .iter()
            .filter_map(|t| t["started_s"].as_f64())
            .fold(f64::MAX, f64::min);
        let end = steps
            .iter()
            .filter_map(|t| Some(t["started_s"].as_f64()? + t["elapsed_s"].as_f64()?))
            .fold(0.0, f64::max);
        spans.insert(str_of(&s["name"], "report name").to_owned(), (start, end));
    }
    for (stage, waits_for) in FLEET_AFTER {
        for (name, (start, _)) in spans
            .iter()
            .filter(|(n, _)| stage_of.get(*n) == Some(&stage))
        {
            for (pre, (_, end)) in spans
                .iter()
                .filter(|(n, _)| stage_of.get(*n).is_some_and(|s| waits_for.contains(s)))
            {
                assert!(
                    start >= end,
                    "report: {name} started at {start}s, {pre} ended at {end}s"
                );
            }
        }
    }
    let report_peak = peak(spans.values().copied());
    assert!(
        report_peak <= FLEET_IN_FLIGHT,
        "report: {report_peak} servers in flight at once"
    );
    println!("fleet: at most {api_peak} in flight (cloud), {report_peak} (report)");

    let ids: BTreeSet<String> = sources
        .values()
        .map(|s| str_of(&s["id"], "id").to_owned())
        .collect();
    let left = must(super::e2e::leftover_snapshots(member, tag, &ids).await);
    assert!(left.is_empty(), "snapshots left behind: {left:?}");

    let again = az.run(&["plan", plan, "--os-cloud", cloud, "--detailed-exitcode"]);
    again.expect_code(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
}

/// The most windows `[start, end)` open at one time; an end and a start at
/// the same instant do not overlap.
fn peak<T: PartialOrd>(windows: impl Iterator<Item = (T, T)>) -> usize {
    let mut events: Vec<(T, i32)> = windows.flat_map(|(a, b)| [(a, 1), (b, -1)]).collect();
    events.sort_by(|x, y| {
        x.0.partial_cmp(&y.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(x.1.cmp(&y.1))
    });
    let mut open = 0i32;
    let mut most = 0i32;
    for (_, d) in events {
        open += d;
        most = most.max(open);
    }
    usize::try_from(most).unwrap_or(0)
}

/// What azmove must refuse on the real cloud, with a message that says why:
/// an unknown server, a name two servers share (both ids listed), a target AZ
/// that does not exist, a server booted from a Cinder volume. Exit code 3
/// without `--allow-blocked`, and nothing is touched; with it, only the one
/// movable server moves.
#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn azmove_blocks_what_it_cannot_move() {
    let Some(world) = world_or_skip("azmove_blocks_what_it_cannot_move").await else {
        return;
    };
    let tag = new_tag("blocked");
    guarded(&world, &tag, blocked(&world, &tag)).await;
}

async fn blocked(world: &World, tag: &str) {
    let member = &world.member;
    let volume = must(super::e2e::create_boot_volume(member, world, &format!("{tag}-disk")).await);
    let twin = format!("{tag}-twin");
    let specs = [
        Boot::new(twin.clone()),
        Boot::new(twin.clone()),
        Boot::new(format!("{tag}-lost")),
        Boot {
            volume: Some(volume),
            ..Boot::new(format!("{tag}-vol"))
        },
        Boot::new(format!("{tag}-good")),
    ];
    let ids =
        futures::future::try_join_all(specs.iter().map(|s| super::e2e::boot(member, world, s)));
    let ids = must(ids.await);
    let servers = futures::future::try_join_all(
        ids.iter()
            .map(|id| member.wait_server(id, &["ACTIVE"], super::e2e::LIMIT)),
    );
    let servers = must(servers.await);
    let by_name = |name: &str| -> &Value {
        servers
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} was booted"))
    };
    let vol = by_name(&format!("{tag}-vol"));
    assert_eq!(vol["image"], "", "a volume-backed server has no image");

    let az = Azmove::new(world);
    let plan = az.plan("blocked.yaml", tag);
    let plan = path_str(&plan);
    let cloud = Who::Member.cloud();
    let p = az.run(&["plan", plan, "--os-cloud", cloud]);
    p.expect_code(3);
    assert!(
        p.stdout
            .contains("Plan: 1 to move, 0 unchanged, 4 blocked."),
        "{}",
        p.stdout
    );

    let nope = paragraph(&p.stdout, &format!("{tag}-nope"));
    assert!(nope.contains("no server"), "unknown server: {nope}");
    let twins = paragraph(&p.stdout, &twin);
    for id in [&ids[0], &ids[1]] {
        assert!(
            twins.contains(id.as_str()),
            "ambiguous name does not list {id}: {twins}"
        );
    }
    let lost = paragraph(&p.stdout, &format!("{tag}-lost"));
    assert!(
        lost.contains("`nova9` does not exist") && lost.contains(TARGET_AZ),
        "missing AZ (and the zones that exist): {lost}"
    );
    let vol_text = paragraph(&p.stdout, &format!("{tag}-vol"));
    assert!(
        vol_text.contains("volume") && vol_text.contains("not supported yet"),
        "volume-backed: {vol_text}"
    );

    // apply refuses the whole plan without --allow-blocked and changes nothing
    let journal = az.path("journal");
    let a = az.run(&[
        "apply",
        plan,
        "--os-cloud",
        cloud,
        "--yes",
        "--journal-dir",
        path_str(&journal),
    ]);
    a.expect_code(3);
    assert!(a.stderr.contains("--allow-blocked"), "{}", a.stderr);
    for s in &servers {
        let id = str_of(&s["id"], "id");
        let s = must(super::e2e::show_server(member, id).await).expect("untouched");
        assert_eq!(s["status"], "ACTIVE", "{id} was touched");
        assert_eq!(s["OS-EXT-AZ:availability_zone"], SOURCE_AZ);
    }
    let ids_set: BTreeSet<String> = ids.iter().cloned().collect();
    let left = must(super::e2e::leftover_snapshots(member, tag, &ids_set).await);
    assert!(
        left.is_empty(),
        "apply refused but made snapshots: {left:?}"
    );
    assert_eq!(
        must(super::e2e::list_servers(member, tag, false).await).len(),
        servers.len()
    );

    // with --allow-blocked only the good server moves
    let a = az.run(&[
        "apply",
        plan,
        "--os-cloud",
        cloud,
        "--yes",
        "--allow-blocked",
        "--journal-dir",
        path_str(&journal),
    ]);
    let now = must(super::e2e::list_servers(member, tag, false).await);
    let good = by_name(&format!("{tag}-good"));
    let reps = super::e2e::replacements_of(&now, str_of(&good["id"], "id"));
    assert_eq!(
        reps.len(),
        1,
        "the movable server was not moved:\n{}\n{}",
        a.stdout,
        a.stderr
    );
    assert_eq!(reps[0]["OS-EXT-AZ:availability_zone"], TARGET_AZ);
    assert_eq!(now.len(), servers.len() + 1, "only one replacement is made");
    for s in servers.iter().filter(|s| s["id"] != good["id"]) {
        let id = str_of(&s["id"], "id");
        assert!(
            super::e2e::replacements_of(&now, id).is_empty(),
            "blocked {id} was moved"
        );
        let s = must(super::e2e::show_server(member, id).await).expect("untouched");
        assert_eq!(s["status"], "ACTIVE", "blocked {id} was touched");
    }
    // blocked entries were accepted, so they do not make the run fail
    a.expect_code(0);
}

/// Crash safety: `apply` is killed with SIGKILL three times — while
/// snapshots are requested, while replacements boot, while sources are
/// handled — and run again until it finishes. Through the real APIs: one
/// snapshot request and one replacement per source, ever; no snapshot left;
/// every source handled exactly once (kept and tagged, or deleted once).
#[tokio::test]
#[ignore = "needs the real cloud: tests/cloud/cloud up, then cargo test --test it real_cloud:: -- --ignored (tests/cloud/ci.sh does)"]
async fn azmove_survives_sigkill_and_resumes() {
    let Some(world) = world_or_skip("azmove_survives_sigkill_and_resumes").await else {
        return;
    };
    let tag = new_tag("crash");
    guarded(&world, &tag, crash(&world, &tag)).await;
}

async fn crash(world: &World, tag: &str) {
    let member = &world.member;
    let mut specs = Vec::new();
    for i in 0..2 {
        specs.push(Boot::new(format!("{tag}-k-{i}")));
    }
    for i in 0..3 {
        specs.push(Boot::new(format!("{tag}-d-{i}")));
    }
    let sources = must(boot_all(member, world, &specs).await);
    let since = earliest_created(&sources);

    let az = Azmove::new(world);
    let plan = az.plan("crash.yaml", tag);
    let journal = az.path("journal");
    let args = [
        "apply",
        path_str(&plan),
        "--os-cloud",
        Who::Member.cloud(),
        "--yes",
        "--journal-dir",
        path_str(&journal),
    ];
    // killed three times, then run until it is done
    let stages: [(&[&str], Duration); 3] = [
        (&["snapshot"], Duration::ZERO),
        (&["boot in target AZ"], Duration::ZERO),
        (&["handle source"], Duration::ZERO),
    ];
    super::e2e::kill_in_stages_then_finish(&az, &args, &journal, &stages).await;

    let ever = servers_ever(member, tag, &since).await;
    let now = must(super::e2e::list_servers(member, tag, false).await);
    for (name, source) in &sources {
        let id = str_of(&source["id"], "id");
        let rep = &the_one_replacement(&ever, &now, name, id);
        assert_eq!(rep["status"], "ACTIVE", "{name}: {}", compact(rep));
        assert_eq!(rep["OS-EXT-AZ:availability_zone"], TARGET_AZ, "{name}");
        let actions = must(super::e2e::instance_actions(member, id).await);
        let count = |what: &str| actions.iter().filter(|(a, _)| a == what).count();
        assert_eq!(
            count("createImage"),
            1,
            "{name}: snapshots requested: {actions:?}"
        );
        let src_now = must(super::e2e::show_server(member, id).await);
        if name.contains("-k-") {
            let src_now = src_now.unwrap_or_else(|| panic!("{name}: kept source is gone"));
            assert_eq!(src_now["status"], "SHUTOFF", "{name}");
            assert_eq!(src_now["metadata"][TAG_MOVED_TO], rep["id"], "{name}");
            assert_eq!(count("delete"), 0, "{name}: {actions:?}");
        } else {
            assert!(src_now.is_none(), "{name}: source_after delete left {id}");
            assert_eq!(count("delete"), 1, "{name}: {actions:?}");
        }
    }
    assert_eq!(now.len(), 5 + 2, "replacements + kept sources");
    let ids: BTreeSet<String> = sources
        .values()
        .map(|s| str_of(&s["id"], "id").to_owned())
        .collect();
    let left = must(super::e2e::leftover_snapshots(member, tag, &ids).await);
    assert!(left.is_empty(), "snapshots left behind: {left:?}");
    let again = az.run(&[
        "plan",
        path_str(&plan),
        "--os-cloud",
        Who::Member.cloud(),
        "--detailed-exitcode",
    ]);
    again.expect_code(0);
}
