//! Fault injection: per-verb/per-resource latency, error responses and dropped watches.

use std::time::Duration;

use crate::status::ApiError;

/// One fault rule. Fields left `None` match everything.
#[derive(Debug, Clone, Default)]
pub struct FaultRule {
    /// Verb to match (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, …).
    pub verb: Option<String>,
    /// Resource to match: plural (`configmaps`) or kind (`ConfigMap`), case-insensitive.
    pub resource: Option<String>,
    /// Delay before answering.
    pub latency: Option<Duration>,
    /// Answer with this status instead (500, 429, 409, 503).
    pub error: Option<u16>,
    /// How many requests this rule applies to; `None` = unlimited.
    pub times: Option<u32>,
    /// For watches: close the stream this long after it starts.
    pub drop_watch_after: Option<Duration>,
}

impl FaultRule {
    /// A rule answering with an error code.
    pub fn error(code: u16) -> FaultRule {
        FaultRule {
            error: Some(code),
            ..Default::default()
        }
    }

    /// A rule adding latency.
    pub fn latency(d: Duration) -> FaultRule {
        FaultRule {
            latency: Some(d),
            ..Default::default()
        }
    }

    /// A rule closing matching watch streams `d` after they start (clients see the
    /// connection end and must re-watch).
    pub fn drop_watch_after(d: Duration) -> FaultRule {
        FaultRule {
            verb: Some("watch".into()),
            drop_watch_after: Some(d),
            ..Default::default()
        }
    }

    /// Restricts the rule to a verb.
    pub fn on_verb(mut self, verb: &str) -> FaultRule {
        self.verb = Some(verb.into());
        self
    }

    /// Restricts the rule to a resource (plural or kind).
    pub fn on_resource(mut self, resource: &str) -> FaultRule {
        self.resource = Some(resource.into());
        self
    }

    /// Applies the rule to the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> FaultRule {
        self.times = Some(n);
        self
    }
}

/// The active rules.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<FaultRule>,
}

/// What to do to a request.
pub struct Verdict {
    /// Sleep this long first.
    pub latency: Option<Duration>,
    /// Then fail with this.
    pub error: Option<ApiError>,
    /// For watches: end the stream after this long.
    pub drop_watch_after: Option<Duration>,
}

impl Faults {
    /// Adds a rule.
    pub fn add(&mut self, r: FaultRule) {
        self.rules.push(r);
    }

    /// Removes all rules.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Matches a request against the rules (consuming `times`).
    pub fn check(
        &mut self,
        verb: &str,
        group: &str,
        plural: &str,
        kind: &str,
        name: &str,
    ) -> Verdict {
        let mut v = Verdict {
            latency: None,
            error: None,
            drop_watch_after: None,
        };
        for r in self.rules.iter_mut() {
            if r.times == Some(0) {
                continue;
            }
            if r.verb.as_deref().is_some_and(|x| x != verb) {
                continue;
            }
            if r.resource
                .as_deref()
                .is_some_and(|x| !x.eq_ignore_ascii_case(plural) && !x.eq_ignore_ascii_case(kind))
            {
                continue;
            }
            if let Some(t) = r.times.as_mut() {
                *t -= 1;
            }
            if let Some(d) = r.drop_watch_after {
                v.drop_watch_after = Some(v.drop_watch_after.map_or(d, |x| x.min(d)));
            }
            if let Some(l) = r.latency {
                v.latency = Some(v.latency.unwrap_or_default() + l);
            }
            if let Some(code) = r.error
                && v.error.is_none()
            {
                v.error = Some(match code {
                    429 => ApiError::too_many_requests(1),
                    409 => ApiError::conflict(group, plural, name),
                    503 => ApiError {
                        code: 503,
                        reason: "ServiceUnavailable",
                        message: "the server is currently unable to handle the request".into(),
                        details: None,
                        retry_after: None,
                    },
                    _ => ApiError::internal("injected fault"),
                });
            }
        }
        self.rules.retain(|r| r.times != Some(0));
        v
    }
}
