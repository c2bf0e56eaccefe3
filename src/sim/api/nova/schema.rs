//! Action bodies checked the way Nova's JSON schemas check them, with
//! jsonschema's messages in Python's spelling.

use serde_json::{Map, Value};

use super::bad_request;
use crate::sim::errors::ApiError;

/// Python's `repr` of a JSON value, as Nova's validation messages show it.
pub(super) fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `str`: strings bare, everything else as `repr`.
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Nova's 400 for a body that fails its schema.
pub(super) fn invalid_input(path: &str, value: &Value, message: &str) -> ApiError {
    bad_request(format!(
        "Invalid input for field/attribute {path}. Value: {}. {message}",
        py_str(value)
    ))
}

pub(super) fn not_of_type(path: &str, value: &Value, types: &str) -> ApiError {
    invalid_input(
        path,
        value,
        &format!("{} is not of type {types}", py_repr(value)),
    )
}

/// An object with only `allowed` keys and all `required` ones, checked in
/// jsonschema's order (required, then additional properties).
pub(super) fn object<'a>(
    path: &str,
    v: &'a Value,
    allowed: &[&str],
    required: &[&str],
) -> Result<&'a Map<String, Value>, ApiError> {
    let Some(o) = v.as_object() else {
        return Err(not_of_type(path, v, "'object'"));
    };
    if let Some(missing) = required.iter().find(|k| !o.contains_key(**k)) {
        return Err(invalid_input(
            path,
            v,
            &format!("'{missing}' is a required property"),
        ));
    }
    let extra: Vec<String> = o
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("'{k}'"))
        .collect();
    if !extra.is_empty() {
        let verb = if extra.len() == 1 { "was" } else { "were" };
        return Err(invalid_input(
            path,
            v,
            &format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                extra.join(", ")
            ),
        ));
    }
    Ok(o)
}

/// `parameter_types.boolean` (true/false or their usual spellings), plus
/// `auto` where `block_migration` allows it (`None` then).
pub(super) fn boolean(path: &str, v: &Value, allow_auto: bool) -> Result<Option<bool>, ApiError> {
    const YES: &[&str] = &[
        "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
    ];
    const NO: &[&str] = &[
        "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no",
    ];
    match v {
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if YES.contains(&s.as_str()) => Ok(Some(true)),
        Value::String(s) if NO.contains(&s.as_str()) => Ok(Some(false)),
        Value::String(s) if allow_auto && s == "auto" => Ok(None),
        Value::String(_) => Err(invalid_input(
            path,
            v,
            &format!(
                "{} is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'{}]",
                py_repr(v),
                if allow_auto { ", 'auto'" } else { "" }
            ),
        )),
        other => Err(not_of_type(path, other, "'boolean', 'string'")),
    }
}

/// A host name or null (`host` of migrate and os-migrateLive).
pub(super) fn host_or_null(v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(invalid_input(
            "host",
            &Value::String(s.clone()),
            &format!("'{s}' does not match '^[a-zA-Z0-9-._]*$'"),
        )),
        Some(other) => Err(not_of_type("host", other, "'string', 'null'")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn python_reprs_match_novas_messages() {
        let v = json!({"host": null, "block_migration": "auto"});
        assert_eq!(py_repr(&v), "{'block_migration': 'auto', 'host': None}");
        assert_eq!(py_str(&json!("x")), "x");
        assert_eq!(py_repr(&json!([true, 1])), "[True, 1]");
    }

    #[test]
    fn objects_report_missing_then_unexpected_keys() {
        let e = object(
            "os-migrateLive",
            &json!({"host": null}),
            &["host", "block_migration"],
            &["block_migration", "host"],
        )
        .unwrap_err();
        assert!(
            e.body_text()
                .contains("'block_migration' is a required property"),
            "{}",
            e.body_text()
        );
        let e = object("migrate", &json!({"hots": "x"}), &["host"], &[]).unwrap_err();
        assert!(
            e.body_text().contains("('hots' was unexpected)"),
            "{}",
            e.body_text()
        );
    }

    #[test]
    fn booleans_take_novas_spellings() {
        assert_eq!(boolean("b", &json!("auto"), true).unwrap(), None);
        assert_eq!(boolean("b", &json!("yes"), false).unwrap(), Some(true));
        assert!(boolean("b", &json!("auto"), false).is_err());
        assert!(boolean("b", &json!(3), true).is_err());
    }
}
