//! Compiles guest crates of this workspace to `wasm32-wasip2` components
//! from a build script, so `cargo build`/`cargo test` of the host produce
//! the plugins they embed or test with, and no prebuilt binary is committed.
//!
//! The nested `cargo` uses its own target directory (`<target>/guests`), so
//! it never waits on the lock the outer build holds, and the `guest` profile
//! of the workspace.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target triple guests are built for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";

/// Environment of the outer build that must not leak into the nested one:
/// flags for the host target, clippy's wrapper, the outer target dir.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "CLIPPY_ARGS",
    "CLIPPY_CONF_DIR",
];

/// The outer build's target directory, found from `OUT_DIR` (cargo marks
/// its target root with `CACHEDIR.TAG`).
fn outer_target_dir() -> PathBuf {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set for build scripts"));
    out.ancestors()
        .find(|p| p.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out.join("guest-target"))
}

/// Builds `packages` (crate names in the workspace rooted at `workspace`)
/// and returns, for each, the path of its `.wasm` component. Tells cargo to
/// rerun the calling build script when `watch` paths (relative to the
/// workspace) change.
///
/// # Panics
/// When the nested build fails: a build script has no other way to fail,
/// and the message carries cargo's output and the usual fix.
pub fn build(workspace: &Path, packages: &[&str], watch: &[&str]) -> Vec<PathBuf> {
    for w in watch
        .iter()
        .chain(["wit", "Cargo.lock", "Cargo.toml"].iter())
    {
        println!("cargo:rerun-if-changed={}", workspace.join(w).display());
    }
    let target_dir = outer_target_dir().join("guests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--profile",
            "guest",
            "--target",
            GUEST_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run cargo to build the wasm plugins: {e}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("target may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            "\nhint: install the target with `rustup target add wasm32-wasip2`"
        } else {
            ""
        };
        panic!("building the wasm plugins {packages:?} failed:\n{stderr}{hint}");
    }
    packages
        .iter()
        .map(|p| {
            let file = target_dir
                .join(GUEST_TARGET)
                .join("guest")
                .join(format!("{}.wasm", p.replace('-', "_")));
            assert!(
                file.is_file(),
                "cargo built {p} but {} is missing",
                file.display()
            );
            file
        })
        .collect()
}
