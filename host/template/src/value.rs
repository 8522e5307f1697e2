//! The values templates see: Go's kinds (bool, int, uint, float64, string, slices, maps, structs, nil)
//! plus `time.Time` and `time.Duration`, each with the Go type name its errors and `%T` show.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The body of a template function: evaluated arguments in, a value or Go's error text out.
pub type FuncImpl<'f> = dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'f;

/// The Go type of a parameter of a template function: what the engine converts arguments to (and
/// checks them against, with Go's errors) before the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// `interface{}`: anything, nil included.
    Any,
    /// `reflect.Value` (Go's builtins): anything, an invalid value included.
    Value,
    /// `string`.
    String,
    /// `float64`.
    Float,
    /// `int`.
    Int,
    /// `bool`.
    Bool,
    /// A named type (`template.queryResult`, `*template.sample`): values whose [`Value::type_name`] is it.
    Named(Arc<str>),
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Param::Any => "interface {}",
            Param::Value => "reflect.Value",
            Param::String => "string",
            Param::Float => "float64",
            Param::Int => "int",
            Param::Bool => "bool",
            Param::Named(n) => n,
        })
    }
}

/// A template function: Go's parameter types (the last one variadic if `variadic`) and the body.
#[derive(Clone)]
pub struct Function<'f> {
    pub params: Vec<Param>,
    pub variadic: bool,
    pub imp: Arc<FuncImpl<'f>>,
}

impl<'f> Function<'f> {
    /// A function of fixed parameters.
    pub fn new(
        params: Vec<Param>,
        imp: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'f,
    ) -> Self {
        Function {
            params,
            variadic: false,
            imp: Arc::new(imp),
        }
    }

    /// A function whose last parameter is variadic (`...T`).
    pub fn variadic(
        params: Vec<Param>,
        imp: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'f,
    ) -> Self {
        Function {
            params,
            variadic: true,
            imp: Arc::new(imp),
        }
    }
}

impl fmt::Debug for Function<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Function({:?}, variadic={})", self.params, self.variadic)
    }
}

/// A Go map with string keys (iterated in key order, as templates do) and its element type's zero value
/// (what a missing key gives under `missingkey=zero`).
#[derive(Debug, Clone)]
pub struct Map {
    pub type_name: Arc<str>,
    pub entries: BTreeMap<String, Value>,
    pub zero: Value,
    pub methods: Option<Arc<Methods>>,
}

/// Methods of a named Go type, by name: each function gets the receiver first, then the arguments its
/// `params` describe (the receiver is not among them).
pub type Methods = std::collections::HashMap<String, Function<'static>>;

/// A Go struct (or pointer to one when its type name starts with `*`): fields in declaration order.
#[derive(Debug, Clone)]
pub struct Struct {
    pub type_name: Arc<str>,
    pub fields: Vec<(String, Value)>,
    pub methods: Option<Arc<Methods>>,
}

/// A Go slice.
#[derive(Debug, Clone)]
pub struct List {
    pub type_name: Arc<str>,
    pub items: Vec<Value>,
    pub methods: Option<Arc<Methods>>,
}

/// The zone a `time.Time` is shown in (what `In(loc)` gives): its offset from UTC at that instant
/// and its abbreviation (`CET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub offset_secs: i32,
    pub abbrev: Arc<str>,
}

/// A template value.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// reflect's invalid value (no data, a missing map entry): prints `<no value>`.
    #[default]
    Invalid,
    /// A nil interface or pointer: prints `<nil>`.
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    String(Arc<str>),
    /// A value of a named string type (html/template's `template.HTML`, `template.URL`): its type's
    /// name and its text. It prints, compares and measures as its text; a `string` parameter refuses it
    /// as Go does.
    Typed(Arc<str>, Arc<str>),
    List(Arc<List>),
    Map(Arc<Map>),
    Struct(Arc<Struct>),
    /// `*time.Time` (what `toTime` returns) in UTC: nanoseconds since the Unix epoch.
    Time(i128),
    /// A `*time.Time` shown in a zone (what Alertmanager's `tz` returns): nanoseconds since the Unix
    /// epoch and the zone.
    TimeIn(i128, Arc<Zone>),
    /// `*time.Duration` (what `toDuration` returns): nanoseconds.
    Duration(i64),
    Func(Function<'static>),
}

impl Value {
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// A `map[string]string`.
    pub fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::Map(Arc::new(Map {
            type_name: "map[string]string".into(),
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::string(v)))
                .collect(),
            zero: Value::string(""),
            methods: None,
        }))
    }

    /// A `map[string]interface {}`.
    pub fn any_map(entries: impl IntoIterator<Item = (String, Value)>) -> Value {
        Value::Map(Arc::new(Map {
            type_name: "map[string]interface {}".into(),
            entries: entries.into_iter().collect(),
            // A nil interface, which the end of a pipeline turns into no value.
            zero: Value::Nil,
            methods: None,
        }))
    }

    /// A slice of the named type (`[]interface {}`, `[]float64`, …).
    pub fn list(type_name: &str, items: Vec<Value>) -> Value {
        Value::List(Arc::new(List {
            type_name: type_name.into(),
            items,
            methods: None,
        }))
    }

    /// A struct of the named type.
    pub fn structure(type_name: &str, fields: Vec<(String, Value)>) -> Value {
        Value::Struct(Arc::new(Struct {
            type_name: type_name.into(),
            fields,
            methods: None,
        }))
    }

    /// The same value with methods (Go's methods of its named type), for maps, slices and structs.
    pub fn with_methods(self, methods: Arc<Methods>) -> Value {
        match self {
            Value::Map(m) => Value::Map(Arc::new(Map {
                methods: Some(methods),
                ..(*m).clone()
            })),
            Value::List(l) => Value::List(Arc::new(List {
                methods: Some(methods),
                ..(*l).clone()
            })),
            Value::Struct(s) => Value::Struct(Arc::new(Struct {
                methods: Some(methods),
                ..(*s).clone()
            })),
            other => other,
        }
    }

    fn methods(&self) -> Option<&Methods> {
        match self {
            Value::Map(m) => m.methods.as_deref(),
            Value::List(l) => l.methods.as_deref(),
            Value::Struct(s) => s.methods.as_deref(),
            _ => None,
        }
    }

    /// The method of this name, if the value's type has one.
    pub fn method(&self, name: &str) -> Option<&Function<'static>> {
        self.methods().and_then(|m| m.get(name))
    }

    /// Go's `%T`.
    pub fn type_name(&self) -> String {
        match self {
            Value::Invalid | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Uint(_) => "uint".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::Typed(t, _) => t.to_string(),
            Value::List(l) => l.type_name.to_string(),
            Value::Map(m) => m.type_name.to_string(),
            Value::Struct(s) => s.type_name.to_string(),
            Value::Time(_) | Value::TimeIn(..) => "*time.Time".into(),
            Value::Duration(_) => "*time.Duration".into(),
            Value::Func(_) => "func".into(),
        }
    }

    /// Go's `template.IsTrue`: (truth, whether the value has a truth at all).
    pub fn truth(&self) -> (bool, bool) {
        match self {
            Value::Invalid | Value::Nil => (false, true),
            Value::Bool(b) => (*b, true),
            Value::Int(i) => (*i != 0, true),
            Value::Duration(i) => (*i != 0, true),
            Value::Uint(u) => (*u != 0, true),
            Value::Float(f) => (*f != 0.0, true),
            Value::String(s) | Value::Typed(_, s) => (!s.is_empty(), true),
            Value::List(l) => (!l.items.is_empty(), true),
            Value::Map(m) => (!m.entries.is_empty(), true),
            Value::Struct(_) => (true, true),
            Value::Time(_) | Value::TimeIn(..) => (true, true),
            Value::Func(_) => (true, true),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::string(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::string(s)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
