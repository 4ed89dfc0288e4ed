//! The crate's layers hold: the CLI and the library client never reach into
//! the daemon, and the daemon never into the CLI. A cheap look at the source
//! text, so that a shortcut across a layer fails here, not in review.

use std::path::{Path, PathBuf};

/// What the library side (everything `lts` and embedding programs use) is
/// made of: none of it may name `crate::daemon`.
const LIBRARY: &[&str] = &[
    "src/cli",
    "src/client.rs",
    "src/spool.rs",
    "src/jobline.rs",
    "src/registry",
    "src/model",
    "src/protocol",
    "src/discovery",
    "src/schedule",
];

/// Every `.rs` file at or under `path`.
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The lines of the files under `roots` that name the module `module` of
/// this crate: `crate::module`, or `module` inside a `use crate::{..}`.
fn mentions(roots: &[&str], module: &str) -> Vec<String> {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path_form = format!("crate::{module}");
    let mut found = Vec::new();
    for root in roots {
        for file in rust_files(&top.join(root)) {
            let text = std::fs::read_to_string(&file).expect("a source file");
            let squeezed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let grouped = squeezed.split("use crate::{").skip(1).any(|rest| {
                let group = rest.split(';').next().unwrap_or_default();
                group
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|word| word == module)
            });
            for (n, line) in text.lines().enumerate() {
                // `crate::cli` but not `crate::client`.
                let named = line.match_indices(&path_form).any(|(at, _)| {
                    !line[at + path_form.len()..]
                        .starts_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if named {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
            if grouped {
                found.push(format!(
                    "{}: `use crate::{{.. {module} ..}}`",
                    file.display()
                ));
            }
        }
    }
    found
}

#[test]
fn the_cli_and_the_library_client_never_use_the_daemon() {
    let found = mentions(LIBRARY, "daemon");
    assert!(
        found.is_empty(),
        "library code naming crate::daemon:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_daemon_never_uses_the_cli() {
    let found = mentions(&["src/daemon"], "cli");
    assert!(
        found.is_empty(),
        "daemon code naming crate::cli:\n{}",
        found.join("\n")
    );
}
