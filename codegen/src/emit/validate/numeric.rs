//! Numeric rules (`int32.*`, `double.*`, …): `const`, the `lt`/`gt` ranges, `finite`; the ranges also serve
//! Duration and Timestamp bounds.

use super::{Gen, Rules, bound};
use crate::ir::{RuleValue, Scalar};
use proc_macro2::TokenStream;
use quote::quote;

impl Gen<'_> {
    pub(super) fn number(&self, s: Scalar, v: &TokenStream, r: &Rules<'_>) -> TokenStream {
        let lit = |value: &RuleValue| Self::literal(s, value);
        let mut out = Vec::new();
        let val = quote!(val);
        self.equal_const(&mut out, &val, r, &lit);
        out.push(self.range(&val, r, &lit));
        self.in_not_in(&mut out, &val, r, &lit);
        if r.flag("finite") && matches!(s, Scalar::Float | Scalar::Double) {
            let f = self.fail("finite", "finite", "value must be finite");
            out.push(quote!(if !#val.is_finite() { #f }));
        }
        bound("val", &quote!(*#v), &out)
    }

    /// lt / lte / gt / gte and their combinations, with protovalidate's rule ids (`gt_lt`,
    /// `gte_lte_exclusive`, …). Comparisons are negated so that NaN fails every bound.
    pub(super) fn range(
        &self,
        val: &TokenStream,
        r: &Rules<'_>,
        lit: &dyn Fn(&RuleValue) -> Option<TokenStream>,
    ) -> TokenStream {
        let lower = ["gt", "gte"]
            .into_iter()
            .find_map(|n| r.get(n).and_then(|v| lit(v).map(|l| (n, v, l))));
        let upper = ["lt", "lte"]
            .into_iter()
            .find_map(|n| r.get(n).and_then(|v| lit(v).map(|l| (n, v, l))));
        let op = |n: &str, l: &TokenStream| match n {
            "gt" => quote!(#val > #l),
            "gte" => quote!(#val >= #l),
            "lt" => quote!(#val < #l),
            _ => quote!(#val <= #l),
        };
        let words = |n: &str| match n {
            "gt" => "greater than",
            "gte" => "greater than or equal to",
            "lt" => "less than",
            _ => "less than or equal to",
        };
        match (lower, upper) {
            (None, None) => quote!(),
            (Some((n, rv, l)), None) | (None, Some((n, rv, l))) => {
                let cond = op(n, &l);
                let f = self.fail(
                    n,
                    n,
                    &format!("value must be {} {}", words(n), Self::show(rv)),
                );
                quote!(if !(#cond) { #f })
            }
            (Some((ln, lv, ll)), Some((un, uv, ul))) => {
                let lc = op(ln, &ll);
                let uc = op(un, &ul);
                // Exclusive when the upper bound is not above the lower one: the value lies outside.
                // protovalidate: the range is exclusive when the upper bound is below the lower one.
                let exclusive = match (value_f64(uv), value_f64(lv)) {
                    (Some(u), Some(l)) => u < l,
                    _ => false,
                };
                let exclusive = exclusive || time_exclusive(uv, lv);
                let base = format!("{ln}_{un}");
                if exclusive {
                    let f = self.fail(
                        ln,
                        &format!("{base}_exclusive"),
                        &format!(
                            "value must be {} {} or {} {}",
                            words(un),
                            Self::show(uv),
                            words(ln),
                            Self::show(lv)
                        ),
                    );
                    quote!(if !(#lc || #uc) { #f })
                } else {
                    let f = self.fail(
                        ln,
                        &base,
                        &format!(
                            "value must be {} {} and {} {}",
                            words(ln),
                            Self::show(lv),
                            words(un),
                            Self::show(uv)
                        ),
                    );
                    quote!(if !(#lc && #uc) { #f })
                }
            }
        }
    }
}

/// A numeric rule value, ordered exactly (integers as i128, floats as f64).
#[derive(PartialEq, PartialOrd)]
enum Num {
    Int(i128),
    Float(f64),
}

fn value_f64(v: &RuleValue) -> Option<Num> {
    match v {
        RuleValue::Float(f) => Some(Num::Float(*f)),
        RuleValue::Int(i) => Some(Num::Int(i128::from(*i))),
        RuleValue::Uint(u) => Some(Num::Int(i128::from(*u))),
        _ => None,
    }
}

/// Exclusive ranges of Duration and Timestamp bounds, compared as (seconds, nanos).
fn time_exclusive(uv: &RuleValue, lv: &RuleValue) -> bool {
    match (uv, lv) {
        (
            RuleValue::Time {
                seconds: us,
                nanos: un,
            },
            RuleValue::Time {
                seconds: ls,
                nanos: ln,
            },
        ) => (*us, *un) < (*ls, *ln),
        _ => false,
    }
}
