//! Every YAML document azmove reads goes through this module: plan files,
//! simulator scenarios, `clouds.yaml`. Budgets, error positions and message
//! wording are therefore the same everywhere, and no other module depends on
//! the YAML library.
//!
//! Reading happens in two stages. The text first becomes a tree of nodes that
//! remember where they came from (line, column, byte span); this is where the
//! budgets against alias bombs, deep nesting and huge inputs apply, and where
//! duplicate keys are found (`tree.rs`). The tree is then turned into the typed
//! value by serde (`de.rs`, `convert.rs`). When that fails, the offending key or
//! list item is dropped and the conversion runs again, so one run reports every
//! mistake in the file rather than only the first. The tree is kept as a
//! [`SourceMap`], which lets later checks (plan validation) point at the exact
//! value they complain about.
//!
//! Only [`read_source`] touches the file system; everything else works on
//! bytes already in memory.

mod convert;
mod de;
mod diagnostic;
mod document;
mod path;
mod read;
mod source;
mod source_map;
mod suggest;
mod syntax;
mod tree;

#[cfg(test)]
mod tests;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use diagnostic::{Diagnostic, Note, Position, YamlErrors};
pub use document::{Converted, Document, Removed};
pub use path::{PathSeg, path_text};
pub use read::read_source;
pub use source_map::SourceMap;
pub use suggest::did_you_mean;

/// Largest document accepted unless the caller says otherwise. Inputs are
/// written by hand or generated for a few thousand servers; anything bigger
/// is a mistake or an attack.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// Deepest nesting of lists and mappings accepted. A plan needs five levels.
pub const MAX_DEPTH: usize = 64;

/// Upper bound on nodes produced by replaying aliases (`*name`). Real files
/// reuse a few settings; a "billion laughs" document reuses them exponentially.
pub const MAX_ALIAS_REPLAY: usize = 100_000;

/// After this many problems in one file the rest would be noise.
pub const MAX_DIAGNOSTICS: usize = 100;

/// How a YAML document is read.
#[derive(Debug, Clone)]
pub struct YamlOptions {
    /// Refuse inputs larger than this many bytes.
    pub max_bytes: usize,
    /// Quote the offending source lines and values in diagnostics. Turn this
    /// off for files that hold secrets (`clouds.yaml`, `secure.yaml`): errors
    /// then name only the file, line, column and key.
    pub show_source: bool,
}

impl Default for YamlOptions {
    fn default() -> Self {
        YamlOptions {
            max_bytes: MAX_BYTES,
            show_source: true,
        }
    }
}

impl YamlOptions {
    /// Options for documents that may contain passwords or tokens.
    pub fn secret() -> Self {
        YamlOptions {
            show_source: false,
            ..YamlOptions::default()
        }
    }
}

/// Parse any YAML document into `T`, with the budgets and diagnostics of
/// plan files, and keep its [`SourceMap`].
pub fn from_yaml_slice<T: DeserializeOwned>(
    name: &str,
    bytes: &[u8],
    opts: &YamlOptions,
) -> Result<(T, SourceMap), YamlErrors> {
    let doc = Document::read(name, bytes, opts).map_err(|d| YamlErrors::one(*d))?;
    let converted = doc.convert::<T>(|_, _| {});
    match (converted.value, converted.map) {
        (Some(v), Some(map)) if converted.diagnostics.is_empty() => Ok((v, map)),
        _ => Err(YamlErrors::new(name, converted.diagnostics)),
    }
}

/// Parse any YAML document (a scenario, `clouds.yaml`, …) into `T`.
/// `name` is what diagnostics call the document, usually its path.
pub fn from_yaml_str<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, YamlErrors> {
    from_yaml_slice(name, text.as_bytes(), &YamlOptions::default()).map(|(v, _)| v)
}

/// Write a value as YAML (the inverse of [`from_yaml_str`]).
pub fn to_yaml_string<T: Serialize>(value: &T) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| e.to_string())
}
