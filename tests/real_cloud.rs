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
//! tests/cloud/cloud up && cargo test --test real_cloud -- --nocapture
//! ```

#[path = "cloud/os_http.rs"]
mod os_http;

use std::time::Duration;

use os_http::{CloudsYaml, Res, Session, compact, real_cloud_or_skip, unique};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The day-1 world created by `tests/cloud/cloud up` (tests/cloud/README.md).
const IMAGE: &str = "cirros";
const FLAVOR: &str = "m1.tiny";
const NETWORK: &str = "net1";
const KEYPAIR: &str = "azmove-key";
const SOURCE_HOSTS: [&str; 2] = ["node-27", "node-28"];
const TARGET_HOST: &str = "node-31";

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
async fn azmove_client_reads_the_real_cloud() {
    let Some(_clouds) = real_cloud_or_skip("azmove_client_reads_the_real_cloud").await else {
        return;
    };
    let location = os_http::locate_real_cloud().expect("located by real_cloud_or_skip");
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
    for s in servers.iter().take(5) {
        let one = admin.get_server(&s.id).await.expect("server show");
        assert_eq!(one.map(|o| o.id), Some(s.id.clone()));
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
