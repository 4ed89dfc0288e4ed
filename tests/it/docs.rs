//! The committed completion scripts and man pages match the clap definitions.

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (rel, body) in lts::docs::generate_all() {
        match std::fs::read(root.join(&rel)) {
            Ok(on_disk) if on_disk == body => {}
            _ => stale.push(rel),
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; regenerate with `cargo run --example gen-docs` and commit"
    );
}

#[test]
fn lts_completions_prints_a_script() {
    let out = std::process::Command::new(crate::helpers::LTS)
        .args(["completions", "bash"])
        .output()
        .expect("run lts");
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("_lts()"), "bash completion for lts");
    assert!(script.contains("submit"));
}
