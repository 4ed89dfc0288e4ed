//! `ltsd`: parse the role, set up logging, run it.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = lts::daemon::args::Ltsd::parse();
    lts::logging::init("info,tarpc=warn");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ltsd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(lts::daemon::launch::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ltsd: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
