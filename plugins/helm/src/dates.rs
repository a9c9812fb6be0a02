//! Time values and Go layouts for Sprig's date functions.

use crate::value::{Map, Struct, Value};
use std::rc::Rc;

/// The current time (UTC) as a `time.Time`-like struct.
pub fn now() -> Value {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    at(secs, 0, "UTC")
}

/// A time at `secs` since the epoch, shown with `offset` seconds east of UTC.
pub fn at(secs: i64, offset: i64, zone: &str) -> Value {
    let mut f = Map::new();
    f.insert("Unix".into(), Value::Int(secs));
    f.insert("Offset".into(), Value::Int(offset));
    f.insert("Zone".into(), Value::str(zone));
    let display = format_time("2006-01-02 15:04:05 -0700 MST", secs, offset, zone);
    Value::Struct(Rc::new(Struct {
        type_name: "time.Time",
        fields: f,
        display: Some(display),
        json: None,
    }))
}

fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
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
    let wd = (days + 4).rem_euclid(7);
    (
        if m <= 2 { y + 1 } else { y },
        m,
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        wd,
    )
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn parts(v: &Value) -> (i64, i64, String) {
    match v {
        Value::Struct(s) => (
            s.fields.get("Unix").map(crate::funcs::to_i64).unwrap_or(0),
            s.fields
                .get("Offset")
                .map(crate::funcs::to_i64)
                .unwrap_or(0),
            s.fields
                .get("Zone")
                .map(|z| z.strval())
                .unwrap_or_else(|| "UTC".into()),
        ),
        Value::Int(_) | Value::Float(_) => (crate::funcs::to_i64(v), 0, "UTC".into()),
        _ => (0, 0, "UTC".into()),
    }
}

/// Seconds since the epoch of a time value.
pub fn unix(v: &Value) -> i64 {
    parts(v).0
}

/// Re-expresses a time in a zone (`UTC`/`Local` only; both are UTC here).
pub fn in_zone(v: &Value, _zone: &str) -> Value {
    at(parts(v).0, 0, "UTC")
}

/// Formats with a Go layout in the time's own zone.
pub fn format(layout: &str, t: &Value) -> String {
    let (s, o, z) = parts(t);
    format_time(layout, s, o, &z)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn format_time(layout: &str, secs: i64, offset: i64, zone: &str) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs + offset);
    let mut out = String::new();
    let mut rest = layout;
    let off = |colon: bool, z: bool| -> String {
        if z && offset == 0 {
            return "Z".into();
        }
        let sign = if offset < 0 { '-' } else { '+' };
        let a = offset.abs();
        if colon {
            format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
        } else {
            format!("{sign}{:02}{:02}", a / 3600, a % 3600 / 60)
        }
    };
    while !rest.is_empty() {
        let toks: &[(&str, String)] = &[
            ("January", MONTHS[(mo - 1) as usize].to_string()),
            ("Monday", DAYS[wd as usize].to_string()),
            ("2006", format!("{y:04}")),
            ("Z07:00", off(true, true)),
            ("-07:00", off(true, false)),
            ("Z0700", off(false, true)),
            ("-0700", off(false, false)),
            ("MST", zone.to_string()),
            ("Jan", MONTHS[(mo - 1) as usize][..3].to_string()),
            ("Mon", DAYS[wd as usize][..3].to_string()),
            ("01", format!("{mo:02}")),
            ("02", format!("{d:02}")),
            (
                "03",
                format!("{:02}", if h % 12 == 0 { 12 } else { h % 12 }),
            ),
            ("04", format!("{mi:02}")),
            ("05", format!("{s:02}")),
            ("06", format!("{:02}", y % 100)),
            ("15", format!("{h:02}")),
            ("PM", if h >= 12 { "PM".into() } else { "AM".into() }),
            ("pm", if h >= 12 { "pm".into() } else { "am".into() }),
            (".000", ".000".into()),
        ];
        if let Some((t, v)) = toks.iter().find(|(t, _)| rest.starts_with(t)) {
            out.push_str(v);
            rest = &rest[t.len()..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Parses `s` with a Go layout.
pub fn parse(layout: &str, s: &str) -> Result<Value, String> {
    let (mut y, mut mo, mut d, mut h, mut mi, mut se, mut off) =
        (1i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
    let mut l = layout;
    let mut v = s;
    let num = |v: &mut &str, n: usize| -> Result<i64, String> {
        let t = v
            .get(..n)
            .ok_or_else(|| format!("parsing time {s:?}: cannot parse"))?;
        let r = t
            .parse::<i64>()
            .map_err(|_| format!("parsing time {s:?} as {layout:?}: cannot parse {t:?}"))?;
        *v = &v[n..];
        Ok(r)
    };
    while !l.is_empty() {
        if l.starts_with("2006") {
            y = num(&mut v, 4)?;
            l = &l[4..];
        } else if l.starts_with("Z07:00") || l.starts_with("-07:00") {
            if v.starts_with('Z') {
                v = &v[1..];
            } else {
                let sign = if v.starts_with('-') { -1 } else { 1 };
                v = &v[1..];
                let hh = num(&mut v, 2)?;
                v = v.strip_prefix(':').unwrap_or(v);
                let mm = num(&mut v, 2)?;
                off = sign * (hh * 3600 + mm * 60);
            }
            l = &l[6..];
        } else if l.starts_with("MST") {
            let n = v
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(v.len());
            v = &v[n..];
            l = &l[3..];
        } else if let Some(t) = ["01", "02", "15", "04", "05"]
            .iter()
            .find(|t| l.starts_with(**t))
        {
            let n = num(&mut v, 2)?;
            match *t {
                "01" => mo = n,
                "02" => d = n,
                "15" => h = n,
                "04" => mi = n,
                _ => se = n,
            }
            l = &l[2..];
        } else {
            let c = l.chars().next().unwrap_or(' ');
            if !v.starts_with(c) {
                return Err(format!(
                    "parsing time {s:?} as {layout:?}: cannot parse {v:?} as {l:?}"
                ));
            }
            l = &l[c.len_utf8()..];
            v = &v[c.len_utf8()..];
        }
    }
    if !v.is_empty() {
        return Err(format!("parsing time {s:?}: extra text: {v:?}"));
    }
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    Ok(at(secs, off, if off == 0 { "UTC" } else { "" }))
}

/// Applies a Go duration string like `+36h` or `-1h30m`.
pub fn modify(t: &Value, dur: &str) -> Result<Value, String> {
    let (s, o, z) = parts(t);
    let d = parse_duration(dur)?;
    Ok(at(s + d, o, &z))
}

/// Parses a Go duration string into seconds.
pub fn parse_duration(d: &str) -> Result<i64, String> {
    let (sign, mut r) = match d.strip_prefix('-') {
        Some(x) => (-1, x),
        None => (1, d.strip_prefix('+').unwrap_or(d)),
    };
    let mut total = 0f64;
    while !r.is_empty() {
        let n = r
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {d:?}"))?;
        let v: f64 = r[..n]
            .parse()
            .map_err(|_| format!("time: invalid duration {d:?}"))?;
        r = &r[n..];
        let u = r
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(r.len());
        let mult = match &r[..u] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(format!("time: unknown unit in duration {d:?}")),
        };
        total += v * mult;
        r = &r[u..];
    }
    Ok(sign * total as i64)
}
