//! Builds the hostile test plugin.

use std::path::Path;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    let workspace = Path::new(&dir)
        .join("../..")
        .canonicalize()
        .expect("workspace root");
    let files = gyre_guest_build::build(
        &workspace,
        &["gyre-hostile-plugin"],
        &["tests/hostile-plugin"],
    );
    println!("cargo:rustc-env=GYRE_HOSTILE_WASM={}", files[0].display());
}
