//! Completion scripts and man pages, generated from the clap definitions of
//! `lts` and `ltsd`. `cargo run --example gen-docs` writes them into
//! `completions/` and `man/`; a test regenerates them in memory and fails when
//! the committed files differ.

use clap::CommandFactory;
use clap_complete::Shell;
use std::collections::BTreeMap;
use std::path::Path;

/// Every generated file, by path relative to the repository root.
pub fn generate_all() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (name, mut cmd) in [
        ("lts", crate::cli::Cli::command()),
        ("ltsd", crate::daemon::args::Ltsd::command()),
    ] {
        for (shell, file) in [
            (Shell::Bash, format!("{name}.bash")),
            (Shell::Zsh, format!("_{name}")),
            (Shell::Fish, format!("{name}.fish")),
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, name, &mut out);
            files.insert(format!("completions/{file}"), out);
        }
        cmd.build();
        let mut pages = vec![(name.to_string(), cmd.clone())];
        for sub in cmd.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            pages.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        for (page, sub) in pages {
            let mut out = Vec::new();
            let sub = sub.name(page.clone()).version(crate::VERSION);
            if clap_mangen::Man::new(sub).render(&mut out).is_ok() {
                files.insert(format!("man/{page}.1"), out);
            }
        }
    }
    files
}

/// Print the completion script for `shell` (used by `lts completions`).
pub fn print_completions(shell: Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "lts", out);
}

/// Write every generated file under `root`.
pub fn write_all(root: &Path) -> std::io::Result<()> {
    for (rel, body) in generate_all() {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, body)?;
    }
    Ok(())
}
