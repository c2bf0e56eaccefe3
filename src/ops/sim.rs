//! `azmove sim serve`: run the simulated cloud of a scenario on loopback
//! and print how to point OpenStack clients at it.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use secrecy::ExposeSecret;

use super::shell_word;
use crate::exit::Exit;
use crate::sim::{self, Credentials, Scenario};

/// Serve the simulated cloud of `scenario` on 127.0.0.1:`port` (a free
/// port when `None`) until interrupted.
pub fn serve(scenario: &Path, port: Option<u16>) -> Exit {
    let loaded = match Scenario::load(scenario) {
        Ok(s) => s,
        Err(e) => {
            super::error(format_args!("{e}"));
            return Exit::Failure;
        }
    };
    let Some(runtime) = super::runtime(None) else {
        return Exit::Failure;
    };
    runtime.block_on(async {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port.unwrap_or(0)));
        let handle = match sim::start(loaded, addr).await {
            Ok(h) => h,
            Err(e) => {
                super::error(format_args!("{e}"));
                return Exit::Failure;
            }
        };
        let users: Vec<Credentials> = handle
            .users()
            .iter()
            .filter_map(|u| handle.credentials(Some(u)))
            .collect();
        let text = banner(&handle.base_url(), &scenario.display().to_string(), &users);
        let mut out = std::io::stdout().lock();
        // The caller may have closed stdout; serving is still useful.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        drop(out);
        wait_for_signal().await;
        eprintln!("azmove: stopping the simulator");
        handle.shutdown().await;
        Exit::Success
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn yaml_quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn banner(base_url: &str, scenario: &str, users: &[Credentials]) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# azmove simulator serving scenario {scenario} at {base_url}\n# Stop it with Ctrl-C.\n"
    ));
    if let Some(first) = users.first() {
        s.push_str(&format!("# Environment for user {}:\n", first.username));
        for (k, v) in [
            ("OS_AUTH_URL", first.auth_url.as_str()),
            ("OS_AUTH_TYPE", "password"),
            ("OS_IDENTITY_API_VERSION", "3"),
            ("OS_USERNAME", first.username.as_str()),
            ("OS_PASSWORD", first.password.expose_secret()),
            ("OS_PROJECT_NAME", first.project.as_str()),
            ("OS_USER_DOMAIN_NAME", first.domain.as_str()),
            ("OS_PROJECT_DOMAIN_NAME", first.domain.as_str()),
            ("OS_REGION_NAME", first.region.as_str()),
            ("OS_INTERFACE", "public"),
        ] {
            s.push_str(&format!("export {k}={}\n", shell_word(v)));
        }
    }
    s.push_str("\n# clouds.yaml\nclouds:\n");
    for (i, u) in users.iter().enumerate() {
        let name = if i == 0 {
            "azmove-sim".to_owned()
        } else {
            format!("azmove-sim-{}", u.username)
        };
        s.push_str(&format!("  {name}:\n    auth:\n"));
        for (k, v) in [
            ("auth_url", u.auth_url.as_str()),
            ("username", u.username.as_str()),
            ("password", u.password.expose_secret()),
            ("project_name", u.project.as_str()),
            ("user_domain_name", u.domain.as_str()),
            ("project_domain_name", u.domain.as_str()),
        ] {
            s.push_str(&format!("      {k}: {}\n", yaml_quote(v)));
        }
        s.push_str(&format!(
            "    region_name: {}\n    interface: public\n    identity_api_version: 3\n",
            yaml_quote(&u.region)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_and_yaml_quoting_survive_odd_passwords() {
        assert_eq!(
            shlex::split(&shell_word("it's")),
            Some(vec!["it's".to_string()])
        );
        assert_eq!(yaml_quote("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn banner_names_one_cloud_per_user() {
        let cred = |name: &str| Credentials {
            auth_url: "http://127.0.0.1:1/identity/v3".into(),
            region: "RegionOne".into(),
            username: name.into(),
            password: "pw".to_owned().into(),
            project: name.into(),
            domain: "Default".into(),
            is_admin: name == "admin",
        };
        let text = banner(
            "http://127.0.0.1:1",
            "s.yaml",
            &[cred("admin"), cred("demo")],
        );
        assert!(text.contains("export OS_USERNAME=admin\n"));
        assert!(text.contains("  azmove-sim:\n"));
        assert!(text.contains("  azmove-sim-demo:\n"));
    }
}
