//! The bounds this crate puts on what a client sends, so that no request can exhaust a stack
//! (every recursive walk over a filter, path or value is bounded by these, checked before any
//! deeper recursion) or hold a server's single database writer for long.
//!
//! Real clients stay far inside them: Entra sends `userName eq "…"`, at most two terms joined by
//! `and` (entra-scim.md §2.2, "Microsoft Entra only uses the following operators: eq, and"), a
//! user PATCH of one operation per changed attribute (a few dozen at most) and member changes
//! in batches (≥ 50 members per PATCH expected, entra-scim.md §2.7); Okta and scim2-tester are
//! no deeper. Refusals are 400 with `invalidFilter` (filters, RFC 7644 §3.4.2.2 and §3.12: it
//! covers PATCH path filters too) or `tooMany` (PATCH and bodies, §3.12: "more than the server
//! is willing to process"), and a detail naming the limit, never echoing the input.

use serde_json::Value;

use crate::{ScimError, ScimType};

/// The longest filter, in bytes (a `filter` parameter, a SearchRequest member, or the inside of
/// a PATCH path's `[...]`). A hundred `id eq "<uuid>"` terms joined by `or` fit.
pub const MAX_FILTER_LENGTH: usize = 8 * 1024;
/// The longest PATCH path, in bytes: a value filter of the longest length plus room for the
/// attribute (URN-qualified) before it and the sub-attribute after it.
pub const MAX_PATH_LENGTH: usize = MAX_FILTER_LENGTH + 512;
/// The deepest nesting of parentheses, `not` and value filters (`attr[...]`) in a filter.
pub const MAX_FILTER_DEPTH: usize = 32;
/// The most attribute expressions (`attr op value`, `attr pr`, `attr[...]` and each term inside
/// the brackets) in one filter. A flat `or` chain parses into a tree as deep as it is long, so
/// this also bounds the depth of every walk over a parsed filter.
pub const MAX_FILTER_TERMS: usize = 256;
/// The most logical operators (`and`, `or`, `not`) in one filter.
pub const MAX_FILTER_OPERATORS: usize = 256;

/// The most operations in one PATCH request. Entra sends one per changed attribute.
pub const MAX_PATCH_OPERATIONS: usize = 100;
/// The most values one write may touch: across the operations of a PATCH, or in a POST or PUT
/// body (see [`values`] for how they are counted). Bounds, for instance, the members one
/// request adds or removes, each a row the server writes: twice the 50 member changes per
/// PATCH that Entra is expected to batch. Measured on SQLite (release build, this project's
/// 2-core machine under load), 100 member adds, 100 emails or a group created with 100
/// members cost 3-4 ms of the writer above a one-attribute PATCH; 1,000 cost 15-36 ms.
pub const MAX_WRITE_VALUES: usize = 100;
/// The largest POST, PUT or PATCH body, in bytes. A server with a single database writer
/// parses a write inside the writer's job (after the token check), at about 10 µs per KiB:
/// 64 KiB is a millisecond, and ample for 100 values. Larger bodies are refused unread.
pub const MAX_WRITE_BODY_BYTES: usize = 64 * 1024;
/// The deepest nesting of arrays and objects in one PATCH operation's `value` (a string is 0,
/// `{"value": "x"}` 1, `[{"value": "x"}]` 2), and in each attribute of a POST or PUT body. SCIM
/// itself needs 3 (RFC 7643 §2.3.8: complex attributes hold no complex sub-attributes).
pub const MAX_VALUE_DEPTH: usize = 8;

fn too_many(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::TooMany, detail)
}

/// How deep arrays and objects nest in `value` (0 for a scalar), without recursion.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0)];
    while let Some((v, level)) = pending.pop() {
        let below = level + 1;
        match v {
            Value::Array(items) => pending.extend(items.iter().map(|c| (c, below))),
            Value::Object(map) => pending.extend(map.values().map(|c| (c, below))),
            _ => continue,
        }
        deepest = deepest.max(below);
    }
    deepest
}

/// The values `value` lists: the elements of an array (each one value, whatever it holds), the
/// values of an object's members counted the same way, and 1 for anything else. A member add
/// of 50 users counts 50, so does the same list under a path-less `{"members": [...]}`.
pub fn values(value: &Value) -> usize {
    let mut count = 0;
    let mut pending = vec![value];
    while let Some(v) = pending.pop() {
        match v {
            Value::Array(items) => count += items.len(),
            Value::Object(map) => pending.extend(map.values()),
            _ => count += 1,
        }
    }
    count
}

/// [`MAX_VALUE_DEPTH`] for one value a request writes; `what` names it in the error.
pub(crate) fn check_depth(value: &Value, what: &str) -> Result<(), ScimError> {
    if depth(value) > MAX_VALUE_DEPTH {
        return Err(too_many(format!(
            "{what} nests arrays and objects deeper than the limit of {MAX_VALUE_DEPTH} levels"
        )));
    }
    Ok(())
}

/// [`MAX_WRITE_VALUES`] for a request that touches `count` values.
pub(crate) fn check_values(count: usize) -> Result<(), ScimError> {
    if count > MAX_WRITE_VALUES {
        return Err(too_many(format!(
            "The request touches more than the limit of {MAX_WRITE_VALUES} values; \
             send the change in several requests"
        )));
    }
    Ok(())
}

/// [`MAX_PATCH_OPERATIONS`] for a PATCH of `count` operations.
pub(crate) fn check_operations(count: usize) -> Result<(), ScimError> {
    if count > MAX_PATCH_OPERATIONS {
        return Err(too_many(format!(
            "The PATCH has {count} operations, more than the limit of {MAX_PATCH_OPERATIONS}; \
             send them in several requests"
        )));
    }
    Ok(())
}

/// The limits for a POST or PUT body (a resource object): each attribute nested at most
/// [`MAX_VALUE_DEPTH`] deep, at most [`MAX_WRITE_VALUES`] values in all.
pub fn check_body(body: &Value) -> Result<(), ScimError> {
    if let Value::Object(map) = body {
        for value in map.values() {
            check_depth(value, "An attribute of the body")?;
        }
    }
    check_values(values(body))
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
