//! Reading an input file from disk: the one place in azmove that does file
//! I/O for YAML inputs, so that every parser above it works on bytes.

use std::io::Read;
use std::path::Path;

use super::diagnostic::{Diagnostic, YamlErrors};
use super::source::too_big;

/// Read a file, refusing it early when it is larger than `max` bytes (the
/// read itself is capped too, so a pipe or device cannot make it grow).
pub fn read_source(path: &Path, max: usize) -> Result<Vec<u8>, YamlErrors> {
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| {
        YamlErrors::one(
            Diagnostic::whole_file(
                "yaml::unreadable",
                &name,
                format!("cannot read the file: {e}"),
            )
            .with_help("check the path and the file's permissions"),
        )
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            return Err(YamlErrors::one(
                Diagnostic::whole_file(
                    "yaml::unreadable",
                    &name,
                    "this is a directory, not a file",
                )
                .with_help("name a YAML file"),
            ));
        }
        if meta.len() > max as u64 {
            return Err(YamlErrors::one(too_big(&name, meta.len(), max)));
        }
    }
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() > max {
        return Err(YamlErrors::one(too_big(&name, bytes.len() as u64, max)));
    }
    Ok(bytes)
}
