//! Feed arbitrary bytes to the plan loader and validator: any panic, stack
//! overflow or runaway allocation is a bug. Rendering the diagnostics is
//! included, since positions computed from hostile input end up there.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = azmove::plan::validate::validate_bytes("fuzz.yaml", data);
    for d in &report.diagnostics {
        let _ = d.render(false);
    }
});
