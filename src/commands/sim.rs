//! `azmove sim`.

use crate::cli::{GlobalArgs, SimCommand};
use crate::exit::Exit;

pub fn run(_global: &GlobalArgs, _cmd: &SimCommand) -> Exit {
    super::not_implemented("azmove sim serve")
}
