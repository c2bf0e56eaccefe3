//! `azmove show`.

use crate::cli::{ShowArgs, GlobalArgs};
use crate::exit::Exit;

pub fn run(_global: &GlobalArgs, _args: &ShowArgs) -> Exit {
    super::not_implemented("azmove show")
}
