//! Which cloud to talk to, and how: `clouds.yaml` + `secure.yaml` and the
//! `OS_*` variables, resolved the way the `openstack` CLI resolves them.
//!
//! The resolver reads no process state: it gets a snapshot of the
//! environment ([`Env`]) and the directories to search, so it runs the same
//! in tests as in the CLI, and settings are decided once, at start-up.
//!
//! Precedence (docs/configuration.md has the user-facing version):
//! 1. the cloud name: `--os-cloud`, then the plan's `cloud:`, then `OS_CLOUD`;
//! 2. without a name: the `OS_*` variables alone when `OS_AUTH_URL` is set,
//!    else the only cloud of `clouds.yaml` if it has exactly one;
//! 3. the values of a named cloud: `OS_*` variables that are set, over
//!    `secure.yaml`, over `clouds.yaml` (the `openstack` CLI does the same,
//!    because its options default to the variables);
//! 4. the region: the plan's `region:`, then `OS_REGION_NAME`, then the
//!    cloud's `region_name` (or the first of its `regions`).

mod build;
mod env;
mod error;
mod files;
mod model;
mod settings;

use std::path::{Path, PathBuf};

pub use env::{Env, env_from_process};
pub use error::ConfigError;
pub use model::{
    AppCredentialRef, AuthMethod, CloudConfig, DomainRef, Interface, ProjectRef, Scope, TlsConfig,
    UserRef,
};

use build::build;
use env::settings_from_env;
use error::files_text;
use files::load_clouds;
use settings::{Settings, flatten};

/// What the user asked for, and where to look for configuration files.
#[derive(Debug, Clone, Default)]
pub struct CloudSelection {
    /// `--os-cloud` on the command line.
    pub os_cloud: Option<String>,
    /// `cloud:` in the plan file.
    pub plan_cloud: Option<String>,
    /// `region:` in the plan file.
    pub plan_region: Option<String>,
    /// Directories searched for `clouds.yaml` and `secure.yaml`, first
    /// match wins. [`CloudSelection::standard_search_dirs`] gives the usual ones.
    pub search_dirs: Vec<PathBuf>,
}

impl CloudSelection {
    /// The directories openstacksdk searches on Linux, in its order: the
    /// current directory, the user's config directory
    /// (`$XDG_CONFIG_HOME/openstack`, `~/.config/openstack`), `/etc/openstack`.
    pub fn standard_search_dirs(cwd: &Path, env: &Env) -> Vec<PathBuf> {
        let mut dirs = vec![cwd.to_path_buf()];
        if let Some(xdg) = env.get("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            dirs.push(Path::new(xdg).join("openstack"));
        }
        let home = env
            .get("SNAP_REAL_HOME")
            .or_else(|| env.get("HOME"))
            .filter(|v| !v.is_empty());
        if let Some(home) = home {
            let user_dir = Path::new(home).join(".config").join("openstack");
            if !dirs.contains(&user_dir) {
                dirs.push(user_dir);
            }
        }
        dirs.push(PathBuf::from("/etc/openstack"));
        dirs
    }
}

/// Resolves the cloud to use. See the module documentation for the order.
pub fn resolve(selection: &CloudSelection, env: &Env) -> Result<CloudConfig, ConfigError> {
    let (clouds, files) = load_clouds(&selection.search_dirs, env)?;
    let env_settings = settings_from_env(env);

    let chosen = non_empty(&selection.os_cloud)
        .map(|n| (n, "--os-cloud"))
        .or_else(|| non_empty(&selection.plan_cloud).map(|n| (n, "the plan's `cloud:`")))
        .or_else(|| {
            env.get("OS_CLOUD")
                .filter(|v| !v.trim().is_empty())
                .map(|n| (n.trim().to_owned(), "OS_CLOUD"))
        });

    let (cloud_name, mut settings, origin) = match chosen {
        Some((name, chosen_by)) => {
            let Some(entry) = clouds.get(&name) else {
                return Err(ConfigError::UnknownCloud {
                    name,
                    chosen_by: chosen_by.to_owned(),
                    files,
                    available: clouds.keys().cloned().collect(),
                });
            };
            let origin = format!(
                "cloud '{name}' in {}",
                files_text(&files).replace(" or ", " and ")
            );
            (Some(name), flatten(entry, &origin)?, origin)
        }
        None if env.get("OS_AUTH_URL").is_some_and(|v| !v.trim().is_empty()) => (
            None,
            Settings::new(),
            "the OS_* environment variables".to_owned(),
        ),
        None if clouds.len() == 1 => {
            let (name, entry) = clouds
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v))
                .ok_or_else(|| ConfigError::NoCloud {
                    available: Vec::new(),
                    searched: searched(selection, env),
                })?;
            let origin = format!(
                "cloud '{name}' in {}",
                files_text(&files).replace(" or ", " and ")
            );
            let settings = flatten(entry, &origin)?;
            (Some(name), settings, origin)
        }
        None => {
            return Err(ConfigError::NoCloud {
                available: clouds.keys().cloned().collect(),
                searched: searched(selection, env),
            });
        }
    };
    let overridden: Vec<&str> = env_settings
        .keys()
        .filter(|k| settings.contains_key(*k))
        .map(String::as_str)
        .collect();
    if cloud_name.is_some() && !overridden.is_empty() {
        tracing::info!(
            cloud = cloud_name.as_deref().unwrap_or(""),
            settings = overridden.join(", "),
            "OS_* environment variables override settings of the selected cloud"
        );
    }
    for (k, v) in &env_settings {
        settings.insert(k.clone(), v.clone());
    }
    let region = non_empty(&selection.plan_region)
        .or_else(|| {
            env.get("OS_REGION_NAME")
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.trim().to_owned())
        })
        .or_else(|| settings.get("region_name").cloned());
    build(cloud_name, settings, region, origin, env)
}

fn searched(selection: &CloudSelection, env: &Env) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = env
        .get("OS_CLIENT_CONFIG_FILE")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    out.extend(selection.search_dirs.iter().map(|d| d.join("clouds.yaml")));
    out
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
