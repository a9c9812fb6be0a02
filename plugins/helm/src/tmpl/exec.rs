//! Executes parsed templates with Go text/template semantics.

use super::parse::{Arg, Cmd, Node, Pipe, Pos};
use crate::value::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A template body and the file it came from.
#[derive(Debug, Clone)]
pub struct Tmpl {
    /// Body.
    pub nodes: Rc<Vec<Node>>,
    /// Name of the template file that defined it (for error positions).
    pub file: Rc<str>,
}

/// An execution error, already formatted the way Go does.
#[derive(Debug, Clone)]
pub struct ExecError {
    /// Full message.
    pub msg: String,
    /// Whether it came from `fail`/`required` (Helm formats those differently).
    pub user: bool,
}

/// Control flow out of a list.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// Hard limits protecting the sandbox.
pub const MAX_OUTPUT: usize = 64 << 20;
/// Maximum nesting of template/include calls.
pub const MAX_DEPTH: usize = 200;
/// Maximum number of range iterations in one render.
pub const MAX_STEPS: u64 = 50_000_000;

/// Shared, mutable template namespace.
pub struct Templates {
    /// Templates by name.
    pub map: RefCell<HashMap<String, Tmpl>>,
}

/// Execution state.
pub struct Exec<'a> {
    /// Templates.
    pub tmpls: &'a Templates,
    /// Helm context for functions.
    pub helm: &'a crate::render::HelmCtx,
    /// Output buffer.
    pub out: String,
    vars: Vec<(String, Value)>,
    /// Nesting depth of template/include/tpl.
    pub depth: usize,
    /// Name of the template being executed (top-level file).
    pub name: Rc<str>,
    /// The file of the innermost template (for positions).
    pub file: Rc<str>,
    /// Per-name include counters (Helm's recursion guard).
    pub include_counts: HashMap<String, usize>,
    steps: u64,
    cur_pos: Pos,
    cur_cmd: Rc<str>,
    /// The field chain being evaluated, if any (rendered into errors only when needed).
    cur_field: Option<(Rc<str>, Rc<[String]>)>,
}

type R<T> = Result<T, ExecError>;

impl<'a> Exec<'a> {
    /// A new executor for the template `name`.
    pub fn new(tmpls: &'a Templates, helm: &'a crate::render::HelmCtx, name: &str) -> Self {
        Exec {
            tmpls,
            helm,
            out: String::new(),
            vars: Vec::new(),
            depth: 0,
            name: Rc::from(name),
            file: Rc::from(name),
            include_counts: HashMap::new(),
            steps: 0,
            cur_pos: Pos::default(),
            cur_cmd: Rc::from(""),
            cur_field: None,
        }
    }

    /// Formats an error at the current position.
    pub fn error(&self, msg: impl std::fmt::Display) -> ExecError {
        ExecError {
            msg: format!(
                "template: {}:{}:{}: executing \"{}\" at <{}>: {}",
                self.file,
                self.cur_pos.line,
                self.cur_pos.col,
                self.name,
                match &self.cur_field {
                    Some((var, path)) => {
                        let mut t = var.to_string();
                        for p in path.iter() {
                            t.push('.');
                            t.push_str(p);
                        }
                        t
                    }
                    None => self.cur_cmd.to_string(),
                },
                msg
            ),
            user: false,
        }
    }

    /// Position string `file:line:col` of the current command.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.cur_pos.line, self.cur_pos.col)
    }

    /// Executes the named template with `dot`, appending to the output.
    pub fn exec_template(&mut self, name: &str, dot: Value) -> R<()> {
        let t = self.tmpls.map.borrow().get(name).cloned();
        let Some(t) = t else {
            return Err(self.error(format!("template {name:?} not defined")));
        };
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), dot.clone())]);
        let saved_file = std::mem::replace(&mut self.file, t.file.clone());
        let saved_pos = self.cur_pos;
        let saved_cmd = self.cur_cmd.clone();
        let r = self.walk_list(&t.nodes, &dot);
        self.vars = saved_vars;
        self.file = saved_file;
        self.cur_pos = saved_pos;
        self.cur_cmd = saved_cmd;
        self.cur_field = None;
        self.depth -= 1;
        r.map(|_| ())
    }

    /// Runs `nodes` as a fresh top-level template.
    pub fn run_nodes(&mut self, nodes: &[Node], dot: &Value) -> R<()> {
        let saved = std::mem::replace(&mut self.vars, vec![("$".into(), dot.clone())]);
        let r = self.walk_list(nodes, dot);
        self.vars = saved;
        r.map(|_| ())
    }

    fn write(&mut self, s: &str) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(self.error("rendered output exceeds the size limit"));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, nodes: &[Node], dot: &Value) -> R<Flow> {
        for n in nodes {
            match self.walk(n, dot)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.error("template execution exceeds the step limit"));
        }
        Ok(())
    }

    fn walk(&mut self, n: &Node, dot: &Value) -> R<Flow> {
        match n {
            Node::Text(t) => {
                self.write(t)?;
            }
            Node::Action(pos, pipe) => {
                self.cur_pos = *pos;
                let v = self.eval_pipe(dot, pipe)?;
                if pipe.decl.is_empty() {
                    let s = print_value(&v);
                    self.write(&s)?;
                }
            }
            Node::If(pos, pipe, body, els) | Node::With(pos, pipe, body, els) => {
                self.cur_pos = *pos;
                let mark = self.vars.len();
                let v = self.eval_pipe(dot, pipe)?;
                let r = if v.truthy() {
                    let d = if matches!(n, Node::With(..)) {
                        v
                    } else {
                        dot.clone()
                    };
                    self.walk_list(body, &d)
                } else if let Some(e) = els {
                    self.walk_list(e, dot)
                } else {
                    Ok(Flow::Normal)
                };
                self.vars.truncate(mark);
                return r;
            }
            Node::Range(pos, pipe, body, els) => {
                self.cur_pos = *pos;
                let mark = self.vars.len();
                // Evaluate without declaring: range declares per iteration.
                let plain = Pipe {
                    decl: vec![],
                    is_assign: false,
                    cmds: pipe.cmds.clone(),
                    text: pipe.text.clone(),
                };
                let v = self.eval_pipe(dot, &plain)?;
                let items: Vec<(Value, Value)> = match &v {
                    Value::List(l) => l
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (Value::Int(i as i64), x.clone()))
                        .collect(),
                    Value::ApiVersions(l) => l
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (Value::Int(i as i64), Value::str(x)))
                        .collect(),
                    Value::Bytes(b) => b
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (Value::Int(i as i64), Value::Int(*x as i64)))
                        .collect(),
                    Value::Map(m) => m
                        .borrow()
                        .iter()
                        .map(|(k, x)| (Value::str(k), x.clone()))
                        .collect(),
                    Value::Files(f) => f
                        .iter()
                        .map(|(k, x)| (Value::str(k), Value::Bytes(Rc::new(x.to_vec()))))
                        .collect(),
                    Value::Int(n) => {
                        if *n as u64 > MAX_STEPS {
                            return Err(self.error("range exceeds the step limit"));
                        }
                        (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect()
                    }
                    Value::Nil => Vec::new(),
                    other => {
                        return Err(
                            self.error(format!("range can't iterate over {}", other.to_v()))
                        );
                    }
                };
                if items.is_empty() {
                    let r = if let Some(e) = els {
                        self.walk_list(e, dot)
                    } else {
                        Ok(Flow::Normal)
                    };
                    self.vars.truncate(mark);
                    return r.map(|_| Flow::Normal);
                }
                for (k, x) in items {
                    self.step()?;
                    match pipe.decl.len() {
                        0 => {}
                        1 => self.set_or_push(&pipe.decl[0], x.clone(), pipe.is_assign),
                        _ => {
                            self.set_or_push(&pipe.decl[0], k, pipe.is_assign);
                            self.set_or_push(&pipe.decl[1], x.clone(), pipe.is_assign);
                        }
                    }
                    let inner = self.vars.len();
                    let f = self.walk_list(body, &x)?;
                    self.vars.truncate(inner);
                    if pipe.is_assign {
                        // assigned vars live outside
                    } else {
                        self.vars.truncate(mark);
                    }
                    if matches!(f, Flow::Break) {
                        break;
                    }
                }
                self.vars.truncate(mark);
            }
            Node::Template(pos, name, pipe) => {
                self.cur_pos = *pos;
                let d = match pipe {
                    Some(p) => self.eval_pipe(dot, p)?,
                    None => Value::Nil,
                };
                self.cur_pos = *pos;
                self.cur_cmd = Rc::from(
                    format!(
                        "{{{{template {name:?}{}}}}}",
                        pipe.as_ref()
                            .map(|p| format!(" {}", p.text))
                            .unwrap_or_default()
                    )
                    .as_str(),
                );
                self.cur_field = None;
                self.exec_template(name, d)?;
            }
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn set_or_push(&mut self, name: &str, v: Value, assign: bool) {
        if assign && let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
            return;
        }
        self.vars.push((name.to_string(), v));
    }

    fn var(&self, name: &str) -> R<Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.error(format!("undefined variable: {name}")))
    }

    /// Evaluates a pipeline, declaring its variables.
    pub fn eval_pipe(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let mut val: Option<Value> = None;
        for c in &pipe.cmds {
            val = Some(self.eval_cmd(dot, c, val)?);
        }
        let v = val.unwrap_or_default();
        for d in &pipe.decl {
            self.set_or_push(d, v.clone(), pipe.is_assign);
        }
        Ok(v)
    }

    fn eval_cmd(&mut self, dot: &Value, cmd: &Cmd, fin: Option<Value>) -> R<Value> {
        self.cur_cmd = cmd.text.clone();
        self.cur_field = None;
        self.cur_pos = cmd.pos;
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        match first {
            Arg::Field(path, pos) => {
                let args = self.eval_args(dot, rest, fin)?;
                self.at_field(*pos, &empty_var(), path);
                self.field_chain(dot.clone(), path, args)
            }
            Arg::Var(name, path, pos) => {
                let v = self.var(name)?;
                if path.is_empty() {
                    if !rest.is_empty() || fin.is_some() {
                        return Err(
                            self.error(format!("can't give argument to non-function {name}"))
                        );
                    }
                    return Ok(v);
                }
                let args = self.eval_args(dot, rest, fin)?;
                self.at_field(*pos, name, path);
                self.field_chain(v, path, args)
            }
            Arg::Chain(base, path, pos) => {
                let v = self.eval_arg(dot, base)?;
                let args = self.eval_args(dot, rest, fin)?;
                self.cur_cmd = cmd.text.clone();
                self.cur_field = None;
                self.cur_pos = *pos;
                self.field_chain(v, path, args)
            }
            Arg::Ident(name) => {
                let name = name.as_str();
                if name == "and" || name == "or" {
                    let mut last = Value::Nil;
                    let n = rest.len() + usize::from(fin.is_some());
                    if n == 0 {
                        return Err(self.error(format!(
                            "wrong number of args for {name}: want at least 1 got 0"
                        )));
                    }
                    for a in rest {
                        last = self.eval_arg(dot, a)?;
                        if (name == "and") != last.truthy() {
                            return Ok(last);
                        }
                    }
                    if let Some(f) = fin {
                        last = f;
                    }
                    return Ok(last);
                }
                let args = self.eval_args(dot, rest, fin)?;
                self.cur_cmd = cmd.text.clone();
                self.cur_field = None;
                self.cur_pos = cmd.pos;
                crate::funcs::call(self, name, args, dot)
            }
            Arg::Pipe(p) => {
                if !rest.is_empty() || fin.is_some() {
                    return Err(self.error("can't give argument to non-function"));
                }
                let mark = self.vars.len();
                let v = self.eval_pipe(dot, p)?;
                self.vars.truncate(mark);
                Ok(v)
            }
            Arg::Nil => Err(self.error("nil is not a command")),
            lit => {
                if !rest.is_empty() || fin.is_some() {
                    return Err(self.error(format!(
                        "can't give argument to non-function {}",
                        cmd.args[0].describe()
                    )));
                }
                self.eval_arg(dot, lit)
            }
        }
    }

    fn eval_args(&mut self, dot: &Value, args: &[Arg], fin: Option<Value>) -> R<Vec<Value>> {
        let mut out = Vec::with_capacity(args.len() + 1);
        for a in args {
            out.push(self.eval_arg(dot, a)?);
        }
        if let Some(f) = fin {
            out.push(f);
        }
        Ok(out)
    }

    fn eval_arg(&mut self, dot: &Value, a: &Arg) -> R<Value> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Int(i) => Value::Int(*i),
            Arg::Float(f) => Value::Float(*f),
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Field(path, pos) => {
                let (sp, sf) = (self.cur_pos, self.cur_field.take());
                self.at_field(*pos, &empty_var(), path);
                let v = self.field_chain(dot.clone(), path, vec![])?;
                (self.cur_pos, self.cur_field) = (sp, sf);
                v
            }
            Arg::Var(name, path, pos) => {
                let v = self.var(name)?;
                if path.is_empty() {
                    v
                } else {
                    let (sp, sf) = (self.cur_pos, self.cur_field.take());
                    self.at_field(*pos, name, path);
                    let v = self.field_chain(v, path, vec![])?;
                    (self.cur_pos, self.cur_field) = (sp, sf);
                    v
                }
            }
            Arg::Ident(name) => {
                if name == "and" || name == "or" {
                    return Err(self.error(format!(
                        "wrong number of args for {name}: want at least 1 got 0"
                    )));
                }
                crate::funcs::call(self, name, vec![], dot)?
            }
            Arg::Pipe(p) => {
                let mark = self.vars.len();
                let saved = self.cur_cmd.clone();
                let v = self.eval_pipe(dot, p)?;
                self.cur_cmd = saved;
                self.cur_field = None;
                self.vars.truncate(mark);
                v
            }
            Arg::Chain(base, path, _) => {
                let v = self.eval_arg(dot, base)?;
                self.field_chain(v, path, vec![])?
            }
        })
    }

    fn at_field(&mut self, pos: Pos, var: &Rc<str>, path: &Rc<[String]>) {
        self.cur_pos = pos;
        self.cur_field = Some((var.clone(), path.clone()));
    }

    fn field_chain(&mut self, mut v: Value, path: &[String], args: Vec<Value>) -> R<Value> {
        let n = path.len();
        let mut args = Some(args);
        // A nil receiver at the start of a chain (an unwrapped nil interface) yields nil, as in Go;
        // only a nil found inside the chain is a nil-pointer error.
        if v.is_nil() {
            return Ok(Value::Nil);
        }
        for (i, f) in path.iter().enumerate() {
            let a = if i == n - 1 {
                args.take().unwrap_or_default()
            } else {
                vec![]
            };
            v = self.field(v, f, a)?;
        }
        Ok(v)
    }

    fn field(&mut self, recv: Value, name: &str, args: Vec<Value>) -> R<Value> {
        match &recv {
            Value::Map(m) => {
                if !args.is_empty() {
                    return Err(self.error(format!("{name} is not a method but has arguments")));
                }
                Ok(m.borrow().get(name).cloned().unwrap_or(Value::Nil))
            }
            Value::Struct(s) => {
                if let Some(v) = s.fields.get(name) {
                    if !args.is_empty() {
                        return Err(self.error(format!("{name} is not a method but has arguments")));
                    }
                    return Ok(v.clone());
                }
                if name == "String" {
                    return Ok(Value::str(recv.to_v()));
                }
                Err(self.error(format!(
                    "can't evaluate field {name} in type {}",
                    s.type_name
                )))
            }
            Value::Files(f) => crate::files::method(f, name, &args).map_err(|e| self.error(e)),
            Value::ApiVersions(v) => match name {
                "Has" => {
                    let a = args.first().and_then(|x| x.as_str()).unwrap_or("");
                    Ok(Value::Bool(v.iter().any(|x| x == a)))
                }
                _ => Err(self.error(format!(
                    "can't evaluate field {name} in type chartutil.VersionSet"
                ))),
            },
            Value::Nil => Err(self.error(format!("nil pointer evaluating interface {{}}.{name}"))),
            other => Err(self.error(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            ))),
        }
    }
}

impl Arg {
    fn describe(&self) -> String {
        match self {
            Arg::Int(i) => i.to_string(),
            Arg::Float(f) => f.to_string(),
            Arg::Str(s) => format!("{s:?}"),
            Arg::Bool(b) => b.to_string(),
            Arg::Nil => "nil".into(),
            Arg::Dot => ".".into(),
            _ => String::new(),
        }
    }
}

fn empty_var() -> Rc<str> {
    thread_local! {
        static EMPTY: Rc<str> = Rc::from("");
    }
    EMPTY.with(|e| e.clone())
}

/// How an action prints a value.
pub fn print_value(v: &Value) -> String {
    match v {
        Value::Nil => "<no value>".into(),
        // Printed through an addressable field, KubeVersion's pointer-receiver String() applies.
        Value::Struct(s) if s.type_name == "chartutil.KubeVersion" => s
            .fields
            .get("Version")
            .map(|v| v.to_v())
            .unwrap_or_default(),
        other => other.to_v(),
    }
}

/// Builds a map value from pairs.
pub fn map_of(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::map(m)
}
