//! Go's `text/template` execution (`exec.go`): pipelines, fields, variables, function calls with Go's
//! argument checks, `if`/`with`/`range`/`template`, and Go's error texts with `NAME:LINE:COL` and the
//! node being evaluated. Output, steps and depth are bounded, and so is every value a function call
//! returns (see [`crate::budget`]).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

use crate::budget::{BudgetGuard, VALUE_BUDGET, value_too_big};
use crate::builtins::{self, Builtin};
use crate::gofmt;
use crate::parse::{Arg, Branch, Command, Node, Pipe, Tree};
use crate::value::{Param, Value};
use crate::{FuncMap, Limits, MissingKey, Template};

/// An allocation's address and a weak reference that keeps it allocated (its contents may go).
fn held<T: Any + Send + Sync>(a: &Arc<T>) -> (usize, Weak<dyn Any + Send + Sync>) {
    let weak: Weak<T> = Arc::downgrade(a);
    (
        Arc::as_ptr(a) as *const () as usize,
        weak as Weak<dyn Any + Send + Sync>,
    )
}

/// The deepest nesting of lists, maps and structs a function may return (deeper values could not be
/// printed on a small stack).
const MAX_VALUE_DEPTH: usize = 1000;

/// Values of fewer nodes are not remembered by size; at most this many are.
const MEMO_MIN_NODES: usize = 64;
const MEMO_MAX_ENTRIES: usize = 4096;

/// Where execution is, for error messages.
#[derive(Clone, Copy)]
enum At<'a> {
    None,
    Arg(&'a Arg),
    Cmd(&'a Command),
    Pipe(&'a Pipe),
    Node(&'a Node),
}

/// An execution error (its full text) or a loop control signal.
pub(crate) enum Stop {
    Err(String),
    Break,
    Continue,
}

type R<T> = Result<T, Stop>;

pub(crate) struct State<'a, 'f> {
    trees: &'a HashMap<String, Arc<Tree>>,
    funcs: &'a FuncMap<'f>,
    missing_key: MissingKey,
    tree: &'a Tree,
    at: At<'a>,
    vars: Vec<(String, Value)>,
    depth: usize,
    pub(crate) out: String,
    steps: u64,
    limits: Limits,
    /// Total string bytes and nesting of large lists, maps and structs functions returned, by address,
    /// so that one is walked once however often functions return it. A weak reference keeps the
    /// allocation (not its contents), so the address stays its own; the table is cleared when full.
    sizes: HashMap<usize, (Weak<dyn Any + Send + Sync>, usize, usize)>,
    /// `html/template` mode: where in the HTML document the output is.
    pub(crate) html: Option<crate::html::Context>,
    /// Text nodes already escaped, by the text's address and the context before it (a text in a
    /// `range` is escaped once, as Go escapes it once when parsing).
    html_texts: HashMap<(usize, crate::html::Context), (crate::html::Context, Arc<str>)>,
}

/// An argument not given (Go's `missingVal`).
type Final = Option<Value>;

impl<'a, 'f> State<'a, 'f> {
    pub(crate) fn new<'s>(
        set: &'a Template<'s>,
        funcs: &'a FuncMap<'f>,
        tree: &'a Tree,
        dot: Value,
        limits: Limits,
    ) -> Self {
        State {
            trees: &set.trees,
            funcs,
            missing_key: set.missing_key,
            tree,
            at: At::None,
            vars: vec![("$".into(), dot)],
            depth: 0,
            out: String::new(),
            steps: 0,
            limits,
            sizes: HashMap::new(),
            html: None,
            html_texts: HashMap::new(),
        }
    }

    pub(crate) fn run(&mut self, dot: &Value) -> Result<(), String> {
        let tree = self.tree;
        let _budget = BudgetGuard(VALUE_BUDGET.with(|b| b.replace(self.limits.max_output_bytes)));
        match self.walk_list(dot, &tree.root) {
            Ok(()) => Ok(()),
            Err(Stop::Err(e)) => Err(e),
            Err(Stop::Break | Stop::Continue) => Ok(()),
        }
    }

    fn errorf<T>(&self, msg: impl AsRef<str>) -> R<T> {
        let name = &self.tree.name;
        let (pos, ctx) = match self.at {
            At::None => return Err(Stop::Err(format!("template: {name}: {}", msg.as_ref()))),
            At::Arg(a) => (a.pos(), a.to_string()),
            At::Cmd(c) => (c.pos, c.to_string()),
            At::Pipe(p) => (p.pos, p.to_string()),
            At::Node(n) => (node_pos(n), n.to_string()),
        };
        Err(Stop::Err(format!(
            "template: {}: executing {} at <{ctx}>: {}",
            self.tree.location(pos),
            gofmt::quote(name),
            msg.as_ref()
        )))
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return self.errorf(format!(
                "execution exceeds the limit of {} steps",
                self.limits.max_steps
            ));
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> R<()> {
        if self.out.len() + s.len() > self.limits.max_output_bytes {
            return self.errorf(format!(
                "output exceeds the limit of {} bytes",
                self.limits.max_output_bytes
            ));
        }
        self.out.push_str(s);
        Ok(())
    }

    /// A function's result checked against the value budget: the total bytes of its strings (map
    /// keys included) at most the output limit, its nesting at most [`MAX_VALUE_DEPTH`]. The walk
    /// uses no recursion and stops as soon as either bound is passed.
    fn checked(&mut self, r: Result<Value, String>) -> Result<Value, String> {
        let v = r?;
        let max = self.limits.max_output_bytes;
        let (mut total, mut deepest, mut nodes) = (0usize, 0usize, 0usize);
        let mut stack: Vec<(&Value, usize)> = vec![(&v, 0)];
        while let Some((x, depth)) = stack.pop() {
            nodes += 1;
            let key = match x {
                Value::List(l) => Some(Arc::as_ptr(l) as *const () as usize),
                Value::Map(m) => Some(Arc::as_ptr(m) as *const () as usize),
                Value::Struct(s) => Some(Arc::as_ptr(s) as *const () as usize),
                _ => None,
            };
            if let Some((_, size, below)) = key.and_then(|k| self.sizes.get(&k)) {
                total = total.saturating_add(*size);
                deepest = deepest.max(depth + below);
            } else {
                deepest = deepest.max(depth);
                match x {
                    Value::String(s) => total = total.saturating_add(s.len()),
                    Value::List(l) => stack.extend(l.items.iter().map(|i| (i, depth + 1))),
                    Value::Map(m) => {
                        for (k, item) in &m.entries {
                            total = total.saturating_add(k.len());
                            stack.push((item, depth + 1));
                        }
                    }
                    Value::Struct(s) => stack.extend(s.fields.iter().map(|(_, i)| (i, depth + 1))),
                    _ => {}
                }
            }
            if total > max {
                return Err(value_too_big(max));
            }
            if deepest > MAX_VALUE_DEPTH {
                return Err(format!(
                    "value exceeds the limit of {MAX_VALUE_DEPTH} nesting levels"
                ));
            }
        }
        // Small values are cheaper to walk again than to remember.
        if nodes >= MEMO_MIN_NODES {
            let held = match &v {
                Value::List(l) => Some(held(l)),
                Value::Map(m) => Some(held(m)),
                Value::Struct(s) => Some(held(s)),
                _ => None,
            };
            if let Some((key, weak)) = held {
                if self.sizes.len() >= MEMO_MAX_ENTRIES {
                    self.sizes.clear();
                }
                self.sizes.insert(key, (weak, total, deepest));
            }
        }
        Ok(v)
    }

    /// The end of a call of function `name`: its result checked, its error reported at `err_at`.
    fn finish_call(&mut self, name: &str, err_at: At<'a>, r: Result<Value, String>) -> R<Value> {
        match self.checked(r) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at = err_at;
                self.errorf(format!("error calling {name}: {e}"))
            }
        }
    }

    fn enter(&mut self) -> R<()> {
        if self.depth >= self.limits.max_depth {
            return self.errorf(format!(
                "exceeded maximum template depth ({})",
                self.limits.max_depth
            ));
        }
        self.depth += 1;
        Ok(())
    }

    // ---------- walking ----------

    fn walk_list(&mut self, dot: &Value, list: &'a [Node]) -> R<()> {
        for n in list {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> R<()> {
        self.at = At::Node(node);
        self.step()?;
        match node {
            Node::Text(_, t) => match self.html {
                None => self.write(t),
                Some(c) => {
                    let key = (t.as_ptr() as usize, c);
                    let (c1, text) = match self.html_texts.get(&key) {
                        Some(done) => done.clone(),
                        None => match crate::html::escape_text(c, t) {
                            Ok((c1, text)) => {
                                let done = (c1, Arc::<str>::from(text));
                                if self.html_texts.len() >= MEMO_MAX_ENTRIES {
                                    self.html_texts.clear();
                                }
                                self.html_texts.insert(key, done.clone());
                                done
                            }
                            Err(e) => return self.errorf(format!("html/template: {e}")),
                        },
                    };
                    self.html = Some(c1);
                    self.write(&text)
                }
            },
            Node::Action(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Node(node);
                    match self.html {
                        None => self.print_value(&v)?,
                        Some(c) => self.print_html(c, pipe, &v)?,
                    }
                }
                Ok(())
            }
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => self.walk_range(dot, node, b),
            Node::Template { name, pipe, .. } => self.walk_template(dot, node, name, pipe.as_ref()),
            Node::Break(_) => Err(Stop::Break),
            Node::Continue(_) => Err(Stop::Continue),
        }
    }

    /// Prints a value in `html/template` mode: as text mode would (a missing value as nothing),
    /// escaped for the context.
    fn print_html(&mut self, c: crate::html::Context, pipe: &Pipe, v: &Value) -> R<()> {
        let text = match v {
            Value::Invalid | Value::Nil => String::new(),
            v => self.value_text(v)?,
        };
        let last = pipe
            .cmds
            .last()
            .and_then(|cmd| cmd.args.first())
            .and_then(|a| match a {
                Arg::Identifier { name, .. }
                    if (name == "html" || name == "urlquery") && !self.funcs.contains_key(name) =>
                {
                    Some(name.as_str())
                }
                _ => None,
            });
        match crate::html::escape_action(c, v, &text, last) {
            Ok((c1, out)) => {
                self.html = Some(c1);
                self.write(&out)
            }
            Err(e) => self.errorf(format!("html/template: {e}")),
        }
    }

    fn print_value(&mut self, v: &Value) -> R<()> {
        let s = self.value_text(v)?;
        self.write(&s)
    }

    /// How an action prints a value: Go's `fmt.Fprint`, through the value's `String` method if its
    /// type has one (Go's `fmt.Stringer`).
    fn value_text(&mut self, v: &Value) -> R<String> {
        if let Some(m) = v
            .method("String")
            .filter(|m| m.params.is_empty() && !m.variadic)
        {
            let r = (m.imp)(std::slice::from_ref(v));
            return match self.checked(r) {
                Ok(Value::String(s)) => Ok(s.to_string()),
                Ok(other) => Ok(gofmt::format_v(&other, false, 0)),
                Err(e) => self.errorf(format!("error calling String: {e}")),
            };
        }
        Ok(match v {
            Value::Invalid => "<no value>".to_string(),
            Value::Struct(s) if s.type_name.starts_with('*') => {
                let mut inner = (**s).clone();
                inner.type_name = Arc::from(&s.type_name[1..]);
                gofmt::format_v(&Value::Struct(Arc::new(inner)), false, 0)
            }
            Value::Func(_) => {
                return self.errorf(format!("can't print {} of type func", self.at_string()));
            }
            v => gofmt::format_v(v, false, 0),
        })
    }

    fn at_string(&self) -> String {
        match self.at {
            At::Node(n) => n.to_string(),
            _ => String::new(),
        }
    }

    fn mark(&self) -> usize {
        self.vars.len()
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value, b: &'a Branch) -> R<()> {
        let mark = self.mark();
        self.enter()?;
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let (truth, _) = val.truth();
        let r = if truth {
            if with {
                self.walk_list(&val, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(())
        };
        self.depth -= 1;
        self.vars.truncate(mark);
        r
    }

    fn set_top_var(&mut self, n: usize, v: Value) {
        let len = self.vars.len();
        if let Some(slot) = self.vars.get_mut(len.wrapping_sub(n)) {
            slot.1 = v;
        }
    }

    fn set_var(&mut self, name: &str, v: Value) -> R<()> {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
            return Ok(());
        }
        self.errorf(format!("undefined variable: {name}"))
    }

    fn var_value(&self, name: &str) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.errorf(format!("undefined variable: {name}")),
        }
    }

    fn one_iteration(&mut self, b: &'a Branch, mark: usize, index: Value, elem: Value) -> R<bool> {
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                let v = if decl.len() > 1 {
                    index.clone()
                } else {
                    elem.clone()
                };
                self.set_var(&decl[0], v)?;
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        self.step()?;
        let r = self.walk_list(&elem, &b.list);
        self.vars.truncate(mark);
        match r {
            Ok(()) | Err(Stop::Continue) => Ok(true),
            Err(Stop::Break) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn walk_range(&mut self, dot: &Value, node: &'a Node, b: &'a Branch) -> R<()> {
        self.at = At::Node(node);
        let outer = self.mark();
        self.enter()?;
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.mark();
        let mut ran = false;
        match &val {
            Value::List(l) => {
                for (i, item) in l.items.iter().enumerate() {
                    ran = true;
                    if !self.one_iteration(b, mark, Value::Int(i as i64), item.clone())? {
                        break;
                    }
                }
            }
            Value::Map(m) => {
                for (k, item) in &m.entries {
                    ran = true;
                    if !self.one_iteration(b, mark, Value::string(k.as_str()), item.clone())? {
                        break;
                    }
                }
            }
            Value::Int(_) | Value::Uint(_) => {
                if b.pipe.decl.len() > 1 {
                    return self.errorf(format!(
                        "can't use {} to iterate over more than one variable",
                        gofmt::format_v(&val, false, 0)
                    ));
                }
                let n = match val {
                    Value::Int(i) => i.max(0) as u64,
                    Value::Uint(u) => u,
                    _ => 0,
                };
                for i in 0..n {
                    ran = true;
                    let v = if matches!(val, Value::Int(_)) {
                        Value::Int(i as i64)
                    } else {
                        Value::Uint(i)
                    };
                    if !self.one_iteration(b, mark, v.clone(), v)? {
                        break;
                    }
                }
            }
            Value::Invalid | Value::Nil => {}
            other => {
                return self.errorf(format!(
                    "range can't iterate over {}",
                    gofmt::format_v(other, false, 0)
                ));
            }
        }
        if !ran && let Some(e) = &b.else_list {
            self.walk_list(dot, e)?;
        }
        self.depth -= 1;
        self.vars.truncate(outer);
        Ok(())
    }

    fn walk_template(
        &mut self,
        dot: &Value,
        node: &'a Node,
        name: &str,
        pipe: Option<&'a Pipe>,
    ) -> R<()> {
        self.at = At::Node(node);
        let Some(tree) = self.trees.get(name) else {
            return self.errorf(format!("template {} not defined", gofmt::quote(name)));
        };
        self.enter()?;
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Invalid,
        };
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
        let saved_tree = std::mem::replace(&mut self.tree, tree);
        let r = self.walk_list(&new_dot, &tree.root);
        self.tree = saved_tree;
        self.vars = saved_vars;
        self.depth -= 1;
        r
    }

    // ---------- evaluation ----------

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'a Pipe) -> R<Value> {
        self.at = At::Pipe(pipe);
        let mut value: Final = None;
        for cmd in &pipe.cmds {
            self.step()?;
            let v = self.eval_command(dot, cmd, value.take())?;
            value = Some(v);
        }
        // Go digs into an `interface {}` result: a nil one is no value.
        let value = match value {
            None | Some(Value::Nil) => Value::Invalid,
            Some(v) => v,
        };
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Final) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            return self.errorf(format!("can't give argument to non-function {}", args[0]));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'a Command, fin: Final) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at = At::Arg(first);
                self.eval_field_chain(dot, dot.clone(), first, idents, &cmd.args, fin)
            }
            Arg::Chain { .. } => self.eval_chain(dot, first, &cmd.args, fin),
            Arg::Identifier { name, .. } => {
                self.eval_function(dot, first, name, At::Cmd(cmd), &cmd.args, fin)
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                self.eval_pipeline(dot, p)
            }
            Arg::Variable { .. } => self.eval_variable(dot, first, &cmd.args, fin),
            _ => {
                self.at = At::Arg(first);
                self.not_a_function(&cmd.args, &fin)?;
                match first {
                    Arg::Bool(_, b) => Ok(Value::Bool(*b)),
                    Arg::Dot(_) => Ok(dot.clone()),
                    Arg::Nil(_) => self.errorf("nil is not a command"),
                    Arg::Number(_, n) => self.ideal_constant(first, n),
                    Arg::String { text, .. } => Ok(Value::string(text.as_str())),
                    _ => self.errorf(format!(
                        "can't evaluate command {}",
                        gofmt::quote(&first.to_string())
                    )),
                }
            }
        }
    }

    fn ideal_constant(&mut self, arg: &'a Arg, n: &crate::parse::Number) -> R<Value> {
        self.at = At::Arg(arg);
        let t = &n.text;
        let hex_int = {
            let l = t.trim_start_matches(['+', '-']).to_ascii_lowercase();
            l.starts_with("0x") && !l.contains('p')
        };
        let rune = t.starts_with('\'');
        if n.float.is_some() && !hex_int && !rune && t.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Value::Float(n.float.unwrap_or(0.0)));
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        if n.uint.is_some() {
            return self.errorf(format!("{t} overflows int"));
        }
        Ok(Value::Invalid)
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        node: &'a Arg,
        name: &str,
        err_at: At<'a>,
        args: &'a [Arg],
        fin: Final,
    ) -> R<Value> {
        self.at = At::Arg(node);
        if let Some(b) = builtins::lookup(name)
            && !self.funcs.contains_key(name)
        {
            return self.eval_builtin(dot, b, name, err_at, args, fin);
        }
        let Some(f) = self.funcs.get(name).cloned() else {
            return self.errorf(format!("{} is not a defined function", gofmt::quote(name)));
        };
        let argv = self.eval_args(dot, &f.params, f.variadic, name, args, fin)?;
        let r = (f.imp)(&argv);
        self.finish_call(name, err_at, r)
    }

    /// Go's argument count check and evaluation of a call's arguments (`args[0]` is the callee).
    fn eval_args(
        &mut self,
        dot: &Value,
        params: &[Param],
        variadic: bool,
        name: &str,
        args: &'a [Arg],
        fin: Final,
    ) -> R<Vec<Value>> {
        let args = if args.is_empty() { args } else { &args[1..] };
        let num_in = args.len() + usize::from(fin.is_some());
        let num_fixed = if variadic {
            params.len().saturating_sub(1)
        } else {
            args.len()
        };
        if variadic {
            if num_in < num_fixed {
                return self.errorf(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    params.len() - 1,
                    args.len()
                ));
            }
        } else if num_in != params.len() {
            return self.errorf(format!(
                "wrong number of args for {name}: want {} got {num_in}",
                params.len()
            ));
        }
        let mut argv = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            argv.push(self.eval_arg(dot, &params[i], &args[i])?);
            i += 1;
        }
        if variadic {
            let p = params.last().cloned().unwrap_or(Param::Any);
            while i < args.len() {
                argv.push(self.eval_arg(dot, &p, &args[i])?);
                i += 1;
            }
        }
        if let Some(f) = fin {
            let t = if variadic && num_in > num_fixed {
                params.last().cloned().unwrap_or(Param::Any)
            } else if variadic {
                params[num_in - 1].clone()
            } else {
                params.last().cloned().unwrap_or(Param::Any)
            };
            argv.push(self.validate_type(f, &t)?);
        }
        Ok(argv)
    }

    fn eval_builtin(
        &mut self,
        dot: &Value,
        b: Builtin,
        name: &str,
        err_at: At<'a>,
        args: &'a [Arg],
        fin: Final,
    ) -> R<Value> {
        let (params, variadic) = builtins::signature(b);
        if matches!(b, Builtin::And | Builtin::Or) {
            // Short-circuit: arguments are evaluated only as far as needed.
            let rest = if args.is_empty() { args } else { &args[1..] };
            let num_in = rest.len() + usize::from(fin.is_some());
            if num_in < 1 {
                return self.errorf(format!(
                    "wrong number of args for {name}: want at least 1 got {}",
                    rest.len()
                ));
            }
            let mut v = Value::Invalid;
            for a in rest {
                v = self.eval_arg(dot, &Param::Value, a)?;
                if v.truth().0 == matches!(b, Builtin::Or) {
                    return self.finish_call(name, err_at, Ok(v));
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return self.finish_call(name, err_at, Ok(v));
        }
        let argv = self.eval_args(dot, &params, variadic, name, args, fin)?;
        let r = if b == Builtin::Call {
            self.call_builtin(&argv)
        } else {
            builtins::call(b, &argv)
        };
        self.finish_call(name, err_at, r)
    }

    fn call_builtin(&mut self, argv: &[Value]) -> Result<Value, String> {
        let Some(Value::Func(f)) = argv.first() else {
            return match argv.first() {
                Some(Value::Invalid | Value::Nil) | None => Err("call of nil".into()),
                Some(v) => Err(format!("non-function of type {}", v.type_name())),
            };
        };
        let rest = &argv[1..];
        if f.variadic {
            if rest.len() + 1 < f.params.len() {
                return Err(format!(
                    "wrong number of args: got {} want at least {}",
                    rest.len(),
                    f.params.len() - 1
                ));
            }
        } else if rest.len() != f.params.len() {
            return Err(format!(
                "wrong number of args: got {} want {}",
                rest.len(),
                f.params.len()
            ));
        }
        (f.imp)(rest)
    }

    fn eval_arg(&mut self, dot: &Value, typ: &Param, n: &'a Arg) -> R<Value> {
        self.at = At::Arg(n);
        match n {
            Arg::Dot(_) => return self.validate_type(dot.clone(), typ),
            Arg::Nil(_) => {
                return match typ {
                    Param::Any | Param::Named(_) => Ok(Value::Nil),
                    Param::Value => Ok(Value::Invalid),
                    _ => self.errorf(format!("cannot assign nil to {typ}")),
                };
            }
            Arg::Field { idents, .. } => {
                let v = self.eval_field_chain(
                    dot,
                    dot.clone(),
                    n,
                    idents,
                    std::slice::from_ref(n),
                    None,
                )?;
                return self.validate_type(v, typ);
            }
            Arg::Variable { .. } => {
                let v = self.eval_variable(dot, n, &[], None)?;
                return self.validate_type(v, typ);
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, p)?;
                return self.validate_type(v, typ);
            }
            Arg::Identifier { name, .. } => {
                let v = self.eval_identifier_arg(dot, n, name)?;
                return self.validate_type(v, typ);
            }
            Arg::Chain { .. } => {
                let v = self.eval_chain(dot, n, &[], None)?;
                return self.validate_type(v, typ);
            }
            _ => {}
        }
        match typ {
            Param::Bool => match n {
                Arg::Bool(_, b) => Ok(Value::Bool(*b)),
                _ => self.errorf(format!("expected bool; found {n}")),
            },
            Param::Float => match n {
                Arg::Number(_, num) if num.float.is_some() => {
                    Ok(Value::Float(num.float.unwrap_or(0.0)))
                }
                _ => self.errorf(format!("expected float; found {n}")),
            },
            Param::Int => match n {
                Arg::Number(_, num) if num.int.is_some() => Ok(Value::Int(num.int.unwrap_or(0))),
                _ => self.errorf(format!("expected integer; found {n}")),
            },
            Param::String => match n {
                Arg::String { text, .. } => Ok(Value::string(text.as_str())),
                _ => self.errorf(format!("expected string; found {n}")),
            },
            Param::Any | Param::Value => match n {
                Arg::Bool(_, b) => Ok(Value::Bool(*b)),
                Arg::Number(_, num) => self.ideal_constant(n, num),
                Arg::String { text, .. } => Ok(Value::string(text.as_str())),
                _ => self.errorf(format!(
                    "can't handle assignment of {n} to empty interface argument"
                )),
            },
            Param::Named(t) => self.errorf(format!("can't handle {n} for arg of type {t}")),
        }
    }

    fn eval_identifier_arg(&mut self, dot: &Value, n: &'a Arg, name: &str) -> R<Value> {
        // A function used as an argument is called with no arguments; its errors point at it.
        self.eval_function(dot, n, name, At::Arg(n), &[], None)
    }

    fn validate_type(&self, v: Value, typ: &Param) -> R<Value> {
        let ok = match (typ, &v) {
            (Param::Value, _) => true,
            (Param::Any, Value::Invalid) => return Ok(Value::Nil),
            (Param::Any, _) => true,
            (Param::Named(_), Value::Invalid | Value::Nil) => return Ok(Value::Nil),
            (_, Value::Invalid) => return self.errorf(format!("invalid value; expected {typ}")),
            (Param::String, Value::String(_)) => true,
            (Param::Float, Value::Float(_)) => true,
            (Param::Int, Value::Int(_)) => true,
            (Param::Bool, Value::Bool(_)) => true,
            (Param::Named(t), v) => v.type_name() == **t,
            _ => false,
        };
        if ok {
            Ok(v)
        } else {
            let got = if let Value::Nil = v {
                "interface {}".to_string()
            } else {
                v.type_name()
            };
            self.errorf(format!("wrong type for value; expected {typ}; got {got}"))
        }
    }

    fn eval_chain(&mut self, dot: &Value, chain: &'a Arg, args: &'a [Arg], fin: Final) -> R<Value> {
        self.at = At::Arg(chain);
        let Arg::Chain { node, fields, .. } = chain else {
            return self.errorf("internal error: not a chain");
        };
        if let Arg::Nil(_) = **node {
            return self.errorf(format!("indirection through explicit nil in {chain}"));
        }
        let pipe = self.eval_arg(dot, &Param::Value, node)?;
        self.eval_field_chain(dot, pipe, chain, fields, args, fin)
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        var: &'a Arg,
        args: &'a [Arg],
        fin: Final,
    ) -> R<Value> {
        self.at = At::Arg(var);
        let Arg::Variable { idents, .. } = var else {
            return self.errorf("internal error: not a variable");
        };
        let value = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            if !args.is_empty() {
                self.not_a_function(args, &fin)?;
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, var, &idents[1..], args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        node: &'a Arg,
        idents: &[String],
        args: &'a [Arg],
        fin: Final,
    ) -> R<Value> {
        let n = idents.len();
        for ident in &idents[..n.saturating_sub(1)] {
            receiver = self.eval_field(dot, ident, node, &[], None, receiver)?;
        }
        match idents.last() {
            Some(last) => self.eval_field(dot, last, node, args, fin, receiver),
            None => Ok(receiver),
        }
    }

    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: &'a Arg,
        args: &'a [Arg],
        fin: Final,
        receiver: Value,
    ) -> R<Value> {
        let has_args = args.len() > 1 || fin.is_some();
        if let Some(m) = receiver.method(name).cloned() {
            // Go looks methods up before fields and map keys.
            let mut argv = vec![receiver.clone()];
            argv.extend(self.eval_args(dot, &m.params, m.variadic, name, args, fin)?);
            let r = (m.imp)(&argv);
            return self.finish_call(name, At::Arg(node), r);
        }
        match &receiver {
            Value::Invalid => {
                if self.missing_key == MissingKey::Error {
                    return self
                        .errorf(format!("nil data; no entry for key {}", gofmt::quote(name)));
                }
                return Ok(Value::Invalid);
            }
            Value::Nil => {
                return self.errorf(format!("nil pointer evaluating interface {{}}.{name}"));
            }
            Value::Time(_) | Value::TimeIn(..) | Value::Duration(_) => {
                // Methods: arguments evaluated as Go does for a method of `string`/no parameters.
                let rest = if args.is_empty() { args } else { &args[1..] };
                let mut argv = Vec::new();
                for a in rest {
                    argv.push(self.eval_arg(dot, &Param::Any, a)?);
                }
                if let Some(f) = fin {
                    argv.push(f);
                }
                if let Some(r) = crate::gotime::call_method(&receiver, name, &argv) {
                    return match r {
                        Err(e) if e.starts_with("wrong ") => self.errorf(e),
                        r => match self.checked(r) {
                            Ok(v) => Ok(v),
                            Err(e) => self.errorf(format!("error calling {name}: {e}")),
                        },
                    };
                }
            }
            Value::Struct(s) => {
                if let Some((_, v)) = s.fields.iter().find(|(n, _)| n == name) {
                    if has_args {
                        return self.errorf(format!(
                            "{name} has arguments but cannot be invoked as function"
                        ));
                    }
                    return Ok(v.clone());
                }
            }
            Value::Map(m) => {
                if has_args {
                    return self.errorf(format!("{name} is not a method but has arguments"));
                }
                return match m.entries.get(name) {
                    Some(v) => Ok(v.clone()),
                    None => match self.missing_key {
                        MissingKey::Default => Ok(Value::Invalid),
                        MissingKey::Zero => Ok(m.zero.clone()),
                        MissingKey::Error => {
                            self.errorf(format!("map has no entry for key {}", gofmt::quote(name)))
                        }
                    },
                };
            }
            _ => {}
        }
        let _ = node;
        self.errorf(format!(
            "can't evaluate field {name} in type {}",
            receiver.type_name()
        ))
    }
}

fn node_pos(n: &Node) -> usize {
    match n {
        Node::Text(pos, _) => *pos,
        Node::Action(p) => p.pos,
        Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
        Node::Template { pos, .. } | Node::Break(pos) | Node::Continue(pos) => *pos,
    }
}
