//! What a component is: which Gyre world(s) it implements, what it imports
//! and exports. Works from the compiled component's type, so it needs no
//! instantiation.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The plugin worlds of `gyre:plugin@0.1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// Source tree → objects.
    Renderer,
    /// Objects → objects.
    Transform,
    /// Tags → selected tag.
    ImagePolicy,
    /// Event → HTTP requests.
    Notifier,
}

impl World {
    /// All worlds, in a stable order.
    pub const ALL: [World; 4] = [
        World::Renderer,
        World::Transform,
        World::ImagePolicy,
        World::Notifier,
    ];

    /// The interface a component of this world exports.
    pub fn export_name(self) -> &'static str {
        match self {
            World::Renderer => "gyre:plugin/render@0.1.0",
            World::Transform => "gyre:plugin/transformation@0.1.0",
            World::ImagePolicy => "gyre:plugin/tag-policy@0.1.0",
            World::Notifier => "gyre:plugin/notify@0.1.0",
        }
    }

    /// The fully qualified WIT world name.
    pub fn wit_name(self) -> String {
        format!("gyre:plugin/{self}@0.1.0")
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            World::Renderer => "renderer",
            World::Transform => "transform",
            World::ImagePolicy => "image-policy",
            World::Notifier => "notifier",
        })
    }
}

impl FromStr for World {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        World::ALL
            .into_iter()
            .find(|w| w.to_string() == s)
            .ok_or_else(|| format!("unknown plugin world {s:?} (expected renderer, transform, image-policy or notifier)"))
    }
}

/// A summary of a component, as `gyre plugin inspect` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ComponentInfo {
    /// Gyre worlds the component implements.
    pub worlds: Vec<World>,
    /// Names of everything it imports.
    pub imports: Vec<String>,
    /// Names of everything it exports.
    pub exports: Vec<String>,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    /// Size in bytes.
    pub size: usize,
}

/// Inspects a compiled component.
pub fn component_info(engine: &Engine, component: &Component, bytes: &[u8]) -> ComponentInfo {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let worlds = World::ALL
        .into_iter()
        .filter(|w| exports.iter().any(|e| e == w.export_name()))
        .collect();
    ComponentInfo {
        worlds,
        imports,
        exports,
        digest: crate::store::sha256_digest(bytes),
        size: bytes.len(),
    }
}

/// Checks the header: WebAssembly magic, and the component (not core
/// module) encoding. Cheap, and done before anything is cached or compiled.
///
/// # Errors
/// A description of what the bytes are instead.
pub fn check_component_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly binary (bad magic bytes)".into());
    }
    match bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err("a core WebAssembly module, not a component".into()),
        _ => Err("an unknown WebAssembly encoding version".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worlds_round_trip_through_their_names() {
        for w in World::ALL {
            assert_eq!(w.to_string().parse::<World>().unwrap(), w);
        }
        assert!("render".parse::<World>().is_err());
        assert_eq!(
            World::ImagePolicy.wit_name(),
            "gyre:plugin/image-policy@0.1.0"
        );
    }

    #[test]
    fn header_check_tells_modules_from_components() {
        assert!(check_component_header(b"\0asm\x0d\0\x01\0rest").is_ok());
        assert!(
            check_component_header(b"\0asm\x01\0\0\0")
                .unwrap_err()
                .contains("core")
        );
        assert!(
            check_component_header(b"PK\x03\x04zip!")
                .unwrap_err()
                .contains("magic")
        );
        assert!(check_component_header(b"").is_err());
    }
}
