//! `azmove show`: render a plan saved with `azmove plan -o FILE`. Offline:
//! the saved plan holds everything the renderers need.

use std::io::Write;

use crate::cli::{GlobalArgs, OutputFormat, ShowArgs};
use crate::exit::Exit;
use crate::plan::changeset::Changeset;
use crate::render;

pub fn run(global: &GlobalArgs, args: &ShowArgs) -> Exit {
    crate::logging::init(global);
    let path = args.file.display().to_string();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("azmove: cannot read {path}: {e}");
            return Exit::Failure;
        }
    };
    let changeset = match Changeset::from_json(&path, &text) {
        Ok(cs) => cs,
        Err(e) => {
            eprintln!("azmove: {e}");
            return Exit::Failure;
        }
    };
    let color = args.format == OutputFormat::Text && super::plan::stdout_color(global.color);
    let out = render::render(&changeset, args.format, color);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("azmove: cannot write to stdout: {e}");
            Exit::Failure
        }
        _ => Exit::Success,
    }
}
