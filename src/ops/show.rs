//! `azmove show`: render a plan saved with `azmove plan -o FILE`. Offline:
//! the saved plan holds everything the renderers need.

use std::path::Path;

use crate::exit::Exit;
use crate::plan::changeset::Changeset;
use crate::render::{self, Colors, OutputFormat};

pub fn run(file: &Path, format: OutputFormat, colors: Colors) -> Exit {
    let path = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            super::error(format_args!("cannot read {path}: {e}"));
            return Exit::Failure;
        }
    };
    let changeset = match Changeset::from_json(&path, &text) {
        Ok(cs) => cs,
        Err(e) => {
            super::error(format_args!("{e}"));
            return Exit::Failure;
        }
    };
    let color = format == OutputFormat::Text && colors.stdout;
    match super::print(&render::render(&changeset, format, color), colors) {
        Err(e) => {
            super::error(format_args!("cannot write to stdout: {e}"));
            Exit::Failure
        }
        Ok(()) => Exit::Success,
    }
}
