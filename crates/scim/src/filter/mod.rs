//! The SCIM filter language (RFC 7644 §3.4.2.2): the syntax tree, the parser
//! (in `parse`), schema validation, and evaluation against stored resources
//! (in `eval`).
//!
//! Entra quirks absorbed here (entra-scim.md §2.2, §9):
//! - `emails[type eq "work"].value eq "x"` is not RFC grammar but is what Entra sends
//!   for an email matching attribute; it parses as
//!   `emails[type eq "work" and value eq "x"]`.
//! - a bare unquoted value (`externalId eq jyoung`, from Microsoft's docs) is a string.
//! - unqualified extension attributes (`manager eq "…"`) resolve against extensions.

mod eval;
mod parse;

use std::fmt;

pub use eval::matches;
pub(crate) use eval::matches_item;
pub use parse::parse;
pub(crate) use parse::{parse_value_filter, ValueFilterError};

use crate::path::AttrPath;
use crate::schema::{AttrDef, AttrType, ResourceSchema};
use crate::{ScimError, ScimType};

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
    /// `attr pr`
    Present(AttrPath),
    /// `attr op value`
    Compare(AttrPath, CompareOp, CompValue),
    /// `attr[inner]`: the inner paths name sub-attributes of `attr`.
    ValuePath(AttrPath, Box<Filter>),
}

/// RFC 7644 §3.4.2.2 Table 3 comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal to
    Ge,
    /// less than
    Lt,
    /// less than or equal to
    Le,
}

impl CompareOp {
    /// Parses an operator keyword, case-insensitively.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        const TABLE: [(&str, CompareOp); 9] = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        TABLE
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(word))
            .map(|(_, op)| *op)
    }

    /// The lower-case keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// `gt`, `ge`, `lt`, `le`: undefined for booleans and binary (RFC 7644 §3.4.2.2).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }
}

/// A comparison value: a JSON literal (RFC 7644 §3.4.2.2 compValue).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// a JSON number
    Number(serde_json::Number),
    /// a JSON string (or a tolerated bare token)
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
        }
    }
}

impl Filter {
    /// The attribute expressions in the filter (a value path counts itself and the terms
    /// inside its brackets), counted without recursion.
    pub fn terms(&self) -> usize {
        let mut count = 0;
        let mut pending = vec![self];
        while let Some(filter) = pending.pop() {
            match filter {
                Filter::And(a, b) | Filter::Or(a, b) => pending.extend([&**a, &**b]),
                Filter::Not(inner) => pending.push(inner),
                Filter::ValuePath(_, inner) => {
                    count += 1;
                    pending.push(inner);
                }
                Filter::Present(_) | Filter::Compare(..) => count += 1,
            }
        }
        count
    }

    fn fmt_child(&self, child: &Filter, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `and` binds tighter than `or` (RFC 7644 §3.4.2.2 precedence); `not` and value
        // paths bring their own brackets. So only an `or` inside an `and` needs them.
        if matches!((self, child), (Filter::And(..), Filter::Or(..))) {
            write!(f, "({child})")
        } else {
            write!(f, "{child}")
        }
    }
}

/// Writes RFC 7644 filter syntax, parenthesised only where precedence needs it.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                self.fmt_child(a, f)?;
                f.write_str(if matches!(self, Filter::And(..)) {
                    " and "
                } else {
                    " or "
                })?;
                self.fmt_child(b, f)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::Compare(p, op, v) => write!(f, "{p} {} {v}", op.as_str()),
            Filter::ValuePath(p, inner) => write!(f, "{p}[{inner}]"),
        }
    }
}

/// The definition a filter path compares against: the sub-attribute when named,
/// else the `value` sub-attribute of a complex attribute, else the attribute.
fn leaf_def(def: &'static AttrDef, sub: Option<&str>) -> Option<&'static AttrDef> {
    match sub {
        Some(sub) => def.sub(sub),
        None if def.has_value_sub() => def.sub("value"),
        None => Some(def),
    }
}

fn check(
    filter: &Filter,
    schema: &ResourceSchema,
    parent: Option<&'static AttrDef>,
) -> Result<(), ScimError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, schema, parent)?;
            check(b, schema, parent)
        }
        Filter::Not(inner) => check(inner, schema, parent),
        Filter::Present(_) => Ok(()),
        Filter::ValuePath(path, inner) => {
            let def = schema
                .resolve(path.urn.as_deref(), &path.name)
                .map(|(_, d)| d);
            match def {
                Some(def) => check(inner, schema, Some(def)),
                None => Ok(()),
            }
        }
        Filter::Compare(path, op, _) if op.is_ordering() => {
            let def = match parent {
                Some(parent) if path.urn.is_none() && path.sub_attr.is_none() => {
                    parent.sub(&path.name)
                }
                Some(_) => None,
                None => schema
                    .resolve(path.urn.as_deref(), &path.name)
                    .and_then(|(_, d)| leaf_def(d, path.sub_attr.as_deref())),
            };
            match def.map(|d| d.attr_type) {
                Some(t @ (AttrType::Boolean | AttrType::Binary)) => Err(ScimError::bad_request(
                    ScimType::InvalidFilter,
                    format!(
                        "Operator '{}' is not defined for the {} attribute '{path}' (RFC 7644 §3.4.2.2)",
                        op.as_str(),
                        t.as_str()
                    ),
                )),
                _ => Ok(()),
            }
        }
        Filter::Compare(..) => Ok(()),
    }
}

/// Checks a parsed filter against a schema: `gt`/`ge`/`lt`/`le` on a boolean or
/// binary attribute is 400 `invalidFilter` (RFC 7644 §3.4.2.2). Unknown attributes
/// are not an error: they match nothing.
pub fn validate(filter: &Filter, schema: &ResourceSchema) -> Result<(), ScimError> {
    check(filter, schema, None)
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod limits_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;

    #[test]
    fn ordering_on_boolean_or_binary_is_invalid_filter() {
        let table = [
            ("active gt true", Some(ScimType::InvalidFilter)),
            ("emails.primary le false", Some(ScimType::InvalidFilter)),
            ("emails[primary ge true]", Some(ScimType::InvalidFilter)),
            ("x509Certificates gt \"MII\"", Some(ScimType::InvalidFilter)),
            (
                "userName gt \"a\" or not (active lt false)",
                Some(ScimType::InvalidFilter),
            ),
            ("active eq true", None),
            ("meta.lastModified gt \"2011-05-13T04:42:34Z\"", None),
            ("userName gt \"j\"", None),
            ("unknownAttr gt true", None),
        ];
        for (input, expected) in table {
            let f = parse(input).expect(input);
            let got = validate(&f, schema::user()).err().and_then(|e| e.scim_type);
            assert_eq!(got, expected, "{input}");
        }
    }

    #[test]
    fn inside_brackets_only_a_plain_name_is_a_sub_attribute() {
        // The parser refuses `emails[primary.x gt true]`; a filter built by hand may hold
        // it, and names nothing there: no sub-attribute, so no boolean to refuse `gt` on.
        let inside = |urn: Option<&str>, sub: Option<&str>| {
            let path = AttrPath {
                urn: urn.map(str::to_owned),
                name: "primary".into(),
                sub_attr: sub.map(str::to_owned),
            };
            let gt = Filter::Compare(path, CompareOp::Gt, CompValue::Bool(true));
            Filter::ValuePath(AttrPath::new("emails"), Box::new(gt))
        };
        assert!(validate(&inside(None, Some("x")), schema::user()).is_ok());
        assert!(validate(&inside(Some("urn:acme:x"), None), schema::user()).is_ok());
        let err = validate(&inside(None, None), schema::user()).expect_err("boolean");
        assert_eq!(err.scim_type, Some(ScimType::InvalidFilter));
        assert_eq!(
            err.detail,
            "Operator 'gt' is not defined for the boolean attribute 'primary' (RFC 7644 §3.4.2.2)"
        );
    }

    #[test]
    fn terms_count_attribute_expressions_and_value_paths() {
        let table = [
            (r#"userName eq "bjensen""#, 1),
            (r#"emails[type eq "work"]"#, 2),
            (r#"emails[type eq "work" and value co "@example.com"]"#, 3),
            (
                r#"title pr and not (emails[type eq "work"] or userType eq "Intern")"#,
                4,
            ),
        ];
        for (input, expected) in table {
            assert_eq!(parse(input).expect(input).terms(), expected, "{input}");
        }
    }

    #[test]
    fn display_round_trips_through_the_parser() {
        for input in [
            r#"userName eq "bjensen""#,
            r#"title pr and (userType eq "Employee" or userType eq "Intern")"#,
            r#"not (emails co "example.com") and meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp"]"#,
            r#"a eq null or b eq true or c eq 1.5"#,
        ] {
            let f = parse(input).expect(input);
            assert_eq!(f.to_string(), input);
            assert_eq!(parse(&f.to_string()), Ok(f));
        }
    }
}
