//! Exponential backoff per object for failed reconciles: retry soon after the first
//! failure (a transient error clears fast), then less and less often, never later than
//! the object's own ceiling (`retryInterval` for Kustomizations, `interval` for sources).
//! One success resets it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The first retry delay.
const BASE: Duration = Duration::from_secs(1);

/// Consecutive failures per object.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `key` and returns how long to wait before retrying:
    /// 1s, 2s, 4s, … capped at `ceiling`.
    pub fn failed(&self, key: &str, ceiling: Duration) -> Duration {
        let mut map = self.failures.lock().expect("backoff lock");
        let n = map.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let exp = (*n - 1).min(20);
        BASE.saturating_mul(1 << exp).min(ceiling)
    }

    /// Records a success of `key` (the next failure starts from the base again).
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("backoff lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_and_resets_on_success() {
        let b = Backoff::default();
        let ceiling = Duration::from_secs(10);
        let got: Vec<u64> = (0..6).map(|_| b.failed("a", ceiling).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.failed("other", ceiling), Duration::from_secs(1));
        b.succeeded("a");
        assert_eq!(b.failed("a", ceiling), Duration::from_secs(1));
    }
}
