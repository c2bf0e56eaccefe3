use std::process::ExitCode;

fn main() -> ExitCode {
    azmove::cli::main()
}
