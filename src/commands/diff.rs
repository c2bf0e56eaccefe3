//! `azmove diff`.

use crate::cli::{DiffArgs, GlobalArgs};
use crate::exit::Exit;

pub fn run(_global: &GlobalArgs, _args: &DiffArgs) -> Exit {
    super::not_implemented("azmove diff")
}
