//! The filter limits (crate::limits) as tables: just under each one parses, one step past is
//! 400 `invalidFilter` naming the limit, and the worst filter allowed is walked by every
//! recursive function without needing much stack.

use super::*;
use crate::limits::{
    MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_FILTER_OPERATORS, MAX_FILTER_TERMS, MAX_PATH_LENGTH,
};
use crate::path::PatchPath;
use crate::schema;
use crate::ScimType;

fn nested(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "(".repeat(depth), ")".repeat(depth))
}

fn nots(count: usize, inner: &str) -> String {
    format!("{}{inner}", "not ".repeat(count))
}

fn chain(terms: usize, term: &str, joiner: &str) -> String {
    (0..terms)
        .map(|i| format!("{term}{i} pr"))
        .collect::<Vec<_>>()
        .join(joiner)
}

fn assert_limit(input: &str, limit: usize) {
    let err = parse(input).expect_err("past a limit");
    assert_eq!(err.status, 400);
    assert_eq!(
        err.scim_type,
        Some(ScimType::InvalidFilter),
        "{}",
        err.detail
    );
    assert!(
        err.detail.contains(&format!("limit of {limit}")),
        "{:?} names the limit {limit}",
        err.detail
    );
    assert!(err.detail.len() < 200, "never echoes the input");
}

#[test]
fn depth_counts_parentheses_not_and_value_filters() {
    let at_limit = [
        nested(MAX_FILTER_DEPTH, "userName pr"),
        nots(MAX_FILTER_DEPTH, "userName pr"),
        format!("emails[{}]", nested(MAX_FILTER_DEPTH - 1, "type pr")),
        // `not (…)` is one level, as `not …` is (and as Display writes it).
        format!(
            "{}userName pr{}",
            "not (".repeat(MAX_FILTER_DEPTH),
            ")".repeat(MAX_FILTER_DEPTH)
        ),
        format!("{}userName pr)", nots(MAX_FILTER_DEPTH, "(")),
        // Siblings do not add up: each is one level.
        (0..40).map(|_| "(a pr)").collect::<Vec<_>>().join(" and "),
    ];
    for input in &at_limit {
        assert!(parse(input).is_ok(), "{input}");
    }
    let past = [
        nested(MAX_FILTER_DEPTH + 1, "userName pr"),
        nots(MAX_FILTER_DEPTH + 1, "userName pr"),
        format!("emails[{}]", nested(MAX_FILTER_DEPTH, "type pr")),
        format!(
            "{}userName pr{}",
            "not (".repeat(MAX_FILTER_DEPTH + 1),
            ")".repeat(MAX_FILTER_DEPTH + 1)
        ),
        format!("{}userName pr)", nots(MAX_FILTER_DEPTH + 1, "(")),
        // The report's attack: about 2,000 levels in 4-6 KB.
        nested(2_000, "userName pr"),
        nots(2_000, "userName pr"),
        // Unbalanced: refused for its depth before its syntax is even finished.
        "(".repeat(5_000),
    ];
    for input in &past {
        assert_limit(input, MAX_FILTER_DEPTH);
    }
}

#[test]
fn terms_and_operators_are_counted() {
    for input in [
        chain(MAX_FILTER_TERMS, "a", " or "),
        chain(MAX_FILTER_TERMS, "a", " and "),
        // A value path counts itself and what its brackets hold: 2 + 2 + … terms.
        (0..MAX_FILTER_TERMS / 2)
            .map(|i| format!("emails[type eq \"t{i}\"]"))
            .collect::<Vec<_>>()
            .join(" or "),
        // MAX_FILTER_OPERATORS exactly: 128 `not`, 127 `or`, one `not` around them all.
        format!(
            "not ({})",
            (0..MAX_FILTER_OPERATORS / 2)
                .map(|i| format!("not (a{i} pr)"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    ] {
        let filter = parse(&input).expect("at the limit");
        assert!(filter.terms() <= MAX_FILTER_TERMS);
    }
    let cases = [
        (chain(MAX_FILTER_TERMS + 1, "a", " or "), MAX_FILTER_TERMS),
        (chain(MAX_FILTER_TERMS + 1, "a", " and "), MAX_FILTER_TERMS),
        (
            (0..MAX_FILTER_TERMS / 2 + 1)
                .map(|i| format!("emails[type eq \"t{i}\"]"))
                .collect::<Vec<_>>()
                .join(" or "),
            MAX_FILTER_TERMS,
        ),
        // Entra's `emails[…].value eq "x"` is three terms and an `and`.
        (
            (0..MAX_FILTER_TERMS / 3 + 1)
                .map(|i| format!("emails[type eq \"w\"].value eq \"{i}\""))
                .collect::<Vec<_>>()
                .join(" or "),
            MAX_FILTER_TERMS,
        ),
        // `not` is an operator: 129 terms, 128 `or` and 129 `not`.
        (
            (0..MAX_FILTER_OPERATORS / 2 + 1)
                .map(|i| format!("not (a{i} pr)"))
                .collect::<Vec<_>>()
                .join(" or "),
            MAX_FILTER_OPERATORS,
        ),
    ];
    for (input, limit) in &cases {
        assert!(input.len() <= MAX_FILTER_LENGTH, "{} bytes", input.len());
        assert_limit(input, *limit);
    }
}

#[test]
fn length_is_bounded_before_anything_else() {
    let value = |n: usize| format!("userName eq \"{}\"", "x".repeat(n));
    let overhead = value(0).len();
    assert!(parse(&value(MAX_FILTER_LENGTH - overhead)).is_ok());
    assert_limit(&value(MAX_FILTER_LENGTH - overhead + 1), MAX_FILTER_LENGTH);
    // The report's 20,000-term `or` chain, and a megabyte of anything.
    assert_limit(&chain(20_000, "userName", " or "), MAX_FILTER_LENGTH);
    assert_limit(&"(".repeat(1 << 20), MAX_FILTER_LENGTH);
    assert_limit(&"\"".repeat(1 << 20), MAX_FILTER_LENGTH);
}

#[test]
fn patch_path_filters_keep_their_limit_and_syntax_stays_invalid_path() {
    let table = [
        (
            format!(
                "emails[{}].value",
                nested(MAX_FILTER_DEPTH, "type eq \"w\"")
            ),
            ScimType::InvalidFilter,
        ),
        (
            format!("members[{}]", chain(MAX_FILTER_TERMS + 1, "value", " or ")),
            ScimType::InvalidFilter,
        ),
        (
            format!("members[value eq \"{}\"]", "x".repeat(MAX_FILTER_LENGTH)),
            ScimType::InvalidFilter,
        ),
        (
            format!("emails[{}", nested(3_000, "type pr")),
            ScimType::InvalidPath,
        ),
        ("a".repeat(MAX_PATH_LENGTH + 1), ScimType::InvalidPath),
        ("emails[type eq ]".into(), ScimType::InvalidPath),
    ];
    for (path, expected) in &table {
        let err = PatchPath::parse(path).expect_err("refused");
        assert_eq!(err.scim_type, Some(*expected), "{}", err.detail);
    }
    let deepest = format!(
        "emails[{}].value",
        nested(MAX_FILTER_DEPTH - 1, "type eq \"w\"")
    );
    assert!(PatchPath::parse(&deepest).is_ok());
}

/// Runs `f` on a thread with a small stack: a worker's stack (2 MiB) is many times this.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("finished without overflowing");
}

#[test]
fn the_worst_filters_allowed_are_walked_on_a_small_stack() {
    let long_or = chain(MAX_FILTER_TERMS, "a", " or ");
    let deep = nested(
        MAX_FILTER_DEPTH - 1,
        &format!("emails[{}]", chain(MAX_FILTER_TERMS - 1, "t", " and ")),
    );
    let mixed = format!(
        "{}{}{}",
        "not (".repeat(MAX_FILTER_DEPTH / 2),
        chain(MAX_FILTER_OPERATORS - MAX_FILTER_DEPTH / 2, "a", " or "),
        ")".repeat(MAX_FILTER_DEPTH / 2)
    );
    for input in [long_or, deep, mixed] {
        on_small_stack(move || {
            let filter = parse(&input).expect("allowed");
            let user = serde_json::json!({"userName": "u", "emails": [{"type": "t1"}]});
            validate(&filter, schema::user()).expect("valid");
            let _ = matches(&filter, &user, schema::user());
            let again = parse(&filter.to_string()).expect("round-trips");
            assert_eq!(again, filter.clone());
            drop(filter);
        });
    }
}
