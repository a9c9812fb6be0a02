//! Helm's `.Files` object.

use crate::value::{Map, Value};
use std::collections::BTreeMap;
use std::rc::Rc;

/// The non-template files of a chart, by path relative to the chart root.
#[derive(Debug, Default, Clone)]
pub struct Files {
    /// Contents by path.
    pub entries: BTreeMap<String, Rc<Vec<u8>>>,
}

impl Files {
    /// Number of files.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Sorted iteration.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Rc<Vec<u8>>)> {
        self.entries.iter()
    }
}

fn base(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Calls a method of `.Files`.
pub fn method(f: &Files, name: &str, args: &[Value]) -> Result<Value, String> {
    let arg = |i: usize| -> Result<String, String> {
        match args.get(i) {
            Some(Value::Str(s)) => Ok(s.to_string()),
            Some(v) => Err(format!(
                "wrong type for value; expected string; got {}",
                v.type_name()
            )),
            None => Err(format!(
                "wrong number of args for {name}: want 1 got {}",
                args.len()
            )),
        }
    };
    match name {
        "Get" => {
            let p = arg(0)?;
            Ok(Value::str(
                f.entries
                    .get(&p)
                    .map(|d| String::from_utf8_lossy(d).into_owned())
                    .unwrap_or_default(),
            ))
        }
        "GetBytes" => {
            let p = arg(0)?;
            Ok(Value::Bytes(f.entries.get(&p).cloned().unwrap_or_default()))
        }
        "Glob" => {
            let p = arg(0)?;
            let re = glob_regex(&p);
            let mut out = Files::default();
            for (k, v) in &f.entries {
                if re.as_ref().is_some_and(|r| r.is_match(k)) {
                    out.entries.insert(k.clone(), v.clone());
                }
            }
            Ok(Value::Files(Rc::new(out)))
        }
        "Lines" => {
            let p = arg(0)?;
            match f.entries.get(&p) {
                None => Ok(Value::List(Rc::new(vec![]))),
                Some(d) => {
                    let mut s = String::from_utf8_lossy(d).into_owned();
                    if s.ends_with('\n') {
                        s.pop();
                    }
                    Ok(Value::List(Rc::new(
                        s.split('\n').map(Value::str).collect(),
                    )))
                }
            }
        }
        "AsConfig" | "AsSecrets" => {
            if f.entries.is_empty() {
                return Ok(Value::str(""));
            }
            let mut m = Map::new();
            for (k, v) in &f.entries {
                let val = if name == "AsConfig" {
                    String::from_utf8_lossy(v).into_owned()
                } else {
                    crate::funcs::b64enc(v)
                };
                m.insert(base(k).to_string(), Value::str(val));
            }
            let y = crate::yaml::to_yaml(&Value::map(m));
            Ok(Value::str(y.strip_suffix('\n').unwrap_or(&y)))
        }
        _ => Err(format!("can't evaluate field {name} in type chart.Files")),
    }
}

/// Compiles a gobwas-style glob (`/` separator, `**` crosses it) into a regex.
pub fn glob_regex(p: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    let cs: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        match c {
            '*' => {
                if cs.get(i + 1) == Some(&'*') {
                    re.push_str(".*");
                    i += 1;
                } else {
                    re.push_str("[^/]*");
                }
            }
            '?' => re.push_str("[^/]"),
            '[' => {
                let mut j = i + 1;
                let mut cls = String::from("[");
                if cs.get(j) == Some(&'!') {
                    cls.push('^');
                    j += 1;
                }
                while j < cs.len() && cs[j] != ']' {
                    if cs[j] == '\\' {
                        cls.push('\\');
                    }
                    cls.push(cs[j]);
                    j += 1;
                }
                cls.push(']');
                re.push_str(&cls);
                i = j;
            }
            '{' => {
                let mut j = i + 1;
                let mut alts = String::from("(?:");
                while j < cs.len() && cs[j] != '}' {
                    if cs[j] == ',' {
                        alts.push('|');
                    } else if cs[j] == '*' {
                        alts.push_str("[^/]*");
                    } else {
                        alts.push_str(&regex::escape(&cs[j].to_string()));
                    }
                    j += 1;
                }
                alts.push(')');
                re.push_str(&alts);
                i = j;
            }
            '\\' => {
                i += 1;
                if let Some(n) = cs.get(i) {
                    re.push_str(&regex::escape(&n.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    re.push('$');
    crate::funcs::cached_regex(&re).ok()
}
