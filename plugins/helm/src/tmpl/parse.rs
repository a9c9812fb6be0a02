//! Lexer and parser for Go's text/template syntax.

use std::rc::Rc;

/// Position of a node: 1-based line and column.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pos {
    /// Line.
    pub line: usize,
    /// Column.
    pub col: usize,
}

/// A parse tree node.
#[derive(Debug, Clone)]
pub enum Node {
    /// Literal text.
    Text(Rc<str>),
    /// `{{pipeline}}`.
    Action(Pos, Pipe),
    /// `{{if}}`.
    If(Pos, Pipe, Vec<Node>, Option<Vec<Node>>),
    /// `{{range}}`.
    Range(Pos, Pipe, Vec<Node>, Option<Vec<Node>>),
    /// `{{with}}`.
    With(Pos, Pipe, Vec<Node>, Option<Vec<Node>>),
    /// `{{template "name" pipeline}}`.
    Template(Pos, String, Option<Pipe>),
    /// `{{break}}`.
    Break(Pos),
    /// `{{continue}}`.
    Continue(Pos),
}

/// A pipeline with optional variable declarations.
#[derive(Debug, Clone)]
pub struct Pipe {
    /// Declared or assigned variables.
    pub decl: Vec<String>,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    /// Commands separated by `|`.
    pub cmds: Vec<Cmd>,
    /// Source text, for error messages.
    pub text: Rc<str>,
}

/// One command of a pipeline.
#[derive(Debug, Clone)]
pub struct Cmd {
    /// Operands; the first is the function/field.
    pub args: Vec<Arg>,
    /// Source text, for error messages.
    pub text: Rc<str>,
    /// Position of the command's first token.
    pub pos: Pos,
}

/// An operand.
#[derive(Debug, Clone)]
pub enum Arg {
    /// `.`
    Dot,
    /// `nil`
    Nil,
    /// `true`/`false`
    Bool(bool),
    /// Integer constant.
    Int(i64),
    /// Float constant.
    Float(f64),
    /// String constant.
    Str(Rc<str>),
    /// `.A.B` (position as Go reports it: the second element of a chain)
    Field(Rc<[String]>, Pos),
    /// `$x.A.B`
    Var(Rc<str>, Rc<[String]>, Pos),
    /// Function name.
    Ident(String),
    /// `(pipeline)`
    Pipe(Box<Pipe>),
    /// `(pipeline).A.B` or `ident.A`
    Chain(Box<Arg>, Vec<String>, Pos),
}

/// A parsed template: its body and any `define`d templates.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The main body.
    pub root: Vec<Node>,
    /// `define`/`block` templates by name.
    pub defines: Vec<(String, Vec<Node>)>,
}

/// A parse error.
#[derive(Debug, Clone)]
pub struct ParseError {
    /// Line of the error.
    pub line: usize,
    /// Message.
    pub msg: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Text(String),
    Open,  // start of action
    Close, // end of action
    Ident(String),
    Field(String, bool), // name, directly attached to previous operand
    Var(String),
    Dot,
    Str(String),
    Num(String),
    Char(i64),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    Eof,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    toks: Vec<(Tok, Pos, usize)>,
    /// Byte offsets where lines start, for O(log n) positions.
    line_starts: Vec<usize>,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Lexer<'a> {
    fn pos_of(&self, off: usize) -> Pos {
        let idx = self
            .line_starts
            .partition_point(|&s| s <= off)
            .saturating_sub(1);
        Pos {
            line: idx + 1,
            col: off - self.line_starts[idx],
        }
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            msg: msg.into(),
        }
    }

    fn push(&mut self, t: Tok, off: usize) {
        let p = self.pos_of(off);
        self.toks.push((t, p, off));
    }

    fn run(mut self) -> Result<Vec<(Tok, Pos, usize)>, ParseError> {
        let bytes = self.src.as_bytes();
        let mut trim_next = false;
        loop {
            let rest = &self.src[self.pos..];
            let next = rest.find("{{");
            let (text_end, has_action) = match next {
                Some(i) => (self.pos + i, true),
                None => (self.src.len(), false),
            };
            let mut text = &self.src[self.pos..text_end];
            if trim_next {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            let mut left_trim = false;
            if has_action {
                let a = text_end + 2;
                if bytes.len() > a + 1 && bytes[a] == b'-' && is_space(bytes[a + 1]) {
                    left_trim = true;
                }
            }
            if left_trim {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                let off = self.pos;
                self.push(Tok::Text(text.to_string()), off);
            }
            if !has_action {
                break;
            }
            self.line = self.pos_of(text_end).line;
            let mut p = text_end + 2;
            if left_trim {
                p += 2;
            }
            // Comment?
            let after_ws = p;
            if self.src[after_ws..].starts_with("/*") {
                let end = self.src[after_ws..]
                    .find("*/")
                    .ok_or_else(|| self.err("unclosed comment"))?
                    + after_ws
                    + 2;
                let mut q = end;
                let mut rtrim = false;
                if self.src[q..].starts_with(" -}}")
                    || self.src[q..].starts_with("\n-}}")
                    || self.src[q..].starts_with("\t-}}")
                {
                    rtrim = true;
                    q += 4;
                } else if self.src[q..].starts_with("}}") {
                    q += 2;
                } else {
                    return Err(self.err("comment ends before closing delimiter"));
                }
                trim_next = rtrim;
                self.pos = q;
                continue;
            }
            self.push(Tok::Open, text_end);
            self.pos = p;
            trim_next = self.lex_action()?;
        }
        let off = self.src.len();
        self.push(Tok::Eof, off);
        Ok(self.toks)
    }

    /// Lexes inside an action; returns whether the close had a trim marker.
    fn lex_action(&mut self) -> Result<bool, ParseError> {
        let b = self.src.as_bytes();
        let mut attached = false;
        let mut paren_depth = 0i32;
        loop {
            if self.pos >= b.len() {
                return Err(self.err("unclosed action"));
            }
            let c = b[self.pos];
            if is_space(c) {
                let mut q = self.pos;
                while q < b.len() && is_space(b[q]) {
                    q += 1;
                }
                if self.src[q..].starts_with("-}}") {
                    let off = q;
                    self.push(Tok::Close, off);
                    self.pos = q + 3;
                    return Ok(true);
                }
                self.pos = q;
                attached = false;
                continue;
            }
            if self.src[self.pos..].starts_with("}}") {
                let off = self.pos;
                self.push(Tok::Close, off);
                self.pos += 2;
                return Ok(false);
            }
            let start = self.pos;
            match c {
                b'|' => {
                    self.push(Tok::Pipe, start);
                    self.pos += 1;
                    attached = false;
                }
                b'(' => {
                    self.push(Tok::LParen, start);
                    self.pos += 1;
                    paren_depth += 1;
                    attached = false;
                }
                b')' => {
                    self.push(Tok::RParen, start);
                    self.pos += 1;
                    paren_depth -= 1;
                    attached = true;
                }
                b',' => {
                    self.push(Tok::Comma, start);
                    self.pos += 1;
                    attached = false;
                }
                b':' => {
                    if b.get(self.pos + 1) == Some(&b'=') {
                        self.push(Tok::Declare, start);
                        self.pos += 2;
                    } else {
                        return Err(self.err("expected :="));
                    }
                    attached = false;
                }
                b'=' => {
                    self.push(Tok::Assign, start);
                    self.pos += 1;
                    attached = false;
                }
                b'"' => {
                    let mut q = self.pos + 1;
                    let mut s = String::new();
                    loop {
                        if q >= b.len() || b[q] == b'\n' {
                            return Err(self.err("unterminated quoted string"));
                        }
                        let ch = self.src[q..].chars().next().unwrap_or('"');
                        if ch == '"' {
                            q += 1;
                            break;
                        }
                        if ch == '\\' {
                            let (decoded, used) = unescape(&self.src[q..])
                                .ok_or_else(|| self.err("invalid syntax"))?;
                            s.push_str(&decoded);
                            q += used;
                            continue;
                        }
                        s.push(ch);
                        q += ch.len_utf8();
                    }
                    self.push(Tok::Str(s), start);
                    self.pos = q;
                    attached = true;
                }
                b'`' => {
                    let end = self.src[self.pos + 1..]
                        .find('`')
                        .ok_or_else(|| self.err("unterminated raw quoted string"))?;
                    let s = self.src[self.pos + 1..self.pos + 1 + end].replace('\r', "");
                    self.push(Tok::Str(s), start);
                    self.pos += end + 2;
                    attached = true;
                }
                b'\'' => {
                    let mut q = self.pos + 1;
                    let ch = self.src[q..]
                        .chars()
                        .next()
                        .ok_or_else(|| self.err("unterminated character constant"))?;
                    let val = if ch == '\\' {
                        let (d, used) =
                            unescape(&self.src[q..]).ok_or_else(|| self.err("invalid syntax"))?;
                        q += used;
                        d.chars().next().map(|c| c as i64).unwrap_or(0)
                    } else {
                        q += ch.len_utf8();
                        ch as i64
                    };
                    if b.get(q) != Some(&b'\'') {
                        return Err(self.err("unterminated character constant"));
                    }
                    self.push(Tok::Char(val), start);
                    self.pos = q + 1;
                    attached = true;
                }
                b'$' => {
                    let mut q = self.pos + 1;
                    while q < b.len()
                        && (b[q].is_ascii_alphanumeric() || b[q] == b'_' || b[q] >= 0x80)
                    {
                        q += 1;
                    }
                    self.push(Tok::Var(self.src[self.pos..q].to_string()), start);
                    self.pos = q;
                    attached = true;
                }
                b'.' => {
                    let n = b.get(self.pos + 1).copied().unwrap_or(b' ');
                    if n.is_ascii_digit() {
                        self.lex_number()?;
                        attached = true;
                    } else if n.is_ascii_alphabetic() || n == b'_' || n >= 0x80 {
                        let mut q = self.pos + 1;
                        while q < b.len()
                            && (b[q].is_ascii_alphanumeric() || b[q] == b'_' || b[q] >= 0x80)
                        {
                            q += 1;
                        }
                        self.push(
                            Tok::Field(self.src[self.pos + 1..q].to_string(), attached),
                            start,
                        );
                        self.pos = q;
                        attached = true;
                    } else {
                        self.push(Tok::Dot, start);
                        self.pos += 1;
                        attached = true;
                    }
                }
                b'0'..=b'9' | b'+' | b'-' => {
                    self.lex_number()?;
                    attached = true;
                }
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let mut q = self.pos;
                    while q < b.len()
                        && (b[q].is_ascii_alphanumeric() || b[q] == b'_' || b[q] >= 0x80)
                    {
                        q += 1;
                    }
                    self.push(Tok::Ident(self.src[self.pos..q].to_string()), start);
                    self.pos = q;
                    attached = true;
                }
                _ => {
                    let ch = self.src[self.pos..].chars().next().unwrap_or('?');
                    return Err(self.err(format!("unexpected {ch:?} in command")));
                }
            }
            let _ = paren_depth;
        }
    }

    fn lex_number(&mut self) -> Result<(), ParseError> {
        let b = self.src.as_bytes();
        let start = self.pos;
        let mut q = self.pos;
        if b[q] == b'+' || b[q] == b'-' {
            q += 1;
        }
        while q < b.len()
            && (b[q].is_ascii_alphanumeric()
                || b[q] == b'.'
                || b[q] == b'_'
                || ((b[q] == b'+' || b[q] == b'-')
                    && matches!(b[q - 1], b'e' | b'E' | b'p' | b'P')))
        {
            q += 1;
        }
        let s = &self.src[start..q];
        if s == "+" || s == "-" {
            return Err(self.err(format!("bad number syntax: {s:?}")));
        }
        self.push(Tok::Num(s.to_string()), start);
        self.pos = q;
        Ok(())
    }
}

fn unescape(s: &str) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.len() < 2 {
        return None;
    }
    let r = match b[1] {
        b'n' => ("\n".into(), 2),
        b't' => ("\t".into(), 2),
        b'r' => ("\r".into(), 2),
        b'\\' => ("\\".into(), 2),
        b'"' => ("\"".into(), 2),
        b'\'' => ("'".into(), 2),
        b'a' => ("\u{7}".into(), 2),
        b'b' => ("\u{8}".into(), 2),
        b'f' => ("\u{c}".into(), 2),
        b'v' => ("\u{b}".into(), 2),
        b'x' => {
            let v = u8::from_str_radix(s.get(2..4)?, 16).ok()?;
            (char::from(v).to_string(), 4)
        }
        b'u' => {
            let v = u32::from_str_radix(s.get(2..6)?, 16).ok()?;
            (char::from_u32(v)?.to_string(), 6)
        }
        b'U' => {
            let v = u32::from_str_radix(s.get(2..10)?, 16).ok()?;
            (char::from_u32(v)?.to_string(), 10)
        }
        b'0'..=b'7' => {
            let v = u32::from_str_radix(s.get(1..4)?, 8).ok()?;
            (char::from_u32(v)?.to_string(), 4)
        }
        _ => return None,
    };
    Some(r)
}

/// Parses a number literal as Go's template parser does.
pub fn parse_number(s: &str) -> Option<Arg> {
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let (neg, body) = if let Some(r) = clean.strip_prefix('-') {
        (true, r.to_string())
    } else if let Some(r) = clean.strip_prefix('+') {
        (false, r.to_string())
    } else {
        (false, clean.clone())
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bb) = lower.strip_prefix("0b") {
        i64::from_str_radix(bb, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if lower.bytes().all(|c| c.is_ascii_digit()) {
        lower.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Arg::Int(if neg { -i } else { i }));
    }
    let f: f64 = match lower.strip_prefix("0x") {
        Some(h) => {
            let (mant, exp) = h.split_once('p').unwrap_or((h, "0"));
            let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
            let mut v = 0f64;
            for c in ip.chars().chain(fp.chars()) {
                v = v * 16.0 + c.to_digit(16)? as f64;
            }
            v /= 16f64.powi(fp.len() as i32);
            v * 2f64.powi(exp.parse::<i32>().ok()?)
        }
        None => lower.parse().ok()?,
    };
    let f = if neg { -f } else { f };
    Some(Arg::Float(f))
}

struct Parser<'a> {
    toks: Vec<(Tok, Pos, usize)>,
    i: usize,
    src: &'a str,
    defines: Vec<(String, Vec<Node>)>,
    is_func: &'a dyn Fn(&str) -> bool,
    vars: Vec<String>,
}

enum End {
    Finish,
    Else,
    ElseChain(Pos, String),
    Eof,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }
    fn pos(&self) -> Pos {
        self.toks[self.i].1
    }
    fn next(&mut self) -> Tok {
        // Tokens are consumed once; take them instead of cloning (peek never looks back).
        let t = if self.i < self.toks.len() - 1 {
            std::mem::replace(&mut self.toks[self.i].0, Tok::Eof)
        } else {
            self.toks[self.i].0.clone()
        };
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError {
            line: self.pos().line,
            msg: msg.into(),
        }
    }

    fn list(&mut self, top: bool) -> Result<(Vec<Node>, End), ParseError> {
        let mut nodes = Vec::new();
        loop {
            match self.next() {
                Tok::Eof => {
                    if top {
                        return Ok((nodes, End::Eof));
                    }
                    return Err(self.err("unexpected EOF"));
                }
                Tok::Text(t) => nodes.push(Node::Text(Rc::from(t.as_str()))),
                Tok::Open => {
                    let pos = self.pos();
                    let kw = match self.peek() {
                        Tok::Ident(s) => s.clone(),
                        _ => String::new(),
                    };
                    match kw.as_str() {
                        "end" => {
                            self.next();
                            self.expect_close()?;
                            if top {
                                return Err(self.err("unexpected {{end}}"));
                            }
                            return Ok((nodes, End::Finish));
                        }
                        "else" => {
                            self.next();
                            if top {
                                return Err(self.err("unexpected {{else}}"));
                            }
                            if let Tok::Ident(k) = self.peek().clone()
                                && (k == "if" || k == "with")
                            {
                                self.next();
                                return Ok((nodes, End::ElseChain(pos, k)));
                            }
                            self.expect_close()?;
                            return Ok((nodes, End::Else));
                        }
                        "if" | "range" | "with" => {
                            self.next();
                            nodes.push(self.control(&kw, pos)?);
                        }
                        "define" => {
                            self.next();
                            let name = self.string_arg()?;
                            self.expect_close()?;
                            let saved = std::mem::take(&mut self.vars);
                            let (body, end) = self.list(false)?;
                            self.vars = saved;
                            if !matches!(end, End::Finish) {
                                return Err(self.err("unexpected else in define"));
                            }
                            self.defines.push((name, body));
                        }
                        "block" => {
                            self.next();
                            let pos = self.pos();
                            let name = self.string_arg()?;
                            let pipe = if matches!(self.peek(), Tok::Close) {
                                None
                            } else {
                                Some(self.pipeline(false)?)
                            };
                            self.expect_close()?;
                            let saved = std::mem::take(&mut self.vars);
                            let (body, end) = self.list(false)?;
                            self.vars = saved;
                            if !matches!(end, End::Finish) {
                                return Err(self.err("unexpected else in block"));
                            }
                            self.defines.push((name.clone(), body));
                            nodes.push(Node::Template(pos, name, pipe));
                        }
                        "template" => {
                            self.next();
                            let pos = self.pos();
                            let name = self.string_arg()?;
                            let pipe = if matches!(self.peek(), Tok::Close) {
                                None
                            } else {
                                Some(self.pipeline(false)?)
                            };
                            self.expect_close()?;
                            nodes.push(Node::Template(pos, name, pipe));
                        }
                        "break" | "continue" => {
                            self.next();
                            self.expect_close()?;
                            nodes.push(if kw == "break" {
                                Node::Break(pos)
                            } else {
                                Node::Continue(pos)
                            });
                        }
                        _ => {
                            let p = self.pipeline(true)?;
                            self.expect_close()?;
                            nodes.push(Node::Action(pos, p));
                        }
                    }
                }
                other => return Err(self.err(format!("unexpected {other:?}"))),
            }
        }
    }

    fn control(&mut self, kw: &str, pos: Pos) -> Result<Node, ParseError> {
        let mark = self.vars.len();
        let pipe = self.pipeline(true)?;
        self.expect_close()?;
        let (body, end) = self.list(false)?;
        let else_list = match end {
            End::Finish => None,
            End::Else => {
                let (e, end2) = self.list(false)?;
                if !matches!(end2, End::Finish) {
                    return Err(self.err("expected end; found else"));
                }
                Some(e)
            }
            End::ElseChain(p, k) => {
                let n = self.control(&k, p)?;
                Some(vec![n])
            }
            End::Eof => return Err(self.err("unexpected EOF")),
        };
        self.vars.truncate(mark);
        Ok(match kw {
            "if" => Node::If(pos, pipe, body, else_list),
            "range" => Node::Range(pos, pipe, body, else_list),
            _ => Node::With(pos, pipe, body, else_list),
        })
    }

    fn string_arg(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Tok::Str(s) => Ok(s),
            t => Err(self.err(format!("unexpected {t:?} in template clause"))),
        }
    }

    fn expect_close(&mut self) -> Result<(), ParseError> {
        match self.next() {
            Tok::Close => Ok(()),
            t => Err(self.err(format!("unexpected {} in command", tok_desc(&t)))),
        }
    }

    fn pipeline(&mut self, allow_decl: bool) -> Result<Pipe, ParseError> {
        let start_off = self.toks[self.i].2;
        let mut decl = Vec::new();
        let mut is_assign = false;
        if allow_decl {
            // $x := / $x = / $i, $e :=
            if let Tok::Var(v) = self.peek().clone() {
                let save = self.i;
                self.next();
                match self.peek().clone() {
                    Tok::Declare | Tok::Assign => {
                        is_assign = matches!(self.peek(), Tok::Assign);
                        self.next();
                        decl.push(v);
                    }
                    Tok::Comma => {
                        self.next();
                        if let Tok::Var(v2) = self.next() {
                            match self.next() {
                                Tok::Declare => {}
                                Tok::Assign => is_assign = true,
                                _ => return Err(self.err("expected := after variables")),
                            }
                            decl.push(v);
                            decl.push(v2);
                        } else {
                            return Err(self.err("expected variable after comma"));
                        }
                    }
                    _ => {
                        self.i = save;
                        self.toks[save].0 = Tok::Var(v);
                    }
                }
            }
        }
        for d in &decl {
            if is_assign && !self.vars.iter().any(|v| v == d) && d != "$" {
                return Err(self.err(format!("undefined variable \"{d}\"")));
            }
        }
        let mut cmds = Vec::new();
        loop {
            let c = self.command()?;
            cmds.push(c);
            if matches!(self.peek(), Tok::Pipe) {
                self.next();
                continue;
            }
            break;
        }
        if !is_assign {
            self.vars.extend(decl.iter().cloned());
        }
        let end_off = self.toks[self.i].2;
        let text = self.src[start_off..end_off].trim().to_string();
        Ok(Pipe {
            decl,
            is_assign,
            cmds,
            text: Rc::from(text.as_str()),
        })
    }

    fn command(&mut self) -> Result<Cmd, ParseError> {
        let start_off = self.toks[self.i].2;
        let pos = self.pos();
        let mut args = Vec::new();
        loop {
            match self.peek() {
                Tok::Close | Tok::Pipe | Tok::RParen | Tok::Eof => break,
                _ => {}
            }
            args.push(self.operand()?);
        }
        if args.is_empty() {
            return Err(self.err("missing value for command"));
        }
        let end_off = self.toks[self.i].2;
        let text = self.src[start_off..end_off].trim().to_string();
        Ok(Cmd {
            args,
            text: Rc::from(text.as_str()),
            pos,
        })
    }

    fn operand(&mut self) -> Result<Arg, ParseError> {
        let first_pos = self.pos();
        let t = self.next();
        let base = match t {
            Tok::Dot => Arg::Dot,
            Tok::Str(s) => Arg::Str(Rc::from(s.as_str())),
            Tok::Char(c) => Arg::Int(c),
            Tok::Num(n) => {
                parse_number(&n).ok_or_else(|| self.err(format!("bad number syntax: {n:?}")))?
            }
            Tok::Field(f, _) => {
                let mut path = vec![f];
                let mut pos = first_pos;
                if let Tok::Field(_, true) = self.peek() {
                    pos = self.pos();
                }
                while let Tok::Field(f2, true) = self.peek().clone() {
                    self.next();
                    path.push(f2);
                }
                return Ok(Arg::Field(Rc::from(path), pos));
            }
            Tok::Var(v) => {
                if !self.vars.contains(&v) && v != "$" {
                    return Err(self.err(format!("undefined variable \"{v}\"")));
                }
                let mut path = Vec::new();
                let mut pos = first_pos;
                if let Tok::Field(_, true) = self.peek() {
                    pos = self.pos();
                }
                while let Tok::Field(f2, true) = self.peek().clone() {
                    self.next();
                    path.push(f2);
                }
                return Ok(Arg::Var(Rc::from(v.as_str()), Rc::from(path), pos));
            }
            Tok::Ident(id) => match id.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                _ => {
                    if !(self.is_func)(&id) {
                        return Err(self.err(format!("function \"{id}\" not defined")));
                    }
                    Arg::Ident(id)
                }
            },
            Tok::LParen => {
                let p = self.pipeline(false)?;
                match self.next() {
                    Tok::RParen => {}
                    t => return Err(self.err(format!("unexpected {} in operand", tok_desc(&t)))),
                }
                Arg::Pipe(Box::new(p))
            }
            t => return Err(self.err(format!("unexpected {} in operand", tok_desc(&t)))),
        };
        let mut path = Vec::new();
        let cpos = self.pos();
        while let Tok::Field(f2, true) = self.peek().clone() {
            self.next();
            path.push(f2);
        }
        if path.is_empty() {
            Ok(base)
        } else {
            Ok(Arg::Chain(Box::new(base), path, cpos))
        }
    }
}

fn tok_desc(t: &Tok) -> String {
    match t {
        Tok::Close => "\"}}\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Eof => "EOF".into(),
        Tok::Ident(s) | Tok::Num(s) | Tok::Str(s) | Tok::Var(s) => format!("<{s}>"),
        other => format!("{other:?}"),
    }
}

/// Parses template text; `is_func` says which identifiers are functions.
pub fn parse(src: &str, is_func: &dyn Fn(&str) -> bool) -> Result<Parsed, ParseError> {
    let mut line_starts = vec![0];
    line_starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
    let lx = Lexer {
        src,
        pos: 0,
        line: 1,
        toks: Vec::new(),
        line_starts,
    };
    let toks = lx.run()?;
    let mut p = Parser {
        toks,
        i: 0,
        src,
        defines: Vec::new(),
        is_func,
        vars: vec!["$".into()],
    };
    let (root, _) = p.list(true)?;
    Ok(Parsed {
        root,
        defines: p.defines,
    })
}
