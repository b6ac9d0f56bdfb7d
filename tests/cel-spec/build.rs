//! Generates one Rust function per cel-spec conformance case the CEL compiler claims: the case's expression
//! compiled by `capacitor_codegen::cel::compile_expression` and lowered, its result read into a `Val`; the
//! expected result as a constant `Want`. Cases the compiler does not claim (variables, type environments,
//! containers, an expected result of a type it does not produce, an expression it refuses) are listed with the
//! reason's category instead.
//!
//! The data is cel-spec's `tests/simple/testdata` suites as npm's `@bufbuild/cel-spec` ships them, written out
//! as JSON by `scripts/fetch-cel-spec.sh`, which `scripts/test.sh` runs: `target/cel-spec/<version>/conformance.json`,
//! or the path in `CAPACITOR_CEL_SPEC`. Without it the crate still builds, with no cases (the test then skips, or
//! fails under `CI=true`).

use capacitor_codegen::cel::{Binding, Env, Type, compile_expression};
use capacitor_codegen::ir::{FieldType, Scalar, Schema};
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value as Json;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The `@bufbuild/cel-spec` release `scripts/test.sh` fetches.
const VERSION: &str = "0.6.1";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=CAPACITOR_CEL_SPEC");
    let path = std::env::var_os("CAPACITOR_CEL_SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            manifest.join(format!("../../target/cel-spec/{VERSION}/conformance.json"))
        });
    println!("cargo:rerun-if-changed={}", path.display());
    let data: Option<Json> = std::fs::read(&path)
        .ok()
        .map(|b| serde_json::from_slice(&b).expect("conformance.json is JSON"));
    // Cases whose lowered Rust does not compile (compiler bugs): run as failures, never built.
    let bugs_path = manifest.join("rust_errors.txt");
    println!("cargo:rerun-if-changed={}", bugs_path.display());
    let bugs = std::fs::read_to_string(&bugs_path).unwrap_or_default();
    let mut g = Gen {
        broken: bugs
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim())
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        ..Gen::default()
    };
    if let Some(root) = &data {
        for file in root["suites"].as_array().into_iter().flatten() {
            for section in file["suites"].as_array().into_iter().flatten() {
                let name = format!(
                    "{}/{}",
                    file["name"].as_str().unwrap_or_default(),
                    section["name"].as_str().unwrap_or_default()
                );
                for test in section["tests"].as_array().into_iter().flatten() {
                    g.case(&name, &test["original"]);
                }
            }
        }
    }
    let mut code = String::new();
    writeln!(
        code,
        "/// Whether the data was found.\npub static DATA_FOUND: bool = {};\n/// Where it was looked for.\npub static DATA_PATH: &str = {:?};\n/// The `@bufbuild/cel-spec` version.\npub static VERSION: &str = {VERSION:?};",
        data.is_some(),
        path.display().to_string()
    )
    .unwrap();
    code.push_str("/// The cases the compiler compiled (or refused with the type error they expect).\npub static CASES: &[Case] = &[\n");
    code.push_str(&g.cases);
    code.push_str(
        "];\n/// The cases it does not claim.\npub static UNSUPPORTED: &[Unsupported] = &[\n",
    );
    code.push_str(&g.unsupported);
    code.push_str("];\n");
    code.push_str(&g.functions);
    std::fs::write(out.join("cel_spec.rs"), code).unwrap();
}

#[derive(Default)]
struct Gen {
    cases: String,
    unsupported: String,
    functions: String,
    count: usize,
    /// `section name` of the cases listed in rust_errors.txt.
    broken: Vec<String>,
}

impl Gen {
    fn skip(&mut self, section: &str, name: &str, reason: &str) {
        writeln!(
            self.unsupported,
            "    Unsupported {{ section: {section:?}, name: {name:?}, reason: {reason:?} }},"
        )
        .unwrap();
    }

    fn case(&mut self, section: &str, t: &Json) {
        let name = t["name"].as_str().unwrap_or_default();
        let expr = t["expr"].as_str().unwrap_or_default();
        for (key, reason) in [
            ("bindings", "variable bindings"),
            ("typeEnv", "a type environment"),
            ("container", "a container"),
            ("checkOnly", "type check only"),
        ] {
            if t.get(key).is_some() {
                return self.skip(section, name, reason);
            }
        }
        // The result: a value, a typed result's value, an evaluation error, or (unset) `true`.
        let want = if t.get("evalError").is_some() {
            Ok(quote!(Want::Error))
        } else if let Some(v) = t.get("value") {
            want(v)
        } else if let Some(v) = t.get("typedResult") {
            want(&v["result"])
        } else {
            Ok(quote!(Want::Bool(true)))
        };
        let want = match want {
            Ok(w) => w,
            Err(reason) => return self.skip(section, name, &reason),
        };
        let wants_error = t.get("evalError").is_some();
        let schema = Schema::default();
        let env = Env::new(&schema, Binding::Value(FieldType::Scalar(Scalar::Bool)));
        let compiled = match compile_expression(expr, &env) {
            Ok(c) => c,
            Err(e) if wants_error && is_type_error(&e.message) => {
                let msg = e.to_string();
                writeln!(
                    self.cases,
                    "    Case {{ section: {section:?}, name: {name:?}, expr: {expr:?}, want: {want}, run: Run::CompileError({msg:?}) }},"
                )
                .unwrap();
                return;
            }
            Err(e) => {
                return self.skip(
                    section,
                    name,
                    &format!("does not compile: {}", category(&e.message)),
                );
            }
        };
        let Some(conv) = to_val(compiled.ty(), quote!(cel_result)) else {
            return self.skip(
                section,
                name,
                &format!("result of type {}", kind(compiled.ty())),
            );
        };
        if self
            .broken
            .iter()
            .any(|b| *b == format!("{section} {name}"))
        {
            writeln!(
                self.cases,
                "    Case {{ section: {section:?}, name: {name:?}, expr: {expr:?}, want: {want}, run: Run::RustError }},"
            )
            .unwrap();
            return;
        }
        let lowered = compiled.lower(&quote!(::capacitor), quote!(false));
        let e = lowered.expr;
        let body = if lowered.fallible {
            quote!((move || -> ::core::result::Result<Val, EvalError> { let cel_result = #e; Ok(#conv) })())
        } else {
            quote!({ let cel_result = #e; Ok(#conv) })
        };
        let now = lowered
            .uses_now
            .then(|| quote!(let cel_now: (i64, i32) = now();));
        let f = quote::format_ident!("case_{}", self.count);
        self.count += 1;
        writeln!(
            self.functions,
            "{}",
            quote!(
                /// Generated.
                fn #f() -> ::core::result::Result<Val, EvalError> { #now #body }
            )
        )
        .unwrap();
        writeln!(
            self.cases,
            "    Case {{ section: {section:?}, name: {name:?}, expr: {expr:?}, want: {want}, run: Run::Eval({f}) }},"
        )
        .unwrap();
    }
}

/// A compile error that is CEL's type error (no overload, a bad conversion or literal), which a checked
/// environment reports where an unchecked one fails at run time.
fn is_type_error(message: &str) -> bool {
    message.starts_with("no `")
        || message.starts_with("no conversion")
        || message.starts_with("expected a bool")
        || message.starts_with("integer overflow in a constant")
        || message.ends_with("is not a duration`")
        || message.ends_with("is not a timestamp`")
        || message.contains("` is not a duration")
        || message.contains("` is not a timestamp")
}

/// A compile error's category: its message with what is between backticks elided (syntax errors, which carry the
/// parser's own text, as one).
fn category(message: &str) -> String {
    if message.starts_with("syntax error") {
        return "syntax error".to_string();
    }
    message
        .split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 0 { part } else { "…" })
        .collect::<Vec<_>>()
        .join("`")
}

fn kind(t: &Type) -> String {
    match t {
        Type::List(_) => "list".into(),
        Type::Map(..) => "map".into(),
        Type::Message(_) => "message".into(),
        other => other.to_string(),
    }
}

/// Reads the lowered value `v` of type `t` into a `Val`.
fn to_val(t: &Type, v: TokenStream) -> Option<TokenStream> {
    Some(match t {
        Type::Bool => quote!(Val::Bool(Get::<bool>::get(#v))),
        Type::Int => quote!(Val::Int(Get::<i64>::get(#v))),
        Type::Uint => quote!(Val::Uint(Get::<u64>::get(#v))),
        Type::Double => quote!(Val::Double(Get::<f64>::get(#v))),
        Type::String => quote!(Val::Str({ let s: &str = &#v; s.to_owned() })),
        Type::Bytes => quote!(Val::Bytes({ let b: &[u8] = &#v; b.to_vec() })),
        Type::Duration => {
            quote!({ let (s, n) = Get::<(i64, i32)>::get(#v); Val::Duration(s, n) })
        }
        Type::Timestamp => {
            quote!({ let (s, n) = Get::<(i64, i32)>::get(#v); Val::Timestamp(s, n) })
        }
        Type::List(e) => {
            let each = to_val(e, quote!(cel_item))?;
            quote!(Val::List(::core::iter::IntoIterator::into_iter(#v).map(|cel_item| #each).collect()))
        }
        _ => return None,
    })
}

/// The constant `Want` for a `cel.expr.Value` in proto JSON; `Err` with the reason when its kind is not one the
/// compiler produces.
fn want(v: &Json) -> Result<TokenStream, String> {
    let obj = v.as_object().ok_or("a malformed value")?;
    let (key, x) = obj.iter().next().ok_or("an empty value")?;
    let text = |x: &Json| {
        x.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| x.to_string())
    };
    Ok(match key.as_str() {
        "boolValue" => {
            let b = x.as_bool().ok_or("a malformed bool")?;
            quote!(Want::Bool(#b))
        }
        "int64Value" => {
            let i: i64 = text(x).parse().map_err(|_| "a malformed int")?;
            quote!(Want::Int(#i))
        }
        "uint64Value" => {
            let u: u64 = text(x).parse().map_err(|_| "a malformed uint")?;
            quote!(Want::Uint(#u))
        }
        "doubleValue" => match text(x).as_str() {
            "NaN" => quote!(Want::Double(f64::NAN)),
            "Infinity" => quote!(Want::Double(f64::INFINITY)),
            "-Infinity" => quote!(Want::Double(f64::NEG_INFINITY)),
            "-0" => quote!(Want::Double(-0.0)),
            s => {
                let d: f64 = s.parse().map_err(|_| "a malformed double")?;
                let lit = proc_macro2::Literal::f64_suffixed(d.abs());
                if d.is_sign_negative() {
                    quote!(Want::Double(-#lit))
                } else {
                    quote!(Want::Double(#lit))
                }
            }
        },
        "stringValue" => {
            let s = x.as_str().ok_or("a malformed string")?;
            quote!(Want::Str(#s))
        }
        "bytesValue" => {
            use base64::Engine as _;
            let s = x.as_str().ok_or("malformed bytes")?;
            let b = base64::engine::general_purpose::STANDARD
                .decode(s)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s))
                .map_err(|_| "malformed bytes")?;
            let lit = proc_macro2::Literal::byte_string(&b);
            quote!(Want::Bytes(#lit))
        }
        "listValue" => {
            let items = x["values"]
                .as_array()
                .map(|a| a.iter().map(want).collect::<Result<Vec<_>, _>>())
                .transpose()?
                .unwrap_or_default();
            quote!(Want::List(&[#(#items),*]))
        }
        "objectValue" => {
            let ty = x["@type"].as_str().unwrap_or_default();
            let s = x["value"].as_str();
            match (ty.rsplit('/').next(), s) {
                (Some("google.protobuf.Duration"), Some(s)) => quote!(Want::Duration(#s)),
                (Some("google.protobuf.Timestamp"), Some(s)) => quote!(Want::Timestamp(#s)),
                (Some(t), _) => return Err(format!("expects a {t}")),
                (None, _) => return Err("expects a message".into()),
            }
        }
        "mapValue" => return Err("expects a map".into()),
        "nullValue" => return Err("expects null".into()),
        "typeValue" => return Err("expects a type".into()),
        "enumValue" => return Err("expects an enum".into()),
        other => return Err(format!("expects a {other}")),
    })
}
