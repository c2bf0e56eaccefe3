//! The JSON Schema of plan files, generated from the types in `file.rs` so
//! that it cannot drift from what the loader accepts. The checked-in copy in
//! `schemas/plan.schema.json` is what editors use (through the
//! `# yaml-language-server: $schema=…` line); `tests/it/schema.rs` fails when it
//! is stale.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::plan::file::PlanFile;
use crate::plan::validate::TEMPLATE_PLACEHOLDERS;

/// The plan file schema (JSON Schema 2020-12).
///
/// A few rules the Rust types cannot express are added here, so that an
/// editor flags them while typing; `azmove validate` checks them as well.
pub fn plan_schema() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<PlanFile>();
    let mut v = schema.to_value();
    v["title"] = json!("azmove plan file");
    if let Some(version) = v.pointer_mut("/properties/version") {
        version["const"] = json!(crate::plan::file::PLAN_VERSION);
    }
    if let Some(limits) = v.pointer_mut("/$defs/Limits/properties") {
        limits["concurrency"]["minimum"] = json!(1);
        limits["requests_per_second"]["exclusiveMinimum"] = json!(0);
        limits["per_az"]["additionalProperties"]["minimum"] = json!(1);
    }
    // An entry names one server or selects many, never both or neither.
    if let Some(entry) = v.pointer_mut("/$defs/MoveEntry") {
        entry["oneOf"] = json!([{ "required": ["server"] }, { "required": ["select"] }]);
    }
    let alternatives = TEMPLATE_PLACEHOLDERS.join("|");
    let template = format!("^([^{{}}]|\\{{({alternatives})\\}})*$");
    for def in ["Options", "MoveEntry"] {
        for key in ["server_name", "snapshot_name"] {
            if let Some(p) = v.pointer_mut(&format!("/$defs/{def}/properties/{key}")) {
                p["pattern"] = json!(template);
            }
        }
    }
    v
}

/// The schema as written to `schemas/plan.schema.json`.
pub fn plan_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&plan_schema()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_descriptions_and_extra_rules() {
        let v = plan_schema();
        assert_eq!(v["properties"]["version"]["const"], json!(1));
        assert!(v["properties"]["moves"]["description"].is_string());
        assert!(v["$defs"]["MoveEntry"]["oneOf"].is_array());
        let pattern = v["$defs"]["Options"]["properties"]["server_name"]["pattern"]
            .as_str()
            .unwrap();
        assert!(pattern.contains("short_id"), "{pattern}");
    }
}
