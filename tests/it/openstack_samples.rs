//! The client's parsing and request building, checked against the real
//! API reference samples published by the OpenStack projects
//! (../shared/fixtures/openstack-api-samples, read in place).

use std::collections::BTreeMap;

use azmove::openstack::auth::{auth_request_body, parse_token_response};
use azmove::openstack::catalog::{image_api_base, network_api_base, volume_api_base};
use azmove::openstack::compute::{
    self, CreateServer, NetworkAttachment, Networks, create_image_body, create_server_body,
    created_image_id, live_migrate_body, migrate_body, unshelve_body, update_pinned_az_body,
};
use azmove::openstack::config::{
    AppCredentialRef, AuthMethod, DomainRef, Interface, ProjectRef, Scope, UserRef,
};
use azmove::openstack::microversion::{negotiate, parse_compute_versions};
use azmove::openstack::{Service, image, network, volume};
use azmove::plan::inventory::Microversion;
use secrecy::SecretString;
use serde_json::{Value, json};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/openstack-api-samples"
);

fn sample(path: &str) -> Vec<u8> {
    let full = format!("{SAMPLES}/{path}");
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read sample {full}: {e}"))
}

fn sample_json(path: &str) -> Value {
    serde_json::from_slice(&sample(path))
        .unwrap_or_else(|e| panic!("sample {path} is not JSON: {e}"))
}

fn mv(minor: u16) -> Microversion {
    Microversion::new(2, minor)
}

/// Every key azmove sends is in the upstream sample with the same value;
/// the sample may have more (fields azmove leaves to their defaults).
fn assert_subset(ours: &Value, upstream: &Value, path: &str) {
    match (ours, upstream) {
        (Value::Object(o), Value::Object(u)) => {
            for (k, v) in o {
                let Some(uv) = u.get(k) else {
                    panic!("{path}.{k} is sent by azmove but absent from the upstream sample");
                };
                assert_subset(v, uv, &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(
            ours, upstream,
            "value at {path} differs from the upstream sample"
        ),
    }
}

// ------------------------------------------------------------------ Keystone

#[test]
fn keystone_password_request_with_project_name_matches_sample() {
    let ours = auth_request_body(
        &AuthMethod::Password {
            user: UserRef::Id("ee4dfb6e5540447cb3741905149d9b6e".into()),
            password: SecretString::from("devstacker"),
        },
        &Scope::Project(ProjectRef::Name {
            name: "admin".into(),
            domain: DomainRef::Id("default".into()),
        }),
    );
    assert_eq!(
        ours,
        sample_json("keystone/v3/auth/requests/project-name-password.json")
    );
}

#[test]
fn keystone_password_requests_with_other_scopes_match_samples() {
    let user = || UserRef::Id("ee4dfb6e5540447cb3741905149d9b6e".into());
    let password = || SecretString::from("devstacker");
    for (scope, file) in [
        (
            Scope::Project(ProjectRef::Id("a6944d763bf64ee6a275f1263fae0352".into())),
            "project-id-password.json",
        ),
        (
            Scope::Domain(DomainRef::Name("Default".into())),
            "domain-name-password.json",
        ),
        (
            Scope::Domain(DomainRef::Id("default".into())),
            "domain-id-password.json",
        ),
    ] {
        let ours = auth_request_body(
            &AuthMethod::Password {
                user: user(),
                password: password(),
            },
            &scope,
        );
        let upstream = sample_json(&format!("keystone/v3/auth/requests/{file}"));
        assert_eq!(ours, upstream, "{file}");
    }
}

#[test]
fn keystone_token_request_matches_sample() {
    let ours = auth_request_body(
        &AuthMethod::Token {
            token: SecretString::from("'$OS_TOKEN'"),
        },
        &Scope::Project(ProjectRef::Id("a6944d763bf64ee6a275f1263fae0352".into())),
    );
    assert_eq!(
        ours,
        sample_json("keystone/v3/auth/requests/project-id-token.json")
    );
}

#[test]
fn keystone_application_credential_requests_match_samples() {
    let secret = || SecretString::from("rEaqvJka48mpv");
    let by_id = auth_request_body(
        &AuthMethod::ApplicationCredential {
            credential: AppCredentialRef::Id("423f19a4ac1e4f48bbb4180756e6eb6c".into()),
            secret: secret(),
        },
        &Scope::Unscoped,
    );
    assert_eq!(
        by_id,
        sample_json("keystone/v3/admin/auth-application-credential-id-request.json")
    );
    let by_name = auth_request_body(
        &AuthMethod::ApplicationCredential {
            credential: AppCredentialRef::Name {
                name: "monitoring".into(),
                user: UserRef::Id("423f19a4ac1e4f48bbb4180756e6eb6c".into()),
            },
            secret: secret(),
        },
        &Scope::Unscoped,
    );
    assert_eq!(
        by_name,
        sample_json("keystone/v3/admin/auth-application-credential-name-request.json")
    );
}

#[test]
fn keystone_project_token_with_full_catalog() {
    let info = parse_token_response(&sample(
        "keystone/v3/admin/auth-password-project-scoped-response.json",
    ))
    .expect("token parses");
    assert!(info.is_admin());
    assert_eq!(
        info.project_id.as_deref(),
        Some("a6944d763bf64ee6a275f1263fae0352")
    );
    // issued 01:58:43.578929, expires 02:58:43.578887: just under an hour.
    let life = info.lifetime().expect("issued_at and expires_at");
    assert!(
        life > std::time::Duration::from_secs(3599) && life < std::time::Duration::from_secs(3600),
        "{life:?}"
    );

    let region = Some("RegionOne");
    let compute = info
        .catalog
        .endpoint(Service::Compute, Interface::Public, region)
        .expect("compute endpoint");
    // `compute_legacy` (v2) is a different service type and is not picked.
    assert_eq!(
        compute.as_str(),
        "http://23.253.248.171:8774/v2.1/a6944d763bf64ee6a275f1263fae0352"
    );

    let image = info
        .catalog
        .endpoint(Service::Image, Interface::Public, region)
        .expect("image endpoint");
    assert_eq!(
        image_api_base(&image).as_str(),
        "http://23.253.248.171:9292/v2"
    );

    let network = info
        .catalog
        .endpoint(Service::Network, Interface::Public, region)
        .expect("network endpoint");
    assert_eq!(
        network_api_base(&network).as_str(),
        "http://23.253.248.171:9696/v2.0"
    );

    // The catalog has `volumev2` (v2) and `volume` (v1): the preferred alias
    // is `volumev2`, whose project URL serves v3 at `/v3/<project>`.
    let volume = info
        .catalog
        .endpoint(Service::BlockStorage, Interface::Public, region)
        .expect("volume endpoint");
    assert_eq!(
        volume.as_str(),
        "http://23.253.248.171:8776/v2/a6944d763bf64ee6a275f1263fae0352"
    );
    assert_eq!(
        volume_api_base(&volume, info.project_id.as_deref()).as_str(),
        "http://23.253.248.171:8776/v3/a6944d763bf64ee6a275f1263fae0352"
    );

    let internal = info
        .catalog
        .endpoint(Service::Compute, Interface::Internal, region)
        .expect("internal");
    assert_eq!(
        internal.as_str(),
        "http://23.253.248.171:8774/v2.1/a6944d763bf64ee6a275f1263fae0352"
    );

    let err = info
        .catalog
        .endpoint(Service::Compute, Interface::Public, Some("RegionTwo"))
        .expect_err("no region");
    let text = err.to_string();
    assert!(
        text.contains("RegionTwo") && text.contains("compute/public/RegionOne"),
        "{text}"
    );
}

#[test]
fn keystone_token_samples_of_every_scope_parse() {
    for file in [
        "keystone/v3/auth/responses/project-scoped-password.json",
        "keystone/v3/auth/responses/domain-scoped-password.json",
        "keystone/v3/auth/responses/unscoped-password.json",
        "keystone/v3/auth/responses/project-scoped-token.json",
        "keystone/v3/admin/auth-application-credential-response.json",
    ] {
        let info = parse_token_response(&sample(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(info.expires_at.is_some(), "{file}");
    }
    let unscoped =
        parse_token_response(&sample("keystone/v3/auth/responses/unscoped-password.json"))
            .expect("parses");
    assert!(unscoped.catalog.is_empty());
    let domain = parse_token_response(&sample(
        "keystone/v3/auth/responses/domain-scoped-password.json",
    ))
    .expect("parses");
    assert!(domain.project_id.is_none());
    assert!(domain.is_admin());
}

// ---------------------------------------------------------- Nova: versions

#[test]
fn nova_version_documents() {
    let v21 = parse_compute_versions(&sample("nova/versions/v21-version-get-resp.json"))
        .expect("version doc");
    assert_eq!((v21.min, v21.max), (mv(1), mv(104)));
    assert_eq!(negotiate(v21), Some(mv(104)));

    let root = parse_compute_versions(&sample("nova/versions/versions-get-resp.json"))
        .expect("versions list");
    assert_eq!((root.min, root.max), (mv(1), mv(104)));

    // The legacy v2.0 API has no microversions: azmove refuses it.
    let v2 = parse_compute_versions(&sample("nova/versions/v2-version-get-resp.json"))
        .expect("version doc");
    assert_eq!(v2.max, mv(0));
    assert_eq!(negotiate(v2), None);
}

// ---------------------------------------------------------- Nova: servers

#[test]
fn nova_server_list_at_2_1() {
    let page = compute::parse_server_list(&sample("nova/servers/servers-details-resp.json"))
        .expect("parses");
    assert_eq!(page.items.len(), 1);
    let s = &page.items[0];
    assert_eq!(s.id, "f5dc173b-6804-445a-a6d8-c705dad5b5eb");
    assert_eq!(s.name, "new-server-test");
    assert_eq!(s.status, "ACTIVE");
    assert_eq!(s.task_state, None);
    assert_eq!(s.availability_zone.as_deref(), Some("us-west"));
    assert_eq!(s.host.as_deref(), Some("fake-mini"));
    assert_eq!(s.flavor.id.as_deref(), Some("1"));
    assert_eq!(s.flavor.original_name, None);
    assert_eq!(
        s.image_id.as_deref(),
        Some("70a599e0-31e7-49b7-b260-868f441e862b")
    );
    assert_eq!(s.addresses["private"][0].addr, "192.168.1.30");
    assert_eq!(s.addresses["private"][0].kind.as_deref(), Some("fixed"));
    assert_eq!(
        s.addresses["private"][0].mac.as_deref(),
        Some("00:0c:29:0d:11:74")
    );
    assert_eq!(s.security_groups, ["default"]);
    assert_eq!(s.key_name, None);
    assert_eq!(
        s.metadata.get("My Server Name").map(String::as_str),
        Some("Apache1")
    );
    assert_eq!(s.volumes_attached, ["volume_id1", "volume_id2"]);
    assert_eq!(
        s.tenant_id.as_deref(),
        Some("6f70656e737461636b20342065766572")
    );
    assert_eq!(s.updated, "2013-09-03T04:01:32Z");
    assert_eq!(s.created, "2013-09-03T04:01:32Z");
    assert!(!s.locked);
    assert_eq!(s.pinned_availability_zone, None);
    // The sample's next link carries the marker.
    assert_eq!(
        page.next_marker.as_deref(),
        Some("f5dc173b-6804-445a-a6d8-c705dad5b5eb")
    );
}

#[test]
fn nova_server_list_at_2_47_embeds_the_flavor() {
    let page = compute::parse_server_list(&sample("nova/servers/v2.47/servers-details-resp.json"))
        .expect("parses");
    let s = &page.items[0];
    assert_eq!(s.flavor.id, None);
    assert_eq!(s.flavor.original_name.as_deref(), Some("m1.tiny.specs"));
    assert_eq!(
        (s.flavor.vcpus, s.flavor.ram_mb, s.flavor.disk_gb),
        (Some(1), Some(512), Some(1))
    );
    assert_eq!(
        s.user_data.as_deref(),
        Some("IyEvYmluL2Jhc2gKL2Jpbi9zdQplY2hvICJJIGFtIGluIHlvdSEiCg==")
    );
    assert_eq!(s.host.as_deref(), Some("fake-mini"));
}

#[test]
fn nova_server_list_at_2_96_and_2_100_reports_the_pinned_az() {
    for file in [
        "nova/servers/v2.96/servers-details-resp.json",
        "nova/servers/v2.100/servers-details-resp.json",
    ] {
        let upstream = sample_json(file);
        let page = compute::parse_server_list(&sample(file)).expect("parses");
        let s = &page.items[0];
        let want = upstream["servers"][0]["pinned_availability_zone"]
            .as_str()
            .map(str::to_owned);
        assert_eq!(s.pinned_availability_zone, want, "{file}");
        assert_eq!(s.flavor.id, None, "{file}");
        assert!(s.flavor.original_name.is_some(), "{file}");
    }
}

#[test]
fn nova_server_lists_of_every_microversion_folder_parse() {
    let dir = format!("{SAMPLES}/nova/servers");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("servers folder") {
        let folder = entry.expect("entry").path();
        for name in [
            "servers-details-resp.json",
            "servers-details-with-changes-before.json",
        ] {
            let file = folder.join(name);
            if !file.is_file() {
                continue;
            }
            let body = std::fs::read(&file).expect("readable");
            let page = compute::parse_server_list(&body)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let upstream: Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(
                page.items.len(),
                upstream["servers"].as_array().map_or(0, Vec::len),
                "{}",
                file.display()
            );
            for (s, u) in page
                .items
                .iter()
                .zip(upstream["servers"].as_array().into_iter().flatten())
            {
                assert_eq!(Some(s.id.as_str()), u["id"].as_str());
                assert_eq!(s.locked, u["locked"].as_bool().unwrap_or(false));
                assert_eq!(s.task_state.as_deref(), u["OS-EXT-STS:task_state"].as_str());
            }
            seen += 1;
        }
    }
    assert!(
        seen >= 15,
        "expected many microversion folders, found {seen}"
    );
}

#[test]
fn nova_server_get_at_2_1_2_47_2_100() {
    let s = compute::parse_server(&sample("nova/servers/server-get-resp.json")).expect("2.1");
    assert_eq!(s.flavor.id.as_deref(), Some("1"));
    let s =
        compute::parse_server(&sample("nova/servers/v2.47/server-get-resp.json")).expect("2.47");
    assert_eq!(s.flavor.id, None);
    assert!(s.flavor.original_name.is_some());
    let s =
        compute::parse_server(&sample("nova/servers/v2.100/server-get-resp.json")).expect("2.100");
    assert_eq!(s.id, "0e44cc9c-e052-415d-afbf-469b0d384170");
    assert_eq!(s.pinned_availability_zone.as_deref(), Some("us-west"));
    assert_eq!(s.flavor.original_name.as_deref(), Some("m1.tiny"));
    assert_eq!(
        s.image_id.as_deref(),
        Some("70a599e0-31e7-49b7-b260-868f441e862b")
    );
    assert_eq!(s.volumes_attached, ["volume_id1", "volume_id2"]);
    // Members do not see OS-EXT-SRV-ATTR:host / hypervisor_hostname.
    assert_eq!(s.host, None);
}

#[test]
fn nova_update_answer_at_2_104_unpinned() {
    let s = compute::parse_server(&sample("nova/servers/v2.104/server-update-resp.json"))
        .expect("parses");
    assert_eq!(s.pinned_availability_zone, None);
    assert_eq!(s.availability_zone.as_deref(), Some("nova"));
}

#[test]
fn nova_create_server_answer() {
    let id = compute::parse_created_server(&sample("nova/servers/server-create-resp.json"))
        .expect("parses");
    assert_eq!(id, "f5dc173b-6804-445a-a6d8-c705dad5b5eb");
}

// ---------------------------------------------------- Nova: request bodies

#[test]
fn nova_create_server_request_matches_samples() {
    let mut hints = BTreeMap::new();
    hints.insert(
        "same_host".to_owned(),
        json!("48e6a9f6-30af-47e0-bc04-acaed113bb4e"),
    );
    let req = CreateServer {
        name: "new-server-test".into(),
        image_ref: Some("70a599e0-31e7-49b7-b260-868f441e862b".into()),
        flavor_ref: "1".into(),
        availability_zone: Some("us-west".into()),
        networks: Networks::Auto,
        security_groups: vec!["default".into()],
        metadata: BTreeMap::from([("My Server Name".to_owned(), "Apache1".to_owned())]),
        user_data: Some("IyEvYmluL2Jhc2gKL2Jpbi9zdQplY2hvICJJIGFtIGluIHlvdSEiCg==".into()),
        scheduler_hints: hints,
        ..CreateServer::default()
    };
    // 2.100 and 2.37 send `networks: "auto"`.
    for (file, version) in [
        ("nova/servers/v2.100/server-create-req.json", 100),
        ("nova/servers/server-create-req-v237.json", 37),
    ] {
        let ours = create_server_body(&req, mv(version)).expect("builds");
        let upstream = sample_json(file);
        assert_subset(&ours, &upstream, file);
        assert_eq!(ours["server"]["networks"], json!("auto"));
    }
    // Before 2.37 there is no `networks` unless a list is given.
    let ours = create_server_body(&req, mv(1)).expect("builds");
    assert_subset(
        &ours,
        &sample_json("nova/servers/server-create-req.json"),
        "server-create-req.json",
    );
    assert!(ours["server"].get("networks").is_none());
}

#[test]
fn nova_create_server_with_ports_and_networks() {
    let req = CreateServer {
        name: "n".into(),
        flavor_ref: "1".into(),
        networks: Networks::List(vec![
            NetworkAttachment::Port("p1".into()),
            NetworkAttachment::Network {
                uuid: "n1".into(),
                fixed_ip: Some("10.0.0.5".into()),
            },
            NetworkAttachment::Network {
                uuid: "n2".into(),
                fixed_ip: None,
            },
        ]),
        server_group: Some("g1".into()),
        ..CreateServer::default()
    };
    let body = create_server_body(&req, mv(104)).expect("builds");
    assert_eq!(
        body["server"]["networks"],
        json!([{"port": "p1"}, {"uuid": "n1", "fixed_ip": "10.0.0.5"}, {"uuid": "n2"}])
    );
    assert_eq!(body["OS-SCH-HNT:scheduler_hints"], json!({"group": "g1"}));
}

#[test]
fn nova_create_image_request_and_answers() {
    let meta = BTreeMap::from([("meta_var".to_owned(), "meta_val".to_owned())]);
    let ours = create_image_body("foo-image", &meta);
    assert_eq!(
        ours,
        sample_json("nova/servers/server-action-create-image.json")
    );
    assert_eq!(
        ours,
        sample_json("nova/servers/v2.45/server-action-create-image.json")
    );

    // From 2.45 the id is in the body…
    let body = sample("nova/servers/v2.45/server-action-create-image-resp.json");
    assert_eq!(
        created_image_id(mv(45), None, &body).as_deref(),
        Some("0e7761dd-ee98-41f0-ba35-05994e446431")
    );
    // …before, in the Location header (the body is empty).
    assert_eq!(
        created_image_id(
            mv(1),
            Some("http://openstack.example.com/images/0e7761dd-ee98-41f0-ba35-05994e446431"),
            b""
        )
        .as_deref(),
        Some("0e7761dd-ee98-41f0-ba35-05994e446431")
    );
}

#[test]
fn nova_power_and_shelve_actions_match_samples() {
    assert_eq!(
        json!({"os-stop": null}),
        sample_json("nova/servers/server-action-stop.json")
    );
    assert_eq!(
        json!({"os-start": null}),
        sample_json("nova/servers/server-action-start.json")
    );
    assert_eq!(
        json!({"shelve": null}),
        sample_json("nova/os-shelve/os-shelve.json")
    );
    assert_eq!(
        json!({"shelveOffload": null}),
        sample_json("nova/os-shelve/os-shelve-offload.json")
    );
    assert_eq!(
        json!({"confirmResize": null}),
        sample_json("nova/servers/server-action-confirm-resize.json")
    );
}

#[test]
fn nova_unshelve_bodies_on_both_sides_of_2_77() {
    assert_eq!(
        unshelve_body(None, mv(76)).expect("plain"),
        sample_json("nova/os-shelve/os-unshelve.json")
    );
    assert_eq!(
        unshelve_body(None, mv(77)).expect("plain"),
        sample_json("nova/os-shelve/v2.77/os-unshelve.json")
    );
    assert_eq!(
        unshelve_body(Some("us-west"), mv(77)).expect("with AZ"),
        sample_json("nova/os-shelve/v2.77/os-unshelve-az.json")
    );
    assert!(unshelve_body(Some("us-west"), mv(76)).is_err());
}

#[test]
fn nova_migration_bodies_match_samples() {
    assert_eq!(
        migrate_body(Some("host1"), mv(56)).expect("host"),
        sample_json("nova/os-migrate-server/v2.56/migrate-server.json")
    );
    assert_eq!(
        migrate_body(None, mv(56)).expect("no host"),
        sample_json("nova/os-migrate-server/v2.56/migrate-server-null.json")
    );
    assert_eq!(
        migrate_body(None, mv(1)).expect("no host"),
        sample_json("nova/os-migrate-server/migrate-server.json")
    );
    assert!(migrate_body(Some("host1"), mv(55)).is_err());

    let host = "01c0cadef72d47e28a672a76060d492c";
    assert_eq!(
        live_migrate_body(Some(host), mv(68)),
        sample_json("nova/os-migrate-server/v2.68/live-migrate-server.json")
    );
    assert_eq!(
        live_migrate_body(Some(host), mv(1)),
        sample_json("nova/os-migrate-server/live-migrate-server.json")
    );
    assert_eq!(
        live_migrate_body(None, mv(80)),
        sample_json("nova/server-migrations/v2.80/live-migrate-server.json")
    );
}

#[test]
fn nova_unpin_request_matches_2_104_sample() {
    let ours = update_pinned_az_body(None);
    assert_subset(
        &ours,
        &sample_json("nova/servers/v2.104/server-update-req.json"),
        "server-update-req.json",
    );
}

// ------------------------------------------- Nova: AZs, flavors, limits, …

#[test]
fn nova_availability_zones_plain_and_detailed() {
    let plain = compute::parse_availability_zones(&sample(
        "nova/os-availability-zone/availability-zone-list-resp.json",
    ))
    .expect("parses");
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].name, "nova");
    assert!(plain[0].available);
    assert_eq!(plain[0].hosts, None);

    let detail = compute::parse_availability_zones(&sample(
        "nova/os-availability-zone/availability-zone-detail-resp.json",
    ))
    .expect("parses");
    // The `internal` zone (conductor, scheduler) has no compute host.
    assert_eq!(detail.len(), 1);
    assert_eq!(detail[0].name, "nova");
    let hosts = detail[0].hosts.as_ref().expect("hosts with details");
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].name, "compute");
    assert!(hosts[0].enabled && hosts[0].up);
}

#[test]
fn nova_flavors_with_and_without_extra_specs() {
    let page = compute::parse_flavor_list(&sample("nova/flavors/flavors-detail-resp.json"))
        .expect("parses");
    assert_eq!(page.items.len(), 6);
    let tiny = &page.items[0];
    assert_eq!(
        (
            tiny.id.as_str(),
            tiny.name.as_str(),
            tiny.vcpus,
            tiny.ram_mb,
            tiny.disk_gb
        ),
        ("1", "m1.tiny", 1, 512, 1)
    );
    assert!(tiny.is_public);
    assert!(tiny.extra_specs.is_empty());
    assert_eq!(page.next_marker, None);

    let page = compute::parse_flavor_list(&sample("nova/flavors/v2.61/flavors-detail-resp.json"))
        .expect("parses");
    let specs = &page
        .items
        .iter()
        .find(|f| f.id == "7")
        .expect("flavor 7")
        .extra_specs;
    assert_eq!(
        specs.get("hw:cpu_policy").map(String::as_str),
        Some("shared")
    );
    assert_eq!(specs.get("hw:numa_nodes").map(String::as_str), Some("1"));
}

#[test]
fn nova_limits() {
    for file in [
        "nova/limits/limit-get-resp.json",
        "nova/limits/v2.57/limit-get-resp.json",
    ] {
        let q = compute::parse_limits(&sample(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (q.instances.limit, q.instances.used),
            (Some(10), 0),
            "{file}"
        );
        assert_eq!((q.cores.limit, q.cores.used), (Some(20), 0), "{file}");
        assert_eq!((q.ram_mb.limit, q.ram_mb.used), (Some(51200), 0), "{file}");
    }
    let unlimited = br#"{"limits": {"absolute": {"maxTotalInstances": -1, "totalInstancesUsed": 3, "maxTotalCores": -1, "maxTotalRAMSize": -1}, "rate": []}}"#;
    let q = compute::parse_limits(unlimited).expect("parses");
    assert_eq!((q.instances.limit, q.instances.used), (None, 3));
}

#[test]
fn nova_interfaces() {
    for file in [
        "nova/os-attach-interfaces/attach-interfaces-list-resp.json",
        "nova/os-attach-interfaces/v2.70/attach-interfaces-list-resp.json",
    ] {
        let list =
            compute::parse_interfaces(&sample(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].port_id, "ce531f90-199f-48c0-816c-13e38010b442");
        assert_eq!(list[0].net_id, "3cb9bc59-5699-4588-a4b1-b87f96708bc6");
        assert_eq!(list[0].mac_addr.as_deref(), Some("fa:16:3e:4c:2c:30"));
        assert_eq!(list[0].fixed_ips, ["192.168.1.3"]);
    }
}

#[test]
fn nova_volume_attachments_before_and_after_2_89() {
    let old = compute::parse_volume_attachments(&sample(
        "nova/os-volume_attachments/list-volume-attachments-resp.json",
    ))
    .expect("parses");
    assert_eq!(old.len(), 2);
    assert_eq!(old[0].volume_id, "227cc671-f30b-4488-96fd-7d0bf13648d8");
    assert_eq!(old[0].device.as_deref(), Some("/dev/sdc"));
    assert_eq!(old[0].attachment_id, None);

    let new = compute::parse_volume_attachments(&sample(
        "nova/os-volume_attachments/v2.89/list-volume-attachments-resp.json",
    ))
    .expect("parses");
    assert_eq!(
        new[1].attachment_id.as_deref(),
        Some("c5684109-0311-4fca-9814-350e46ab7d2a")
    );
    assert_eq!(new[1].delete_on_termination, Some(true));
}

#[test]
fn nova_server_groups_before_and_after_2_64() {
    let old = compute::parse_server_groups(&sample(
        "nova/os-server-groups/server-groups-list-resp.json",
    ))
    .expect("parses");
    assert_eq!(old[0].policy.as_deref(), Some("anti-affinity"));
    assert_eq!(old[0].name, "test");
    let new = compute::parse_server_groups(&sample(
        "nova/os-server-groups/v2.64/server-groups-list-resp.json",
    ))
    .expect("parses");
    assert_eq!(new[0].policy.as_deref(), Some("anti-affinity"));
    assert!(new[0].members.is_empty());
}

#[test]
fn nova_server_migrations() {
    for file in [
        "nova/server-migrations/v2.23/migrations-index.json",
        "nova/server-migrations/v2.80/migrations-index.json",
    ] {
        let list = compute::parse_server_migrations(&sample(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(list.len(), 1, "{file}");
        assert_eq!(list[0].id, 1);
        assert_eq!(list[0].status, "running");
        assert_eq!(list[0].dest_compute.as_deref(), Some("compute2"));
    }
}

// ------------------------------------------------------------------- Glance

#[test]
fn glance_image_list_and_show() {
    let page =
        image::parse_image_list(&sample("glance/v2/images-list-response.json")).expect("parses");
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].id, "1bea47ed-f6a9-463b-b423-14b9cca9ad27");
    assert_eq!(page.items[0].status, "active");
    assert_eq!(page.items[0].size, Some(13167616));
    assert!(
        page.items[0].properties.is_empty(),
        "{:?}",
        page.items[0].properties
    );
    // The sample has `first` but no `next`: last page.
    assert_eq!(page.next_marker, None);

    let one = image::parse_image(&sample("glance/v2/image-show-response.json")).expect("parses");
    assert_eq!(one.name, "cirros-0.3.2-x86_64-disk");
    assert_eq!(one.created_at, "2014-05-05T17:15:10Z");
    assert_eq!(one.updated_at, "2014-05-05T17:15:11Z");
}

#[test]
fn glance_core_properties_are_not_custom_ones() {
    // Every top-level key of this sample is one Glance defines itself.
    let img = image::parse_image(&sample("glance/v2/image-update-response.json")).expect("parses");
    assert!(img.properties.is_empty(), "{:?}", img.properties);
    assert_eq!(img.name, "Fedora 17");
    assert_eq!(img.size, Some(21909));
}

// ------------------------------------------------------------------ Neutron

#[test]
fn neutron_ports() {
    let page = network::parse_port_list(&sample("neutron/ports/ports-list-response.json"))
        .expect("parses");
    assert_eq!(page.items.len(), 2);
    let p = &page.items[1];
    assert_eq!(p.port.id, "f71a6703-d6de-4be1-a91a-a570ede1d159");
    assert_eq!(p.port.network_id, "f27aa545-cbdd-4907-b0c6-c9e8b039dcc2");
    assert_eq!(p.port.mac_address.as_deref(), Some("fa:16:3e:bb:3c:e4"));
    assert_eq!(p.port.fixed_ips, ["10.0.0.1"]);
    assert_eq!(
        p.device_id.as_deref(),
        Some("9ae135f4-b6e0-4dad-9e91-3c223e385824")
    );
    assert_eq!(p.device_owner.as_deref(), Some("network:router_interface"));
    assert_eq!(page.next_marker, None);
}

#[test]
fn neutron_networks_security_groups_floating_ips() {
    let nets = network::parse_network_list(&sample("neutron/networks/networks-list-response.json"))
        .expect("parses");
    assert_eq!(nets.items[0].name, "net1");
    assert_eq!(nets.items[0].availability_zones, ["nova"]);
    assert!(!nets.items[0].external);

    let sgs = network::parse_security_group_list(&sample(
        "neutron/security-groups/security-groups-list-response.json",
    ))
    .expect("parses");
    assert_eq!(sgs.items[0].name, "default");
    assert_eq!(sgs.items[0].id, "85cc3048-abc3-43cc-89b3-377341426ac5");

    let fips = network::parse_floating_ip_list(&sample(
        "neutron/floatingips/floating-ips-list-response.json",
    ))
    .expect("parses");
    assert_eq!(fips.items.len(), 3);
    assert_eq!(
        fips.items[0].port_id.as_deref(),
        Some("ce705c24-c1ef-408a-bda3-7bbd946164ab")
    );
    assert_eq!(fips.items[1].port_id, None);
    assert_eq!(fips.items[1].floating_ip_address, "172.24.4.227");

    let one = network::parse_floating_ip(&sample(
        "neutron/floatingips/floatingip-update-response.json",
    ))
    .expect("parses");
    assert!(!one.id.is_empty());
}

#[test]
fn neutron_floating_ip_update_bodies_match_samples() {
    assert_eq!(
        network::floating_ip_port_body(Some("fc861431-0e6c-4842-a0ed-e2363f9bc3a8")),
        sample_json("neutron/floatingips/floatingip-update-request.json")
    );
    assert_eq!(
        network::floating_ip_port_body(None),
        sample_json("neutron/floatingips/floatingip-disassociate-request.json")
    );
}

// ------------------------------------------------------------------- Cinder

#[test]
fn cinder_volumes_and_zones() {
    for file in [
        "cinder/volumes/volumes-list-detailed-response.json",
        "cinder/volumes/v3.69/volumes-list-detailed-response.json",
    ] {
        let page =
            volume::parse_volume_list(&sample(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let v = &page.items[0];
        assert_eq!(v.id, "cb49b381-9012-40cb-b8ee-80c19a4801b5");
        assert_eq!(v.availability_zone.as_deref(), Some("nova"));
        assert!(!v.bootable);
        assert_eq!(v.status, "creating");
        assert_eq!(v.size_gb, 10);
        assert!(v.attachments.is_empty());
    }
    let zones =
        compute::parse_availability_zones(&sample("cinder/availability-zone-list-response.json"))
            .expect("parses");
    assert_eq!(zones.len(), 1);
    assert_eq!(zones[0].name, "nova");
    assert!(zones[0].available);
    assert_eq!(zones[0].hosts, None);
}

#[test]
fn cinder_attached_bootable_volume() {
    // Shape of an attached volume per the Cinder API reference (the
    // upstream list samples only show detached ones).
    let body = br#"{"volumes": [{"id": "v1", "status": "in-use", "size": 20, "bootable": "true",
        "availability_zone": "nova2", "attachments": [{"server_id": "s1", "attachment_id": "a1",
        "volume_id": "v1", "host_name": null, "device": "/dev/vda", "id": "v1", "attached_at": "2024-01-01T00:00:00.000000"}],
        "volumes_links": []}]}"#;
    let page = volume::parse_volume_list(body).expect("parses");
    let v = &page.items[0];
    assert!(v.bootable);
    assert_eq!(v.attachments[0].server_id, "s1");
    assert_eq!(v.attachments[0].device.as_deref(), Some("/dev/vda"));
}
