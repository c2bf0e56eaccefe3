//! `azmove plan`.

use crate::cli::{PlanArgs, GlobalArgs};
use crate::exit::Exit;

pub fn run(_global: &GlobalArgs, _args: &PlanArgs) -> Exit {
    super::not_implemented("azmove plan")
}
