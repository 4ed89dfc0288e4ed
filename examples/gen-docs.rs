//! Regenerate `completions/` and `man/` from the clap definitions:
//! `cargo run --example gen-docs`.

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    lts::docs::write_all(root)?;
    println!("wrote completions/ and man/ under {}", root.display());
    Ok(())
}
