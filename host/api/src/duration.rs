//! Flux durations: Go duration strings ("1m30s", "10m", "1h") as they appear on the wire.
//!
//! Flux fields such as `interval`, `timeout` and `retryInterval` are Go `metav1.Duration`s,
//! written as Go duration strings. [`Duration`] parses them into a [`std::time::Duration`]
//! and keeps the original text, so an object read and written back is byte-for-byte the
//! same on the wire (`90s` stays `90s`, it is not rewritten to `1m30s`).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The pattern Flux's CRDs put on duration fields.
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The string was empty.
    #[error("invalid duration \"\": empty string")]
    Empty,
    /// The string was not a sequence of `<number><unit>` terms.
    #[error("invalid duration {input:?}: expected terms like 10m, 1h30m or 1.5s")]
    Malformed {
        /// The rejected input.
        input: String,
    },
    /// A number had no unit after it (only a bare `0` may omit the unit).
    #[error("invalid duration {input:?}: missing unit")]
    MissingUnit {
        /// The rejected input.
        input: String,
    },
    /// A unit was not one of `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`.
    #[error("invalid duration {input:?}: unknown unit {unit:?}")]
    UnknownUnit {
        /// The rejected input.
        input: String,
        /// The unit that was not recognised.
        unit: String,
    },
    /// The duration was negative; Flux intervals and timeouts cannot be.
    #[error("invalid duration {input:?}: negative durations are not allowed")]
    Negative {
        /// The rejected input.
        input: String,
    },
    /// The duration does not fit in 64-bit nanoseconds, as in Go.
    #[error("invalid duration {input:?}: out of range")]
    Overflow {
        /// The rejected input.
        input: String,
    },
}

/// A Go duration string and its parsed value.
///
/// Equality compares both the text and the value, so `90s` and `1m30s` are different
/// `Duration`s (they are different on the wire); compare [`Duration::as_std`] to compare
/// lengths of time.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Duration {
    text: String,
    value: StdDuration,
}

impl Duration {
    /// Parses a Go duration string.
    ///
    /// # Errors
    /// Returns [`Error`] when the string is not a non-negative Go duration.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Ok(Duration {
            value: parse_go_duration(text)?,
            text: text.to_owned(),
        })
    }

    /// The duration as a [`std::time::Duration`].
    pub fn as_std(&self) -> StdDuration {
        self.value
    }

    /// The text as written on the wire.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A duration whose wire form is Go's canonical formatting (`5m0s`, `1h0m0s`, `1.5s`).
    pub fn from_std(value: StdDuration) -> Self {
        Duration {
            text: format_go_duration(value),
            value,
        }
    }

    /// A whole number of seconds, written as Go formats it.
    pub fn from_secs(secs: u64) -> Self {
        Self::from_std(StdDuration::from_secs(secs))
    }
}

impl From<StdDuration> for Duration {
    fn from(value: StdDuration) -> Self {
        Self::from_std(value)
    }
}

impl From<Duration> for StdDuration {
    fn from(d: Duration) -> Self {
        d.value
    }
}

impl FromStr for Duration {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Duration({:?})", self.text)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(d)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
        })
    }
}

const NANOS_PER: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),  // µ, MICRO SIGN
    ("\u{3bc}s", 1_000), // μ, GREEK SMALL LETTER MU
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3600 * 1_000_000_000),
];

/// Parses a Go duration string (Go's `time.ParseDuration` grammar) into a std duration.
///
/// Accepts an optional `+` sign, then one or more `<decimal><unit>` terms with units `ns`,
/// `us` (or `µs`), `ms`, `s`, `m`, `h`; a bare `0` is also valid.
///
/// # Errors
/// [`Error`] for anything else, for negative durations, and for values beyond Go's range
/// (about 292 years).
pub fn parse_go_duration(input: &str) -> Result<StdDuration, Error> {
    let malformed = || Error::Malformed {
        input: input.to_owned(),
    };
    let mut s = input;
    if s.is_empty() {
        return Err(Error::Empty);
    }
    let negative = match s.as_bytes()[0] {
        b'-' => {
            s = &s[1..];
            true
        }
        b'+' => {
            s = &s[1..];
            false
        }
        _ => false,
    };
    if s == "0" {
        return Ok(StdDuration::ZERO);
    }
    if s.is_empty() {
        return Err(malformed());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, rest) = s.split_at(int_len);
        s = rest;
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..frac_len];
            s = &rest[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(malformed());
        }
        let unit_len = s
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        if unit.is_empty() {
            return Err(Error::MissingUnit {
                input: input.to_owned(),
            });
        }
        let Some(&(_, per)) = NANOS_PER.iter().find(|(u, _)| *u == unit) else {
            return Err(Error::UnknownUnit {
                input: input.to_owned(),
                unit: unit.to_owned(),
            });
        };
        let overflow = || Error::Overflow {
            input: input.to_owned(),
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut nanos = int.checked_mul(per).ok_or_else(overflow)?;
        // Fractions: like Go, keep precision only down to the nanosecond.
        let mut scale = per;
        for digit in frac_part.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            nanos += u128::from(digit - b'0') * scale;
        }
        total = total.checked_add(nanos).ok_or_else(overflow)?;
        if total > i64::MAX as u128 {
            return Err(overflow());
        }
    }
    if negative && total != 0 {
        return Err(Error::Negative {
            input: input.to_owned(),
        });
    }
    let secs = (total / 1_000_000_000) as u64;
    let nanos = (total % 1_000_000_000) as u32;
    Ok(StdDuration::new(secs, nanos))
}

/// Formats a duration as Go's `time.Duration.String` does: `1h0m0s`, `5m0s`, `1.5s`,
/// `100ms`, `0s`.
pub fn format_go_duration(d: StdDuration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        // Sub-second: one unit with a fraction.
        let (unit, per) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("\u{b5}s", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fraction(nanos, per));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let secs = nanos % 60_000_000_000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", fraction(secs, 1_000_000_000)));
    out
}

/// `value / per` as a decimal without trailing zeros.
fn fraction(value: u128, per: u128) -> String {
    let int = value / per;
    let frac = value % per;
    if frac == 0 {
        return int.to_string();
    }
    let width = per.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> StdDuration {
        StdDuration::from_secs_f64(s)
    }

    #[test]
    fn go_duration_strings_parse_to_the_same_length_of_time_as_in_go() {
        let cases = [
            ("0", secs(0.0)),
            ("0s", secs(0.0)),
            ("30s", secs(30.0)),
            ("1m30s", secs(90.0)),
            ("10m", secs(600.0)),
            ("1h", secs(3600.0)),
            ("2h45m", secs(9900.0)),
            ("1.5h", secs(5400.0)),
            ("100ms", secs(0.1)),
            ("1h0m0s", secs(3600.0)),
            ("+5s", secs(5.0)),
            ("-0", secs(0.0)),
            (".5s", secs(0.5)),
            ("1.s", secs(1.0)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_go_duration(text).unwrap(), want, "{text}");
        }
        assert_eq!(
            parse_go_duration("1us").unwrap(),
            StdDuration::from_micros(1)
        );
        assert_eq!(
            parse_go_duration("3\u{b5}s").unwrap(),
            StdDuration::from_micros(3)
        );
        assert_eq!(
            parse_go_duration("7ns").unwrap(),
            StdDuration::from_nanos(7)
        );
    }

    #[test]
    fn malformed_negative_and_unitless_durations_are_rejected() {
        assert_eq!(parse_go_duration(""), Err(Error::Empty));
        assert!(matches!(
            parse_go_duration("10"),
            Err(Error::MissingUnit { .. })
        ));
        assert!(matches!(
            parse_go_duration("10d"),
            Err(Error::UnknownUnit { unit, .. }) if unit == "d"
        ));
        assert!(matches!(
            parse_go_duration("-5m"),
            Err(Error::Negative { .. })
        ));
        assert!(matches!(
            parse_go_duration("m"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            parse_go_duration("1h 30m"),
            Err(Error::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_go_duration("9999999999h"),
            Err(Error::Overflow { .. })
        ));
    }

    #[test]
    fn std_durations_format_like_go_does() {
        assert_eq!(format_go_duration(secs(0.0)), "0s");
        assert_eq!(format_go_duration(secs(300.0)), "5m0s");
        assert_eq!(format_go_duration(secs(3600.0)), "1h0m0s");
        assert_eq!(format_go_duration(secs(90.0)), "1m30s");
        assert_eq!(format_go_duration(secs(1.5)), "1.5s");
        assert_eq!(format_go_duration(StdDuration::from_millis(100)), "100ms");
        assert_eq!(format_go_duration(StdDuration::from_micros(1500)), "1.5ms");
        assert_eq!(format_go_duration(StdDuration::from_nanos(12)), "12ns");
        assert_eq!(
            format_go_duration(StdDuration::from_secs(26 * 3600 + 3 * 60 + 4)),
            "26h3m4s"
        );
    }

    #[test]
    fn a_duration_keeps_its_wire_text_through_serde() {
        let d: Duration = serde_json::from_str("\"90s\"").unwrap();
        assert_eq!(d.as_std(), secs(90.0));
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"90s\"");
        assert!(serde_json::from_str::<Duration>("\"soon\"").is_err());
        assert_eq!(Duration::from_secs(60).as_str(), "1m0s");
    }
}
