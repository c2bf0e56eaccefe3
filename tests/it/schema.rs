//! The checked-in plan schema is the generated one, and the example plans
//! satisfy it. Runs offline: the schema has no remote references.

use std::path::Path;

use azmove::plan::schema::{plan_schema, plan_schema_text};
use azmove::yaml::from_yaml_str;
use serde_json::{Value, json};

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/plan.schema.json");

#[test]
fn checked_in_schema_is_up_to_date() {
    let generated = plan_schema_text();
    if std::env::var_os("AZMOVE_UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_PATH, &generated).expect("write schemas/plan.schema.json");
        return;
    }
    let checked_in = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_default();
    assert!(
        checked_in == generated,
        "schemas/plan.schema.json differs from the schema generated from src/plan/file.rs.\n\
         Regenerate it with:\n\n    AZMOVE_UPDATE_SCHEMA=1 cargo test --test it -- --exact schema::checked_in_schema_is_up_to_date\n\n\
         and commit the result."
    );
}

#[test]
fn every_field_has_a_description() {
    fn walk(v: &Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                if p.get("description").is_none() {
                    missing.push(format!("{path}.{k}"));
                }
            }
        }
        if let Some(defs) = v.get("$defs").and_then(Value::as_object) {
            for (k, d) in defs {
                walk(d, k, missing);
            }
        }
    }
    let mut missing = Vec::new();
    walk(&plan_schema(), "PlanFile", &mut missing);
    assert!(
        missing.is_empty(),
        "fields without a doc comment: {missing:?}"
    );
}

/// Plan files in plans/ that declare this schema on a `yaml-language-server` line.
fn plans_using_the_schema() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("plans/ exists") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let declares = text
            .lines()
            .take_while(|l| l.starts_with('#') || l.trim().is_empty())
            .any(|l| {
                l.contains("yaml-language-server: $schema=")
                    && l.trim_end().ends_with("plan.schema.json")
            });
        if declares {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn example_plans_match_the_schema() {
    let validator = jsonschema::validator_for(&plan_schema()).expect("the schema compiles");
    let plans = plans_using_the_schema();
    let names: Vec<String> = plans
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"seed.yaml".to_string()) && names.contains(&"fleet.yaml".to_string()),
        "{names:?}"
    );
    for path in plans {
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value =
            from_yaml_str(&path.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}"));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{} does not match the schema:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
}

#[test]
fn the_schema_rejects_what_editors_should_flag() {
    let validator = jsonschema::validator_for(&plan_schema()).expect("the schema compiles");
    let good = json!({"version": 1, "moves": [{"server": "a", "to": "b"}]});
    assert!(validator.is_valid(&good));
    let bad = [
        json!({"version": 2, "moves": []}),
        json!({"version": 1, "moves": [{"server": "a", "to": "b", "sourceafter": "keep"}]}),
        json!({"version": 1, "moves": [{"server": "a", "select": {"name": "x"}, "to": "b"}]}),
        json!({"version": 1, "moves": [{"to": "b"}]}),
        json!({"version": 1, "limits": {"concurrency": 0}, "moves": []}),
        json!({"version": 1, "defaults": {"server_name": "{nmae}"}, "moves": []}),
        json!({"version": 1, "defaults": {"strategy": "teleport"}, "moves": []}),
    ];
    for b in bad {
        assert!(!validator.is_valid(&b), "schema accepts {b}");
    }
}
