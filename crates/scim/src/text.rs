//! Case-insensitive string comparison for filters and sorting, without allocating on
//! the hot path: ASCII strings compare byte-wise, other strings compare through
//! `char::to_lowercase` iterators. Only a non-ASCII `co` needs an allocation.

use std::cmp::Ordering;

fn folded(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

/// Equality, honouring `case_exact` (RFC 7643 §2.3.1 caseExact).
pub(crate) fn eq(a: &str, b: &str, case_exact: bool) -> bool {
    if case_exact {
        a == b
    } else if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        folded(a).eq(folded(b))
    }
}

/// Ordering, honouring `case_exact`.
pub(crate) fn cmp(a: &str, b: &str, case_exact: bool) -> Ordering {
    if case_exact {
        a.cmp(b)
    } else if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        folded(a).cmp(folded(b))
    }
}

/// `haystack` starts with `prefix`.
pub(crate) fn starts_with(haystack: &str, prefix: &str, case_exact: bool) -> bool {
    if case_exact {
        haystack.starts_with(prefix)
    } else if haystack.is_ascii() && prefix.is_ascii() {
        haystack.len() >= prefix.len()
            && haystack.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    } else {
        let mut h = folded(haystack);
        folded(prefix).all(|p| h.next() == Some(p))
    }
}

/// `haystack` ends with `suffix`.
pub(crate) fn ends_with(haystack: &str, suffix: &str, case_exact: bool) -> bool {
    if case_exact {
        haystack.ends_with(suffix)
    } else if haystack.is_ascii() && suffix.is_ascii() {
        haystack.len() >= suffix.len()
            && haystack.as_bytes()[haystack.len() - suffix.len()..]
                .eq_ignore_ascii_case(suffix.as_bytes())
    } else {
        let h: Vec<char> = folded(haystack).collect();
        let s: Vec<char> = folded(suffix).collect();
        h.ends_with(&s)
    }
}

/// `haystack` contains `needle`.
pub(crate) fn contains(haystack: &str, needle: &str, case_exact: bool) -> bool {
    if case_exact {
        haystack.contains(needle)
    } else if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        haystack.to_lowercase().contains(&needle.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_folding_table() {
        // (a, b, case_exact, eq, starts_with(a,b), ends_with(a,b), contains(a,b))
        let table = [
            ("bjensen", "BJensen", false, true, true, true, true),
            ("bjensen", "BJensen", true, false, false, false, false),
            (
                "bjensen@example.com",
                "EXAMPLE",
                false,
                false,
                false,
                false,
                true,
            ),
            ("bjensen@example.com", "B", false, false, true, false, true),
            (
                "bjensen@example.com",
                ".COM",
                false,
                false,
                false,
                true,
                true,
            ),
            ("Ünïcödé", "üNÏ", false, false, true, false, true),
            ("Ünïcödé", "CÖDÉ", false, false, false, true, true),
            ("Straße", "STRASSE", false, false, false, false, false),
            ("", "", false, true, true, true, true),
            // One side ASCII, the other not: U+212A KELVIN SIGN lower-cases to ASCII `k`.
            ("\u{212A}elvin", "kelvin", false, true, true, true, true),
            ("\u{212A}elvin", "KEL", false, false, true, false, true),
            ("300 \u{212A}", " k", false, false, false, true, true),
            ("kelvin", "\u{212A}", false, false, true, false, true),
        ];
        for (a, b, exact, e, sw, ew, co) in table {
            assert_eq!(eq(a, b, exact), e, "eq {a} {b}");
            assert_eq!(starts_with(a, b, exact), sw, "sw {a} {b}");
            assert_eq!(ends_with(a, b, exact), ew, "ew {a} {b}");
            assert_eq!(contains(a, b, exact), co, "co {a} {b}");
        }
    }

    #[test]
    fn ordering_ignores_case_unless_exact() {
        assert_eq!(cmp("alice", "Bob", false), Ordering::Less);
        assert_eq!(cmp("alice", "Bob", true), Ordering::Greater);
        assert_eq!(cmp("ÉMILE", "émile", false), Ordering::Equal);
        assert_eq!(cmp("kelvin", "\u{212A}ELVIN", false), Ordering::Equal);
        assert_eq!(cmp("\u{212A}elvin", "kelvin", true), Ordering::Greater);
    }
}
