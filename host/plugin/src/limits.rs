//! Per-plugin resource limits and the wasmtime limiter that enforces the
//! memory part of them.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What one plugin call may use. Every call is bounded by all of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    /// Total linear memory the guest may grow to, in bytes (default 256 MiB).
    pub memory_bytes: usize,
    /// Wall-clock deadline of one call (default 30 s), enforced by epoch
    /// interruption, so it also stops guests that never yield.
    #[serde(with = "duration_secs")]
    pub timeout: Duration,
    /// Largest result a call may return, in bytes (default 64 MiB).
    pub output_bytes: usize,
    /// Log bytes (log import plus stderr) kept per call (default 1 MiB); the
    /// rest is dropped, not an error.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(30),
            output_bytes: 64 << 20,
            log_bytes: 1 << 20,
        }
    }
}

mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Enforces [`Limits::memory_bytes`] across all memories of an instance and
/// remembers whether the limit was hit, so a failed call can be reported as
/// "memory limit" rather than as a generic trap.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit: usize,
    total: usize,
    pub(crate) exceeded: Option<usize>,
}

/// Most table elements an instance may have; guards against table bombs.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryLimiter {
    pub(crate) fn new(limit: usize) -> Self {
        MemoryLimiter {
            limit,
            total: 0,
            exceeded: None,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let wanted = self.total - current.min(self.total) + desired;
        if wanted > self.limit {
            self.exceeded = Some(wanted);
            // An error (not `Ok(false)`) traps right away instead of letting
            // the guest see a failed `memory.grow` and limp on.
            wasmtime::bail!(
                "memory limit of {} bytes exceeded (wanted {wanted})",
                self.limit
            );
        }
        self.total = wanted;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_deserialize_with_defaults_and_seconds() {
        let l: Limits =
            serde_json::from_str(r#"{"timeout": 1.5, "memoryBytes": 1048576}"#).unwrap();
        assert_eq!(l.timeout, Duration::from_millis(1500));
        assert_eq!(l.memory_bytes, 1 << 20);
        assert_eq!(l.output_bytes, Limits::default().output_bytes);
        assert!(serde_json::from_str::<Limits>(r#"{"timeout": -1}"#).is_err());
    }

    #[test]
    fn limiter_counts_all_memories_together() {
        use wasmtime::ResourceLimiter;
        let mut l = MemoryLimiter::new(100);
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.memory_growing(0, 40, None).unwrap());
        assert!(l.memory_growing(40, 41, None).is_err());
        assert_eq!(l.exceeded, Some(101));
    }
}
