//! `clouds.yaml` and `secure.yaml`: where they are found, how they are read
//! (through the positioned YAML reader every azmove document goes through)
//! and how `secure.yaml` is laid over `clouds.yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::env::Env;
use super::error::ConfigError;
use crate::yaml::{YamlOptions, from_yaml_slice};

const CONFIG_NAMES: &[&str] = &["clouds.yaml", "clouds.yml", "clouds.json"];
const SECURE_NAMES: &[&str] = &["secure.yaml", "secure.yml", "secure.json"];

/// The clouds of `clouds.yaml` with `secure.yaml` laid over them, and the
/// files they came from. openstacksdk does not merge several clouds.yaml:
/// the first found is the one read, and likewise for secure.yaml.
pub(super) fn load_clouds(
    dirs: &[PathBuf],
    env: &Env,
) -> Result<(BTreeMap<String, Value>, Vec<PathBuf>), ConfigError> {
    let clouds_file = find_file(dirs, CONFIG_NAMES, env.get("OS_CLIENT_CONFIG_FILE"));
    let secure_file = find_file(dirs, SECURE_NAMES, env.get("OS_CLIENT_SECURE_FILE"));
    let mut document = match &clouds_file {
        Some(path) => load_document(path)?,
        None => Value::Object(Default::default()),
    };
    if let Some(path) = &secure_file {
        let secure = load_document(path)?;
        merge(&mut document, secure);
    }
    let clouds = clouds_of(&document, clouds_file.as_deref().or(secure_file.as_deref()))?;
    let files = clouds_file.into_iter().chain(secure_file).collect();
    Ok((clouds, files))
}

/// The first existing file: the override variable's, then each directory's
/// candidates in order.
fn find_file(dirs: &[PathBuf], names: &[&str], override_path: Option<&String>) -> Option<PathBuf> {
    if let Some(path) = override_path.filter(|p| !p.trim().is_empty()) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Some(path);
        }
        tracing::warn!(path = %path.display(), "the configuration file named by the environment does not exist; searching the usual places");
    }
    dirs.iter()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

fn load_document(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse_yaml_document(&text, path)
}

/// Parses a clouds.yaml / secure.yaml document into a generic tree.
///
/// Errors keep the location only: a message can quote the offending line,
/// and in secure.yaml that line may hold a password.
fn parse_yaml_document(text: &str, path: &Path) -> Result<Value, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let name = path.display().to_string();
    from_yaml_slice::<Value>(&name, text.as_bytes(), &YamlOptions::secret())
        .map(|(value, _)| value)
        .map_err(|e| {
            let position = e.diagnostics.first().and_then(|d| d.position);
            ConfigError::Parse {
                path: path.to_path_buf(),
                line: position.map(|p| p.line as u64),
                column: position.map(|p| p.column as u64),
            }
        })
}

/// Deep merge: mappings merge key by key, anything else is replaced.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn clouds_of(
    document: &Value,
    path: Option<&Path>,
) -> Result<BTreeMap<String, Value>, ConfigError> {
    let path = path.map(Path::to_path_buf).unwrap_or_default();
    let Some(root) = document.as_object() else {
        return Err(ConfigError::Shape {
            path,
            detail: "the file must be a mapping with a `clouds:` key".into(),
        });
    };
    match root.get("clouds") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(clouds)) => {
            Ok(clouds.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        Some(_) => Err(ConfigError::Shape {
            path,
            detail: "`clouds:` must map cloud names to their settings".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::config::settings::flatten;

    #[test]
    fn merge_is_deep() {
        let mut base: Value =
            serde_json::json!({"clouds": {"a": {"auth": {"username": "u", "auth_url": "x"}}}});
        merge(
            &mut base,
            serde_json::json!({"clouds": {"a": {"auth": {"password": "p"}}}}),
        );
        assert_eq!(
            base,
            serde_json::json!({"clouds": {"a": {"auth": {"username": "u", "auth_url": "x", "password": "p"}}}})
        );
    }

    #[test]
    fn yaml_errors_keep_only_the_location() {
        let err = parse_yaml_document(
            "clouds:\n  a: [unclosed\n  password: hunter2\n",
            Path::new("/x/secure.yaml"),
        )
        .expect_err("invalid YAML");
        let text = err.to_string();
        assert!(text.contains("/x/secure.yaml"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn scalars_of_any_type_become_strings() {
        let doc = parse_yaml_document(
            "clouds:\n  a:\n    verify: false\n    auth:\n      project_id: 12345\n",
            Path::new("c.yaml"),
        )
        .expect("valid YAML");
        let clouds = clouds_of(&doc, None).expect("clouds mapping");
        let s = flatten(&clouds["a"], "test").expect("mapping");
        assert_eq!(s.get("verify").map(String::as_str), Some("false"));
        assert_eq!(s.get("project_id").map(String::as_str), Some("12345"));
    }
}
