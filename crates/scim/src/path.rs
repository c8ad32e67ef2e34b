//! Attribute paths (RFC 7644 §3.10) and PATCH paths (RFC 7644 §3.5.2):
//! `userName`, `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`,
//! `members[value eq "x"]`, `emails[type eq "work"].value`.
//!
//! Parsing is purely syntactic; whether a name exists is decided against a
//! [`ResourceSchema`](crate::schema::ResourceSchema) by the caller.

use std::fmt;

use crate::filter::{self, Filter, ValueFilterError};
use crate::limits::MAX_PATH_LENGTH;
use crate::{ScimError, ScimType};

/// `[URI ":"] ATTRNAME *1subAttr` (RFC 7644 §3.10).
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// Schema URN prefix, as written (e.g. the enterprise extension URN).
    pub urn: Option<String>,
    /// Attribute name, as written (resolve case-insensitively).
    pub name: String,
    /// Sub-attribute name, as written.
    pub sub_attr: Option<String>,
}

fn invalid_path(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidPath, detail)
}

/// RFC 7643 §2.1 ATTRNAME = ALPHA *(nameChar); `$ref` is the one reserved exception.
fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some('$') => s.len() > 1 && chars.all(|c| c.is_ascii_alphanumeric()),
        Some(c) if c.is_ascii_alphabetic() => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        _ => false,
    }
}

impl AttrPath {
    /// A plain top-level name without URN or sub-attribute.
    pub fn new(name: impl Into<String>) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub_attr: None,
        }
    }

    /// Parses `[urn:]name[.sub]`. The URN is everything before the last `:`, since
    /// attribute names cannot contain `:` while URNs contain dots (`2.0`).
    /// Errors are 400 `invalidPath`.
    pub fn parse(s: &str) -> Result<AttrPath, ScimError> {
        let s = s.trim();
        let (urn, rest) = match s.rfind(':') {
            Some(i) => (Some(&s[..i]), &s[i + 1..]),
            None => (None, s),
        };
        if urn.is_some_and(|u| u.is_empty() || u.chars().any(char::is_whitespace)) {
            return Err(invalid_path(format!("Invalid schema URN in path '{s}'")));
        }
        let (name, sub) = match rest.split_once('.') {
            Some((n, sub)) => (n, Some(sub)),
            None => (rest, None),
        };
        if !is_attr_name(name) || !sub.is_none_or(is_attr_name) {
            return Err(invalid_path(format!("Invalid attribute path '{s}'")));
        }
        Ok(AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub_attr: sub.map(str::to_owned),
        })
    }

    /// True when the path, read whole, spells the schema URN `urn` (as when a client
    /// names a whole extension: `attributes=urn:…:enterprise:2.0:User`).
    pub fn is_schema_urn(&self, urn: &str) -> bool {
        let Some(prefix) = self.urn.as_deref() else {
            return false;
        };
        self.sub_attr.is_none()
            && urn.len() == prefix.len() + 1 + self.name.len()
            && urn
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            && urn.as_bytes().get(prefix.len()) == Some(&b':')
            && urn
                .get(prefix.len() + 1..)
                .is_some_and(|n| n.eq_ignore_ascii_case(&self.name))
    }

    /// The whole path read as one URN (`urn:name`), for paths that name a schema.
    pub fn as_urn(&self) -> Option<String> {
        match (&self.urn, &self.sub_attr) {
            (Some(u), None) => Some(format!("{u}:{}", self.name)),
            _ => None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// PATCH `path = attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute; its `sub_attr` is `None` when a filter is present.
    pub attr: AttrPath,
    /// The value selection filter inside `[...]`; its paths name sub-attributes.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, as in `emails[type eq "work"].value`.
    pub sub_attr: Option<String>,
}

/// Index in `inside` (the text after a `[`) of the `]` closing it, skipping quoted strings.
fn closing_bracket(inside: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in inside.char_indices() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (false, _, '"') => in_string = true,
            (false, _, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

impl PatchPath {
    /// Parses a PATCH path. Errors (including a bad filter) are 400 `invalidPath`, except a
    /// filter past one of [`crate::limits`], which is `invalidFilter` (RFC 7644 §3.12 names
    /// it for PATCH path filters).
    pub fn parse(s: &str) -> Result<PatchPath, ScimError> {
        let s = s.trim();
        if s.len() > MAX_PATH_LENGTH {
            return Err(invalid_path(format!(
                "The path is {} bytes long, more than the limit of {MAX_PATH_LENGTH}",
                s.len()
            )));
        }
        let Some(open) = s.find('[') else {
            return Ok(PatchPath {
                attr: AttrPath::parse(s)?,
                filter: None,
                sub_attr: None,
            });
        };
        let attr = AttrPath::parse(&s[..open])?;
        if attr.sub_attr.is_some() {
            return Err(invalid_path(format!(
                "A value filter must follow a multi-valued attribute, not a sub-attribute, in '{s}'"
            )));
        }
        let inside = &s[open + 1..];
        let close = closing_bracket(inside)
            .ok_or_else(|| invalid_path(format!("Unbalanced '[' in path '{s}'")))?;
        let filter = filter::parse_value_filter(&inside[..close]).map_err(|e| match e {
            ValueFilterError::Limit(e) => e,
            ValueFilterError::Syntax(e) => {
                invalid_path(format!("Invalid filter in path '{s}': {}", e.detail))
            }
        })?;
        let sub_attr = match &inside[close + 1..] {
            "" => None,
            rest => match rest.strip_prefix('.') {
                Some(sub) if is_attr_name(sub) => Some(sub.to_owned()),
                _ => {
                    return Err(invalid_path(format!(
                        "Invalid text after ']' in path '{s}'"
                    )))
                }
            },
        };
        Ok(PatchPath {
            attr,
            filter: Some(filter),
            sub_attr,
        })
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{CompValue, CompareOp};
    use crate::ENTERPRISE_USER_SCHEMA;

    fn ap(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub_attr: sub.map(str::to_owned),
        }
    }

    #[test]
    fn attribute_paths_rfc_7644_section_3_10() {
        let table = [
            ("userName", ap(None, "userName", None)),
            ("name.givenName", ap(None, "name", Some("givenName"))),
            (" emails.value ", ap(None, "emails", Some("value"))),
            ("members.$ref", ap(None, "members", Some("$ref"))),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                ap(Some(ENTERPRISE_USER_SCHEMA), "manager", None),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                ap(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value")),
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                ap(
                    Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                    "userName",
                    None,
                ),
            ),
            (
                "urn:acme:custom:1.0:User:badge-number",
                ap(Some("urn:acme:custom:1.0:User"), "badge-number", None),
            ),
        ];
        for (input, expected) in table {
            assert_eq!(AttrPath::parse(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn malformed_attribute_paths_are_invalid_path() {
        for input in [
            "",
            "a.b.c",
            "1abc",
            "name.",
            ":userName",
            "user name",
            "emails[",
            "a b:c",
            // `$ref` is the one name with a `$` (RFC 7643 §2.1); a `$` needs letters after it.
            "$",
            "members.$",
            "members.$re-f",
        ] {
            let err = AttrPath::parse(input).expect_err(input);
            assert_eq!(err.scim_type, Some(ScimType::InvalidPath), "{input}");
            assert_eq!(err.status, 400);
        }
    }

    #[test]
    fn whole_schema_urns_are_recognised() {
        let p = AttrPath::parse(ENTERPRISE_USER_SCHEMA).expect("parses");
        assert!(p.is_schema_urn(ENTERPRISE_USER_SCHEMA));
        assert!(p.is_schema_urn(&ENTERPRISE_USER_SCHEMA.to_uppercase()));
        assert_eq!(p.as_urn().as_deref(), Some(ENTERPRISE_USER_SCHEMA));
        let q =
            AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
                .expect("parses");
        assert!(!q.is_schema_urn(ENTERPRISE_USER_SCHEMA));
        assert_eq!(q.to_string(), format!("{ENTERPRISE_USER_SCHEMA}:manager"));
        // Each part must match: the URN, the ':' and the name, with no sub-attribute.
        let acme = AttrPath::parse("urn:acme:User").expect("parses");
        assert!(acme.is_schema_urn("URN:ACME:USER"));
        assert!(!acme.is_schema_urn("urn:acmf:User"));
        assert!(!acme.is_schema_urn("urn:acme:Usex"));
        assert!(!acme.is_schema_urn("urn:acme-User"));
        assert!(!acme.is_schema_urn("urn:acme:Users"));
        let dotted = AttrPath::parse("urn:acme:User.x").expect("parses");
        assert_eq!(dotted, ap(Some("urn:acme"), "User", Some("x")));
        assert!(!dotted.is_schema_urn("urn:acme:User"));
        assert_eq!(dotted.as_urn(), None);
        assert!(!AttrPath::new("User").is_schema_urn("User"));
    }

    #[test]
    fn patch_paths_rfc_7644_section_3_5_2_and_entra() {
        let p = PatchPath::parse("members").expect("members");
        assert_eq!(
            (p.attr, p.filter, p.sub_attr),
            (ap(None, "members", None), None, None)
        );

        let p = PatchPath::parse("name.familyName").expect("name.familyName");
        assert_eq!(p.attr, ap(None, "name", Some("familyName")));

        let p = PatchPath::parse(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#)
            .expect("members filter");
        assert_eq!(p.attr, ap(None, "members", None));
        assert_eq!(
            p.filter,
            Some(Filter::Compare(
                AttrPath::new("value"),
                CompareOp::Eq,
                CompValue::String("2819c223-7f76-453a-919d-413861904646".into())
            ))
        );
        assert_eq!(p.sub_attr, None);

        let p = PatchPath::parse(r#"emails[type eq "work"].value"#).expect("emails");
        assert_eq!(p.attr, ap(None, "emails", None));
        assert_eq!(p.sub_attr.as_deref(), Some("value"));

        // entra-scim.md §2.1: capital F as in Microsoft's mapping table.
        let p = PatchPath::parse(r#"addresses[type eq "other"].Formatted"#).expect("addresses");
        assert_eq!(p.sub_attr.as_deref(), Some("Formatted"));

        // A `]` inside the quoted value does not close the filter.
        let p = PatchPath::parse(r#"emails[value eq "a]b"].display"#).expect("quoted bracket");
        assert_eq!(
            p.filter,
            Some(Filter::Compare(
                AttrPath::new("value"),
                CompareOp::Eq,
                CompValue::String("a]b".into())
            ))
        );
        assert_eq!(p.to_string(), r#"emails[value eq "a]b"].display"#);

        // An escaped quote does not end the string, so the `]` after it is still inside.
        let p = PatchPath::parse(r#"emails[value eq "a\"]"].display"#).expect("escaped quote");
        assert_eq!(
            p.filter,
            Some(Filter::Compare(
                AttrPath::new("value"),
                CompareOp::Eq,
                CompValue::String("a\"]".into())
            ))
        );
        assert_eq!(p.sub_attr.as_deref(), Some("display"));
        let p = PatchPath::parse(r#"emails[value eq "a\\"].display"#).expect("escaped backslash");
        assert_eq!(
            p.filter,
            Some(Filter::Compare(
                AttrPath::new("value"),
                CompareOp::Eq,
                CompValue::String("a\\".into())
            ))
        );
    }

    #[test]
    fn malformed_patch_paths_are_invalid_path() {
        for input in [
            r#"emails[type eq "work""#,
            r#"emails[type eq ]"#,
            r#"emails[type eq "work"]value"#,
            r#"name.givenName[type eq "work"]"#,
            r#"emails[type eq "work"].value.x"#,
            r#"emails[type eq "work" and]"#,
            r#"emails[addresses[type eq "x"]]"#,
        ] {
            let err = PatchPath::parse(input).expect_err(input);
            assert_eq!(err.scim_type, Some(ScimType::InvalidPath), "{input}");
        }
    }
}
