//! Minimal time support for Sprig's date functions.

use crate::value::{Map, Struct, Value};
use std::rc::Rc;

/// The current time as a `time.Time`-like struct.
pub fn now() -> Value {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    at(secs)
}

fn at(secs: i64) -> Value {
    let mut f = Map::new();
    f.insert("Unix".into(), Value::Int(secs));
    let (y, mo, d, h, mi, s) = civil(secs);
    let display = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} +0000 UTC");
    Value::Struct(Rc::new(Struct { type_name: "time.Time", fields: f, display: Some(display) }))
}

fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Seconds since the epoch of a time value.
pub fn unix(v: &Value) -> i64 {
    match v {
        Value::Struct(s) => s.fields.get("Unix").map(crate::funcs::to_i64).unwrap_or(0),
        other => crate::funcs::to_i64(other),
    }
}

/// Formats with a Go layout.
pub fn format(layout: &str, t: &Value) -> String {
    let (y, mo, d, h, mi, s) = civil(unix(t));
    layout
        .replace("2006", &format!("{y:04}"))
        .replace("01", &format!("{mo:02}"))
        .replace("02", &format!("{d:02}"))
        .replace("15", &format!("{h:02}"))
        .replace("04", &format!("{mi:02}"))
        .replace("05", &format!("{s:02}"))
}

/// Parses a date (only `2006-01-02`-style layouts).
pub fn parse(_layout: &str, s: &str) -> Value {
    let p: Vec<i64> = s.split(|c: char| !c.is_ascii_digit()).filter(|x| !x.is_empty()).filter_map(|x| x.parse().ok()).collect();
    if p.len() < 3 {
        return at(0);
    }
    let (y, m, d) = (p[0], p[1], p[2]);
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    at(days * 86400 + p.get(3).copied().unwrap_or(0) * 3600 + p.get(4).copied().unwrap_or(0) * 60 + p.get(5).copied().unwrap_or(0))
}
