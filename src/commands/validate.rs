//! `azmove validate`.

use crate::cli::{ValidateArgs, GlobalArgs};
use crate::exit::Exit;

pub fn run(_global: &GlobalArgs, _args: &ValidateArgs) -> Exit {
    super::not_implemented("azmove validate")
}
