//! Finding the cloud: clouds.yaml / secure.yaml search and merge, OS_*
//! variables, and the precedence between the command line, the plan and
//! the environment. Every test passes its own environment and directories.

use std::path::{Path, PathBuf};

use azmove::openstack::config::{
    AppCredentialRef, AuthMethod, CloudSelection, ConfigError, DomainRef, Env, Interface,
    ProjectRef, Scope, UserRef, resolve,
};
use secrecy::ExposeSecret;

/// Three search directories standing for `./`, `~/.config/openstack` and
/// `/etc/openstack`.
struct Dirs {
    _root: tempfile::TempDir,
    cwd: PathBuf,
    user: PathBuf,
    site: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let root = tempfile::tempdir().expect("temp dir");
        let cwd = root.path().join("cwd");
        let user = root.path().join("home/.config/openstack");
        let site = root.path().join("etc/openstack");
        for d in [&cwd, &user, &site] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        Dirs {
            _root: root,
            cwd,
            user,
            site,
        }
    }

    fn selection(&self) -> CloudSelection {
        CloudSelection {
            search_dirs: vec![self.cwd.clone(), self.user.clone(), self.site.clone()],
            ..Default::default()
        }
    }

    fn home(&self) -> PathBuf {
        self.user
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .expect("home")
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn cloud_yaml(name: &str, auth_url: &str) -> String {
    format!(
        "clouds:\n  {name}:\n    auth:\n      auth_url: {auth_url}\n      username: demo\n      password: pw\n      project_name: demo\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n"
    )
}

fn password_of(auth: &AuthMethod) -> String {
    match auth {
        AuthMethod::Password { password, .. } => password.expose_secret().to_owned(),
        other => panic!("not password auth: {other:?}"),
    }
}

// ------------------------------------------------------------ search order

#[test]
fn current_directory_wins_over_user_and_site_config() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        &cloud_yaml("prod", "https://cwd.example:5000/v3"),
    );
    write(
        &d.user,
        "clouds.yaml",
        &cloud_yaml("prod", "https://user.example:5000/v3"),
    );
    write(
        &d.site,
        "clouds.yaml",
        &cloud_yaml("prod", "https://site.example:5000/v3"),
    );
    let sel = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    assert_eq!(
        resolve(&sel, &Env::new()).expect("resolves").auth_url,
        "https://cwd.example:5000/v3"
    );

    std::fs::remove_file(d.cwd.join("clouds.yaml")).expect("rm");
    assert_eq!(
        resolve(&sel, &Env::new()).expect("resolves").auth_url,
        "https://user.example:5000/v3"
    );

    std::fs::remove_file(d.user.join("clouds.yaml")).expect("rm");
    assert_eq!(
        resolve(&sel, &Env::new()).expect("resolves").auth_url,
        "https://site.example:5000/v3"
    );
}

#[test]
fn the_first_file_found_wins_whole() {
    // openstacksdk does not merge clouds.yaml files: a cloud only in
    // /etc is not seen when ./clouds.yaml exists.
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        &cloud_yaml("a", "https://a.example/v3"),
    );
    write(
        &d.site,
        "clouds.yaml",
        &cloud_yaml("b", "https://b.example/v3"),
    );
    let sel = CloudSelection {
        os_cloud: Some("b".into()),
        ..d.selection()
    };
    let err = resolve(&sel, &Env::new()).expect_err("b is shadowed");
    assert!(matches!(err, ConfigError::UnknownCloud { .. }), "{err:?}");
}

#[test]
fn clouds_yml_and_json_are_found_too() {
    let d = Dirs::new();
    write(
        &d.user,
        "clouds.json",
        r#"{"clouds": {"j": {"auth": {"auth_url": "https://j.example/v3", "username": "u", "password": "p", "project_id": "pid"}}}}"#,
    );
    let sel = CloudSelection {
        os_cloud: Some("j".into()),
        ..d.selection()
    };
    let c = resolve(&sel, &Env::new()).expect("resolves");
    assert_eq!(c.scope, Scope::Project(ProjectRef::Id("pid".into())));
}

#[test]
fn os_client_config_file_comes_before_every_directory() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        &cloud_yaml("prod", "https://cwd.example/v3"),
    );
    let other = tempfile::tempdir().expect("temp");
    let file = write(
        other.path(),
        "my-clouds.yaml",
        &cloud_yaml("prod", "https://override.example/v3"),
    );
    let sel = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    let e = env(&[("OS_CLIENT_CONFIG_FILE", file.to_str().expect("utf-8"))]);
    assert_eq!(
        resolve(&sel, &e).expect("resolves").auth_url,
        "https://override.example/v3"
    );
    // A missing override falls back to the usual places.
    let e = env(&[("OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml")]);
    assert_eq!(
        resolve(&sel, &e).expect("resolves").auth_url,
        "https://cwd.example/v3"
    );
}

#[test]
fn standard_search_dirs_come_from_the_given_environment() {
    let e = env(&[("HOME", "/home/alice")]);
    let dirs = CloudSelection::standard_search_dirs(Path::new("/work"), &e);
    assert_eq!(
        dirs,
        [
            PathBuf::from("/work"),
            PathBuf::from("/home/alice/.config/openstack"),
            PathBuf::from("/etc/openstack")
        ]
    );
    let e = env(&[("HOME", "/home/alice"), ("XDG_CONFIG_HOME", "/xdg")]);
    let dirs = CloudSelection::standard_search_dirs(Path::new("/work"), &e);
    assert_eq!(dirs[1], PathBuf::from("/xdg/openstack"));
    assert_eq!(dirs[2], PathBuf::from("/home/alice/.config/openstack"));
}

// ------------------------------------------------------------ secure.yaml

#[test]
fn secure_yaml_supplies_the_password() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        "clouds:\n  prod:\n    auth:\n      auth_url: https://k.example/v3\n      username: demo\n      project_name: demo\n",
    );
    // secure.yaml is searched on its own: here it is in the user's directory.
    write(
        &d.user,
        "secure.yaml",
        "clouds:\n  prod:\n    auth:\n      password: from-secure\n",
    );
    let sel = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    let c = resolve(&sel, &Env::new()).expect("resolves");
    assert_eq!(password_of(&c.auth), "from-secure");
    assert!(
        c.origin.contains("clouds.yaml") && c.origin.contains("secure.yaml"),
        "{}",
        c.origin
    );
}

#[test]
fn secure_yaml_overrides_clouds_yaml_key_by_key() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        &cloud_yaml("prod", "https://k.example/v3"),
    );
    write(
        &d.cwd,
        "secure.yaml",
        "clouds:\n  prod:\n    auth:\n      password: newer\n    region_name: RegionTwo\n",
    );
    let sel = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    let c = resolve(&sel, &Env::new()).expect("resolves");
    assert_eq!(password_of(&c.auth), "newer");
    assert_eq!(c.region.as_deref(), Some("RegionTwo"));
    // Keys secure.yaml does not mention are kept.
    assert_eq!(c.auth_url, "https://k.example/v3");
}

#[test]
fn os_client_secure_file_overrides_the_search() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        &cloud_yaml("prod", "https://k.example/v3"),
    );
    write(
        &d.cwd,
        "secure.yaml",
        "clouds:\n  prod:\n    auth:\n      password: cwd\n",
    );
    let other = tempfile::tempdir().expect("temp");
    let file = write(
        other.path(),
        "s.yaml",
        "clouds:\n  prod:\n    auth:\n      password: override\n",
    );
    let sel = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    let c = resolve(
        &sel,
        &env(&[("OS_CLIENT_SECURE_FILE", file.to_str().expect("utf-8"))]),
    )
    .expect("resolves");
    assert_eq!(password_of(&c.auth), "override");
}

// ------------------------------------------------------------ cloud choice

#[test]
fn os_cloud_flag_beats_the_plan_which_beats_os_cloud_env() {
    let d = Dirs::new();
    let yaml = [
        cloud_yaml("flag", "https://flag.example/v3"),
        cloud_yaml("plan", "https://plan.example/v3"),
        cloud_yaml("env", "https://env.example/v3"),
    ]
    .iter()
    .map(|c| c.trim_start_matches("clouds:\n").to_owned())
    .collect::<String>();
    write(&d.cwd, "clouds.yaml", &format!("clouds:\n{yaml}"));
    let e = env(&[("OS_CLOUD", "env")]);

    let all = CloudSelection {
        os_cloud: Some("flag".into()),
        plan_cloud: Some("plan".into()),
        ..d.selection()
    };
    assert_eq!(
        resolve(&all, &e).expect("resolves").cloud_name.as_deref(),
        Some("flag")
    );

    let plan = CloudSelection {
        plan_cloud: Some("plan".into()),
        ..d.selection()
    };
    assert_eq!(
        resolve(&plan, &e).expect("resolves").cloud_name.as_deref(),
        Some("plan")
    );

    assert_eq!(
        resolve(&d.selection(), &e)
            .expect("resolves")
            .cloud_name
            .as_deref(),
        Some("env")
    );
}

#[test]
fn a_single_cloud_is_used_without_being_named() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        &cloud_yaml("only", "https://only.example/v3"),
    );
    let c = resolve(&d.selection(), &Env::new()).expect("resolves");
    assert_eq!(c.cloud_name.as_deref(), Some("only"));
}

#[test]
fn several_clouds_and_no_name_is_an_error_listing_them() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        &format!(
            "{}{}",
            cloud_yaml("a", "https://a/v3"),
            cloud_yaml("b", "https://b/v3").trim_start_matches("clouds:\n")
        ),
    );
    let err = resolve(&d.selection(), &Env::new()).expect_err("ambiguous");
    let text = err.to_string();
    assert!(
        text.contains("a, b") && text.contains("--os-cloud") && text.contains("OS_CLOUD"),
        "{text}"
    );
}

#[test]
fn unknown_cloud_names_who_asked_and_what_exists() {
    let d = Dirs::new();
    write(&d.cwd, "clouds.yaml", &cloud_yaml("prod", "https://k/v3"));
    let sel = CloudSelection {
        plan_cloud: Some("staging".into()),
        ..d.selection()
    };
    let text = resolve(&sel, &Env::new()).expect_err("unknown").to_string();
    assert!(text.contains("'staging'"), "{text}");
    assert!(text.contains("the plan's `cloud:`"), "{text}");
    assert!(text.contains("defined clouds: prod"), "{text}");
    assert!(text.contains("clouds.yaml"), "{text}");
}

#[test]
fn nothing_configured_says_where_it_looked() {
    let d = Dirs::new();
    let text = resolve(&d.selection(), &Env::new())
        .expect_err("nothing")
        .to_string();
    assert!(text.contains("no clouds.yaml was found"), "{text}");
    assert!(
        text.contains(&d.cwd.join("clouds.yaml").display().to_string()),
        "{text}"
    );
    assert!(text.contains("OS_AUTH_URL"), "{text}");
}

// ------------------------------------------------------------ OS_* variables

#[test]
fn environment_alone_describes_a_password_cloud() {
    let d = Dirs::new();
    let e = env(&[
        ("OS_AUTH_URL", "https://keystone.example:5000/v3"),
        ("OS_USERNAME", "alice"),
        ("OS_PASSWORD", "s3cret"),
        ("OS_PROJECT_NAME", "web"),
        ("OS_USER_DOMAIN_NAME", "Users"),
        ("OS_PROJECT_DOMAIN_ID", "p-dom"),
        ("OS_REGION_NAME", "RegionOne"),
        ("OS_INTERFACE", "internal"),
    ]);
    let c = resolve(&d.selection(), &e).expect("resolves");
    assert_eq!(c.cloud_name, None);
    assert_eq!(c.origin, "the OS_* environment variables");
    assert_eq!(c.auth_url, "https://keystone.example:5000/v3");
    match &c.auth {
        AuthMethod::Password { user, password } => {
            assert_eq!(
                user,
                &UserRef::Name {
                    name: "alice".into(),
                    domain: DomainRef::Name("Users".into())
                }
            );
            assert_eq!(password.expose_secret(), "s3cret");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.scope,
        Scope::Project(ProjectRef::Name {
            name: "web".into(),
            domain: DomainRef::Id("p-dom".into())
        })
    );
    assert_eq!(c.region.as_deref(), Some("RegionOne"));
    assert_eq!(c.interface, Interface::Internal);
    assert!(c.tls.verify);
}

#[test]
fn environment_wins_over_a_cloud_even_with_clouds_yaml_present() {
    // Without a cloud name, OS_AUTH_URL means "the environment describes it".
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        &cloud_yaml("only", "https://only.example/v3"),
    );
    let e = env(&[
        ("OS_AUTH_URL", "https://env.example/v3"),
        ("OS_USERNAME", "u"),
        ("OS_PASSWORD", "p"),
        ("OS_PROJECT_ID", "x"),
    ]);
    let c = resolve(&d.selection(), &e).expect("resolves");
    assert_eq!(c.cloud_name, None);
    assert_eq!(c.auth_url, "https://env.example/v3");
}

#[test]
fn os_variables_override_a_named_cloud_like_the_openstack_cli() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        "clouds:\n  prod:\n    auth:\n      auth_url: https://k.example/v3\n      username: demo\n      project_name: demo\n",
    );
    let sel = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    let c = resolve(&sel, &env(&[("OS_PASSWORD", "from-env")])).expect("resolves");
    assert_eq!(password_of(&c.auth), "from-env");
    assert_eq!(c.cloud_name.as_deref(), Some("prod"));
}

#[test]
fn domain_defaults_follow_openstacksdk() {
    let d = Dirs::new();
    // No domain at all: the `default` domain id.
    let e = env(&[
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_USERNAME", "u"),
        ("OS_PASSWORD", "p"),
        ("OS_PROJECT_NAME", "pr"),
    ]);
    let c = resolve(&d.selection(), &e).expect("resolves");
    assert_eq!(
        c.scope,
        Scope::Project(ProjectRef::Name {
            name: "pr".into(),
            domain: DomainRef::Id("default".into())
        })
    );
    // OS_DOMAIN_NAME with a project: the domain of both user and project.
    let mut e2 = e.clone();
    e2.insert("OS_DOMAIN_NAME".into(), "Corp".into());
    let c = resolve(&d.selection(), &e2).expect("resolves");
    assert_eq!(
        c.scope,
        Scope::Project(ProjectRef::Name {
            name: "pr".into(),
            domain: DomainRef::Name("Corp".into())
        })
    );
    match c.auth {
        AuthMethod::Password { user, .. } => {
            assert_eq!(
                user,
                UserRef::Name {
                    name: "u".into(),
                    domain: DomainRef::Name("Corp".into())
                }
            )
        }
        other => panic!("{other:?}"),
    }
    // OS_DOMAIN_NAME without a project: a domain-scoped token.
    let e3 = env(&[
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_USERNAME", "u"),
        ("OS_PASSWORD", "p"),
        ("OS_DOMAIN_NAME", "Corp"),
    ]);
    let c = resolve(&d.selection(), &e3).expect("resolves");
    assert_eq!(c.scope, Scope::Domain(DomainRef::Name("Corp".into())));
}

#[test]
fn legacy_tenant_variables_still_work() {
    let d = Dirs::new();
    let e = env(&[
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_USERNAME", "u"),
        ("OS_PASSWORD", "p"),
        ("OS_TENANT_NAME", "old"),
        ("OS_ENDPOINT_TYPE", "publicURL"),
    ]);
    let c = resolve(&d.selection(), &e).expect("resolves");
    assert!(matches!(c.scope, Scope::Project(ProjectRef::Name { ref name, .. }) if name == "old"));
    assert_eq!(c.interface, Interface::Public);
}

#[test]
fn application_credentials_from_the_environment() {
    let d = Dirs::new();
    let e = env(&[
        ("OS_AUTH_TYPE", "v3applicationcredential"),
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_APPLICATION_CREDENTIAL_ID", "cred"),
        ("OS_APPLICATION_CREDENTIAL_SECRET", "sec"),
        // Left over from an openrc: ignored, the credential fixes the project.
        ("OS_PROJECT_NAME", "ignored"),
    ]);
    let c = resolve(&d.selection(), &e).expect("resolves");
    match &c.auth {
        AuthMethod::ApplicationCredential { credential, secret } => {
            assert_eq!(credential, &AppCredentialRef::Id("cred".into()));
            assert_eq!(secret.expose_secret(), "sec");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.scope, Scope::Unscoped);

    // By name, with its user; the auth type is inferred from the secret.
    let e = env(&[
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_APPLICATION_CREDENTIAL_NAME", "mon"),
        ("OS_APPLICATION_CREDENTIAL_SECRET", "sec"),
        ("OS_USERNAME", "bob"),
        ("OS_USER_DOMAIN_ID", "d1"),
    ]);
    let c = resolve(&d.selection(), &e).expect("resolves");
    match &c.auth {
        AuthMethod::ApplicationCredential { credential, .. } => assert_eq!(
            credential,
            &AppCredentialRef::Name {
                name: "mon".into(),
                user: UserRef::Name {
                    name: "bob".into(),
                    domain: DomainRef::Id("d1".into())
                }
            }
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn token_from_the_environment() {
    let d = Dirs::new();
    let e = env(&[
        ("OS_AUTH_TYPE", "token"),
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_TOKEN", "gAAAA"),
        ("OS_PROJECT_ID", "p"),
    ]);
    let c = resolve(&d.selection(), &e).expect("resolves");
    match &c.auth {
        AuthMethod::Token { token } => assert_eq!(token.expose_secret(), "gAAAA"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.scope, Scope::Project(ProjectRef::Id("p".into())));
}

// ------------------------------------------------------------ region

#[test]
fn region_from_the_plan_then_environment_then_clouds_yaml() {
    let d = Dirs::new();
    write(&d.cwd, "clouds.yaml", &cloud_yaml("prod", "https://k/v3"));
    let base = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    assert_eq!(
        resolve(&base, &Env::new()).expect("ok").region.as_deref(),
        Some("RegionOne")
    );
    let e = env(&[("OS_REGION_NAME", "RegionEnv")]);
    assert_eq!(
        resolve(&base, &e).expect("ok").region.as_deref(),
        Some("RegionEnv")
    );
    let plan = CloudSelection {
        plan_region: Some("RegionPlan".into()),
        ..base
    };
    assert_eq!(
        resolve(&plan, &e).expect("ok").region.as_deref(),
        Some("RegionPlan")
    );
}

#[test]
fn the_first_of_several_regions_is_the_default() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        "clouds:\n  multi:\n    regions:\n      - name: North\n        values: {}\n      - South\n    auth:\n      auth_url: https://k/v3\n      username: u\n      password: p\n      project_id: x\n",
    );
    let c = resolve(&d.selection(), &Env::new()).expect("resolves");
    assert_eq!(c.region.as_deref(), Some("North"));
}

// ------------------------------------------------------------ TLS

#[test]
fn tls_settings_from_clouds_yaml_and_environment() {
    let d = Dirs::new();
    write(
        &d.cwd,
        "clouds.yaml",
        "clouds:\n  prod:\n    verify: false\n    cacert: ~/ca.pem\n    cert: /pki/client.pem\n    key: /pki/client.key\n    auth:\n      auth_url: https://k/v3\n      username: u\n      password: p\n      project_id: x\n",
    );
    let sel = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    let home = d.home();
    let c = resolve(&sel, &env(&[("HOME", home.to_str().expect("utf-8"))])).expect("resolves");
    assert!(!c.tls.verify);
    assert_eq!(c.tls.cacert, Some(home.join("ca.pem")));
    assert_eq!(c.tls.client_cert, Some(PathBuf::from("/pki/client.pem")));
    assert_eq!(c.tls.client_key, Some(PathBuf::from("/pki/client.key")));

    let e = env(&[
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_USERNAME", "u"),
        ("OS_PASSWORD", "p"),
        ("OS_PROJECT_ID", "x"),
        ("OS_INSECURE", "true"),
        ("OS_CACERT", "/etc/ssl/private-ca.pem"),
    ]);
    let c = resolve(&d.selection(), &e).expect("resolves");
    assert!(!c.tls.verify);
    assert_eq!(c.tls.cacert, Some(PathBuf::from("/etc/ssl/private-ca.pem")));
}

#[test]
fn verification_is_on_by_default() {
    let d = Dirs::new();
    write(&d.cwd, "clouds.yaml", &cloud_yaml("prod", "https://k/v3"));
    let c = resolve(&d.selection(), &Env::new()).expect("resolves");
    assert!(c.tls.verify);
    assert_eq!(c.tls.cacert, None);
}

// ------------------------------------------------------------ errors

#[test]
fn missing_settings_are_named_with_where_to_set_them() {
    let d = Dirs::new();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 3] = [
        (
            &[
                ("OS_AUTH_URL", "https://k/v3"),
                ("OS_USERNAME", "u"),
                ("OS_PROJECT_ID", "x"),
            ],
            "the password",
            "OS_PASSWORD",
        ),
        (
            &[
                ("OS_AUTH_URL", "https://k/v3"),
                ("OS_PASSWORD", "p"),
                ("OS_PROJECT_ID", "x"),
            ],
            "user name",
            "OS_USERNAME",
        ),
        (
            &[
                ("OS_AUTH_URL", "https://k/v3"),
                ("OS_AUTH_TYPE", "v3applicationcredential"),
                ("OS_APPLICATION_CREDENTIAL_ID", "c"),
            ],
            "secret",
            "OS_APPLICATION_CREDENTIAL_SECRET",
        ),
    ];
    for (vars, what, hint) in cases {
        let text = resolve(&d.selection(), &env(vars))
            .expect_err("incomplete")
            .to_string();
        assert!(text.contains(what) && text.contains(hint), "{text}");
        assert!(text.contains("OS_* environment variables"), "{text}");
    }

    write(
        &d.cwd,
        "clouds.yaml",
        "clouds:\n  prod:\n    auth:\n      username: u\n      password: p\n",
    );
    let sel = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    let text = resolve(&sel, &Env::new())
        .expect_err("no auth_url")
        .to_string();
    assert!(
        text.contains("auth_url") && text.contains("cloud 'prod'") && text.contains("OS_AUTH_URL"),
        "{text}"
    );
}

#[test]
fn unsupported_auth_types_are_refused_by_name() {
    let d = Dirs::new();
    let e = env(&[
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_AUTH_TYPE", "v3oidcpassword"),
    ]);
    let text = resolve(&d.selection(), &e)
        .expect_err("unsupported")
        .to_string();
    assert!(
        text.contains("v3oidcpassword") && text.contains("v3applicationcredential"),
        "{text}"
    );
}

#[test]
fn invalid_yaml_names_the_file_and_line_but_not_its_content() {
    let d = Dirs::new();
    write(&d.cwd, "clouds.yaml", &cloud_yaml("prod", "https://k/v3"));
    let secure = write(
        &d.cwd,
        "secure.yaml",
        "clouds:\n  prod:\n    auth:\n      password: [hunter2\n",
    );
    let sel = CloudSelection {
        os_cloud: Some("prod".into()),
        ..d.selection()
    };
    let err = resolve(&sel, &Env::new()).expect_err("invalid");
    let text = err.to_string();
    assert!(
        matches!(err, ConfigError::Parse { line: Some(_), .. }),
        "{err:?}"
    );
    assert!(text.contains(&secure.display().to_string()), "{text}");
    assert!(
        !text.contains("hunter2") && !format!("{err:?}").contains("hunter2"),
        "{text}"
    );
}

#[test]
fn bad_values_are_reported() {
    let d = Dirs::new();
    let base = [
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_USERNAME", "u"),
        ("OS_PASSWORD", "p"),
    ];
    let mut e = env(&base);
    e.insert("OS_INTERFACE".into(), "private".into());
    assert!(
        resolve(&d.selection(), &e)
            .expect_err("bad interface")
            .to_string()
            .contains("interface 'private'")
    );
    let mut e = env(&base);
    e.insert("OS_AUTH_URL".into(), "keystone:5000".into());
    assert!(
        resolve(&d.selection(), &e)
            .expect_err("bad url")
            .to_string()
            .contains("not an http(s) URL")
    );
}

#[test]
fn debug_output_hides_secrets() {
    let d = Dirs::new();
    let e = env(&[
        ("OS_AUTH_URL", "https://k/v3"),
        ("OS_USERNAME", "u"),
        ("OS_PASSWORD", "hunter2-pw"),
        ("OS_PROJECT_ID", "x"),
    ]);
    let c = resolve(&d.selection(), &e).expect("resolves");
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2-pw"), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
}
