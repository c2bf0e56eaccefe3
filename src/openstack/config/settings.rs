//! One cloud's settings as a flat map, whichever file or variable they came
//! from: the shape every source is brought to before they are merged.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::ConfigError;

/// Flat settings, keys as in clouds.yaml without the `auth.` level
/// (`auth_url`, `username`, `region_name`, `verify`, …).
pub(super) type Settings = BTreeMap<String, String>;

/// Flattens one cloud entry: top-level keys, then `auth:` keys over them
/// (openstacksdk accepts auth keys at either level; the `auth:` one wins).
pub(super) fn flatten(entry: &Value, origin: &str) -> Result<Settings, ConfigError> {
    let Some(map) = entry.as_object() else {
        return Err(ConfigError::Invalid {
            origin: origin.to_owned(),
            detail: "the cloud entry must be a mapping".into(),
        });
    };
    let mut out = Settings::new();
    for (k, v) in map {
        let key = normalize_key(k);
        if key == "auth" || key == "regions" {
            continue;
        }
        if let Some(s) = scalar(v) {
            out.insert(key, s);
        }
    }
    if let Some(regions) = map.get("regions").and_then(|r| r.as_array()) {
        // `regions: [a, b]` or `[{name: a, values: {...}}]`; the first is the default.
        if !out.contains_key("region_name")
            && let Some(first) = regions.first()
        {
            let name = first
                .as_str()
                .map(str::to_owned)
                .or_else(|| first.get("name").and_then(scalar));
            if let Some(name) = name {
                out.insert("region_name".into(), name);
            }
        }
    }
    if let Some(auth) = map.get("auth") {
        let Some(auth) = auth.as_object() else {
            return Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                detail: "`auth:` must be a mapping".into(),
            });
        };
        for (k, v) in auth {
            if let Some(s) = scalar(v) {
                out.insert(normalize_key(k), s);
            }
        }
    }
    Ok(legacy_aliases(out))
}

fn normalize_key(k: &str) -> String {
    k.trim().replace('-', "_").to_ascii_lowercase()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Old names still found in openrc files and clouds.yaml.
pub(super) fn legacy_aliases(mut s: Settings) -> Settings {
    for (old, new) in [
        ("tenant_name", "project_name"),
        ("tenant_id", "project_id"),
        ("endpoint_type", "interface"),
    ] {
        if let Some(v) = s.remove(old) {
            s.entry(new.to_owned()).or_insert(v);
        }
    }
    s
}
