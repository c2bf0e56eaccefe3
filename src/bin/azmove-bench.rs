//! `azmove-bench`: the benchmark suite behind docs/benchmarks.md.
//!
//! Run it on demand (`cargo run --release --bin azmove-bench -- all`); it
//! has no tests of its own and `cargo test` never runs it. The work is in
//! the library's `bench` module.

fn main() -> std::process::ExitCode {
    azmove::bench::main()
}
