//! The machine-readable rendering. The JSON of a [`Changeset`] is also the
//! saved-plan format (`azmove plan -o FILE`), so it is stable: fields are
//! only added, and an incompatible change bumps
//! [`crate::plan::changeset::CHANGESET_FORMAT`]. Its schema, generated from
//! the types, is checked in as `schemas/changeset.schema.json`.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::plan::changeset::{CHANGESET_FORMAT, Changeset};

/// The changeset as pretty JSON, ending with a newline.
pub fn render(cs: &Changeset) -> String {
    let mut s = cs.to_json();
    s.push('\n');
    s
}

/// The schema of the JSON output and of saved plans (JSON Schema 2020-12).
pub fn changeset_schema() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Changeset>();
    let mut v = schema.to_value();
    v["title"] = json!("azmove changeset (plan output and saved plan)");
    if let Some(format) = v.pointer_mut("/properties/format") {
        format["const"] = json!(CHANGESET_FORMAT);
    }
    v
}

/// The schema as written to `schemas/changeset.schema.json`.
pub fn changeset_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&changeset_schema()).unwrap_or_default();
    s.push('\n');
    s
}
