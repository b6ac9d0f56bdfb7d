//! What the generated cel-spec cases (build.rs) evaluate to, what they expect, and how the two compare.
//!
//! Every compiled case is a function returning the expression's value as a [`Val`] (or the [`EvalError`] it
//! failed with); the expected result is a [`Want`], built as a constant.

pub use capacitor::validate::cel::EvalError;

/// A value an expression gave, in one form per CEL type the cases check.
#[derive(Debug, Clone)]
pub enum Val {
    /// `bool`
    Bool(bool),
    /// `int`
    Int(i64),
    /// `uint`
    Uint(u64),
    /// `double`
    Double(f64),
    /// `string`
    Str(String),
    /// `bytes`
    Bytes(Vec<u8>),
    /// `google.protobuf.Duration` (seconds, nanos)
    Duration(i64, i32),
    /// `google.protobuf.Timestamp` (seconds, nanos)
    Timestamp(i64, i32),
    /// `list(T)`
    List(Vec<Val>),
}

/// What a case expects.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// `bool`
    Bool(bool),
    /// `int`
    Int(i64),
    /// `uint`
    Uint(u64),
    /// `double`
    Double(f64),
    /// `string`
    Str(&'static str),
    /// `bytes`
    Bytes(&'static [u8]),
    /// A duration in proto JSON (`"1.5s"`).
    Duration(&'static str),
    /// A timestamp in proto JSON (RFC 3339).
    Timestamp(&'static str),
    /// `list(T)`
    List(&'static [Want]),
    /// An evaluation error (any).
    Error,
}

/// How a case runs.
#[derive(Debug, Clone, Copy)]
pub enum Run {
    /// The compiled expression, evaluated.
    Eval(fn() -> Result<Val, EvalError>),
    /// The expression is refused at build time with this type error, and the case expects an error.
    CompileError(&'static str),
    /// The lowered Rust does not compile (listed in `rust_errors.txt`): a failure.
    RustError,
}

/// One claimed-or-not case of a section.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// `file/section`, as cel-spec's suites nest them.
    pub section: &'static str,
    /// The case's name.
    pub name: &'static str,
    /// The CEL expression.
    pub expr: &'static str,
    /// The expected result.
    pub want: Want,
    /// How it runs.
    pub run: Run,
}

/// A case the compiler does not claim, and why.
#[derive(Debug, Clone, Copy)]
pub struct Unsupported {
    /// `file/section`.
    pub section: &'static str,
    /// The case's name.
    pub name: &'static str,
    /// The reason's category.
    pub reason: &'static str,
}

/// Reads a lowered number, bool or time by value or by reference.
pub trait Get<T> {
    /// The value.
    fn get(self) -> T;
}

macro_rules! get {
    ($($t:ty),*) => {$(
        impl Get<$t> for $t {
            fn get(self) -> $t {
                self
            }
        }
        impl Get<$t> for &$t {
            fn get(self) -> $t {
                *self
            }
        }
        impl Get<$t> for &&$t {
            fn get(self) -> $t {
                **self
            }
        }
    )*};
}
get!(bool, i64, u64, f64, (i64, i32));

/// The time the expression's `now` reads.
pub fn now() -> (i64, i32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    (d.as_secs() as i64, d.subsec_nanos() as i32)
}

/// Whether `got` is the value `want` describes: doubles compare as cel-spec's tests do (NaN equals NaN, and
/// `-0.0` is not `0.0`), durations and timestamps by their parsed (seconds, nanos).
pub fn matches(want: &Want, got: &Val) -> bool {
    match (want, got) {
        (Want::Bool(a), Val::Bool(b)) => a == b,
        (Want::Int(a), Val::Int(b)) => a == b,
        (Want::Uint(a), Val::Uint(b)) => a == b,
        (Want::Double(a), Val::Double(b)) => {
            (a.is_nan() && b.is_nan()) || (a == b && a.is_sign_negative() == b.is_sign_negative())
        }
        (Want::Str(a), Val::Str(b)) => a == b,
        (Want::Bytes(a), Val::Bytes(b)) => a == b,
        (Want::Duration(a), Val::Duration(s, n)) => {
            capacitor::validate::cel::duration(a).is_ok_and(|d| d == (*s, *n))
        }
        (Want::Timestamp(a), Val::Timestamp(s, n)) => {
            capacitor::validate::cel::timestamp(a).is_ok_and(|t| t == (*s, *n))
        }
        (Want::List(a), Val::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| matches(a, b))
        }
        _ => false,
    }
}
