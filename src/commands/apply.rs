//! `azmove apply`.

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::exit::Exit;

pub fn run(_global: &GlobalArgs, _args: &ApplyArgs) -> Exit {
    super::not_implemented("azmove apply")
}
