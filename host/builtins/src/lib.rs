//! The plugins compiled into the `gyre` binary. They work with no registry
//! (air-gapped clusters) and are referenced as `builtin:<name>`; any of them
//! can be overridden by an OCI reference.

/// A plugin embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Name, used as `builtin:<name>`.
    pub name: &'static str,
    /// The WIT world it implements (`renderer`, `transform`, ...).
    pub world: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// The component bytes.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The prefix naming a built-in plugin in a plugin reference.
pub const PREFIX: &str = "builtin:";

/// Looks up a built-in by name (with or without the `builtin:` prefix).
pub fn get(name: &str) -> Option<&'static Builtin> {
    let name = name.strip_prefix(PREFIX).unwrap_or(name);
    BUILTINS.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_an_embedded_component() {
        assert!(BUILTINS.len() >= 4);
        for b in BUILTINS {
            assert_eq!(
                &b.bytes[..8],
                b"\0asm\x0d\0\x01\0",
                "{} is not a component",
                b.name
            );
            assert!(std::ptr::eq(
                get(&format!("builtin:{}", b.name)).unwrap(),
                b
            ));
        }
        assert!(get("builtin:nope").is_none());
    }
}
