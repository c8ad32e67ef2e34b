//! Reading the upstream claims for the mappers: claim paths to values, absent, empty and
//! withheld claims, values as text, what a condition wants of them, and username templates.

use std::collections::BTreeMap;

use serde_json::Value;

use super::MapperError;
use crate::config::{
    full_match_regex, ClaimPath, TemplatePart, TemplateTarget, TemplateValue, Transformer,
    UsernameTemplate,
};

/// A claim as the mappers see it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Claim<'v> {
    /// The IdP has values for it and did not send them: nothing can be decided from it.
    Withheld(&'v str),
    Absent,
    /// Present, possibly empty (`null`, `""`, `[]`).
    Present(&'v Value),
}

pub(super) fn lookup<'v>(claims: &'v Value, path: &'v ClaimPath) -> Claim<'v> {
    let top = path.top_level();
    let listed = claims
        .get("_claim_names")
        .and_then(Value::as_object)
        .is_some_and(|names| names.contains_key(top));
    if listed || (top == "groups" && claims.get("hasgroups") == Some(&Value::Bool(true))) {
        return Claim::Withheld(top);
    }
    let mut current = claims;
    for segment in path.segments() {
        let Some(mut next) = current.get(&segment.name) else {
            return Claim::Absent;
        };
        for &index in &segment.indexes {
            match next.get(index) {
                Some(element) => next = element,
                None => return Claim::Absent,
            }
        }
        current = next;
    }
    Claim::Present(current)
}

/// A claim's values as text (Keycloak's `UserAttributeMapper.toList`).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Values {
    Some(Vec<String>),
    /// `null`, `""`, `[]`, or an array of only those.
    Empty,
    /// Only objects or nested arrays, which no attribute can hold: skipped, as if absent.
    Unusable,
}

pub(super) fn values(value: &Value) -> Values {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    let mut texts = Vec::new();
    let mut skipped = false;
    for item in items {
        match text(item) {
            Some(t) if t.is_empty() => {}
            Some(t) => texts.push(t),
            None if item.is_null() => {}
            None => skipped = true,
        }
    }
    match (texts.is_empty(), skipped) {
        (false, _) => Values::Some(texts),
        (true, false) => Values::Empty,
        (true, true) => Values::Unusable,
    }
}

/// A string as it is; a number or boolean as its JSON text (`42`, `1.5`, `true`).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Attribute values compared as Keycloak's `CollectionUtil.collectionEquals` does: in any order,
/// so an IdP that reorders the groups does not cause a write at every login.
pub(super) fn same_values(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// What a role or group mapper's condition says at this login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Condition<'v> {
    Holds,
    Fails,
    Withheld(&'v str),
}

/// A value a claim must hold.
pub(super) enum Wanted<'m> {
    Equals(&'m str),
    /// A regex matching the whole text (`config::full_match_regex`).
    Matches(regex::Regex),
}

impl Wanted<'_> {
    /// Keycloak's `AbstractClaimMapper.valueEquals` and `RegexUtils.valueMatchesRegex`: a
    /// string equal to (matched by) the value, a number or boolean likewise by its text (a
    /// number also by its value, so `1.0` holds "1", as Keycloak's `Double.valueOf`), an array
    /// with such an element. `null` and objects hold nothing.
    pub(super) fn accepts(&self, value: &Value) -> bool {
        if let Value::Array(items) = value {
            return items.iter().any(|item| self.accepts(item));
        }
        let Some(text) = text(value) else {
            return false;
        };
        match self {
            Wanted::Equals(wanted) => {
                text == *wanted
                    || value
                        .as_f64()
                        .zip(wanted.parse::<f64>().ok())
                        .is_some_and(|(a, b)| a == b)
            }
            Wanted::Matches(regex) => regex.is_match(&text),
        }
    }
}

/// An advanced mapper's claims, each with the value it must hold.
pub(super) fn wanted<'m>(
    mapper: &str,
    claims: &'m BTreeMap<ClaimPath, String>,
    regex: bool,
) -> Result<Vec<(&'m ClaimPath, Wanted<'m>)>, MapperError> {
    claims
        .iter()
        .map(|(path, value)| {
            let wanted = match regex {
                false => Wanted::Equals(value),
                true => {
                    Wanted::Matches(full_match_regex(value).map_err(|e| MapperError::Invalid {
                        mapper: mapper.to_string(),
                        message: format!("the regex for claim {path} does not compile: {e}"),
                    })?)
                }
            };
            Ok((path, wanted))
        })
        .collect()
}

/// Every claim must hold its value (Keycloak's `hasAllClaimValues`); a withheld claim makes the
/// condition unknown, whatever the others say.
pub(super) fn condition<'m>(
    claims: &'m Value,
    wanted: impl IntoIterator<Item = (&'m ClaimPath, Wanted<'m>)>,
) -> Condition<'m> {
    let mut condition = Condition::Holds;
    for (path, wanted) in wanted {
        match lookup(claims, path) {
            Claim::Withheld(claim) => return Condition::Withheld(claim),
            Claim::Present(value) if wanted.accepts(value) => {}
            Claim::Present(_) | Claim::Absent => condition = Condition::Fails,
        }
    }
    condition
}

/// A template with its substitutions made (Keycloak's `UsernameTemplateMapper`). A missing
/// claim renders as empty, as in Keycloak; a multi-valued claim gives its first value (Keycloak
/// takes the element of a one-element list, prints a longer one as `[a, b]`, and its SAML
/// `${ATTRIBUTE.x}` takes the first value). An empty result is refused.
pub(super) fn render(
    template: &UsernameTemplate,
    target: TemplateTarget,
    mapper: &str,
    claims: &Value,
    alias: &str,
    new_uuid: &mut dyn FnMut() -> String,
) -> Result<String, MapperError> {
    let mut out = String::new();
    for part in template.parts() {
        let (value, transformers) = match part {
            TemplatePart::Text(text) => {
                out.push_str(text);
                continue;
            }
            TemplatePart::Substitution {
                value,
                transformers,
            } => (value, transformers),
        };
        let mut text = match value {
            TemplateValue::Alias => alias.to_string(),
            TemplateValue::Uuid => new_uuid(),
            TemplateValue::Claim(path) => match lookup(claims, path) {
                Claim::Present(value) => match values(value) {
                    Values::Some(values) => values.into_iter().next().unwrap_or_default(),
                    Values::Empty | Values::Unusable => String::new(),
                },
                Claim::Absent | Claim::Withheld(_) => String::new(),
            },
        };
        for transformer in transformers {
            text = match transformer {
                Transformer::Lowercase => text.to_lowercase(),
                Transformer::Uppercase => text.to_uppercase(),
            };
        }
        out.push_str(&text);
    }
    if out.trim().is_empty() {
        return Err(MapperError::Empty {
            mapper: mapper.to_string(),
            target,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
