//! Where the binaries' logs go: stderr, through `tracing`, filtered by
//! `RUST_LOG` or else by the binary's default, coloured only on a terminal.

use std::io::IsTerminal;

/// Send logs to stderr, filtered by `RUST_LOG`, else by `default_filter`.
pub fn init(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
}
