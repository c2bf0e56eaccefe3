//! The `OS_*` environment variables: the snapshot the CLI takes once, and
//! the cloud settings it holds.

use std::collections::BTreeMap;

use super::settings::{Settings, legacy_aliases};

/// A snapshot of the environment variables, taken once by the CLI.
pub type Env = BTreeMap<String, String>;

/// Takes the snapshot of this process's environment. Only the command line
/// front end calls it; everything else receives the [`Env`] it built.
/// Variables whose name or value is not UTF-8 are left out.
pub fn env_from_process() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Variables that choose a cloud or a file but do not describe a cloud.
const SELECTORS: &[&str] = &[
    "OS_CLOUD",
    "OS_REGION_NAME",
    "OS_CLIENT_CONFIG_FILE",
    "OS_CLIENT_SECURE_FILE",
    "OS_CLOUD_NAME",
];

/// `OS_FOO_BAR=x` → `foo_bar = x`, for every non-empty variable that
/// describes the cloud (not the selectors, not test-harness variables).
pub(super) fn settings_from_env(env: &Env) -> Settings {
    let mut out = Settings::new();
    for (k, v) in env {
        let Some(rest) = k.strip_prefix("OS_") else {
            continue;
        };
        if SELECTORS.contains(&k.as_str())
            || k.starts_with("OS_TEST")
            || k.starts_with("OS_STD")
            || k.starts_with("OS_LOG")
            || v.trim().is_empty()
        {
            continue;
        }
        out.insert(rest.to_ascii_lowercase(), v.clone());
    }
    legacy_aliases(out)
}
