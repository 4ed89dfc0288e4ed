//! `lts`: parse the command line, run it, exit with SPEC's code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `lts jobs | head` should end quietly, as other command-line tools do,
    // rather than fail on the closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread
    // starts has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = lts::cli::Cli::parse();
    lts::logging::init("off");
    // One thread serves a command; `bench` may run a whole cluster in-process.
    let mut builder = match cli.command {
        lts::cli::Command::Bench(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lts: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(lts::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("lts: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    }
}
