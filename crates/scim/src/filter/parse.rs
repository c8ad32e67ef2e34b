//! Tokenizer and recursive-descent parser for RFC 7644 §3.4.2.2 filters.
//!
//! Precedence is `not` > `and` > `or`; parentheses group; keywords and operators are
//! case-insensitive. Errors are 400 `invalidFilter` naming a 1-based position.
//!
//! The parser recurses once per level of nesting, so it checks the limits of
//! [`crate::limits`] as it goes: the length before tokenizing, the depth before each
//! deeper call, and the number of terms and operators as it reads them. A flat `or`
//! chain loops rather than recurses here, but it builds a tree as deep as it is long:
//! the term limit is what keeps every later walk over that tree (validation, the
//! server's planner, evaluation, even dropping it) shallow.

use super::{CompValue, CompareOp, Filter};
use crate::limits::{MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_FILTER_OPERATORS, MAX_FILTER_TERMS};
use crate::path::AttrPath;
use crate::{ScimError, ScimType};

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Str(String),
    Word(&'a str),
}

#[derive(Debug)]
struct Token<'a> {
    tok: Tok<'a>,
    /// Byte offset in the input.
    at: usize,
}

fn error(input: &str, at: usize, what: impl std::fmt::Display) -> ScimError {
    let position = input.get(..at).map_or(at, |s| s.chars().count()) + 1;
    ScimError::bad_request(
        ScimType::InvalidFilter,
        format!("{what} at position {position} in filter '{input}'"),
    )
}

fn tokenize(input: &str) -> Result<Vec<Token<'_>>, ScimError> {
    let mut tokens = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let single = match c {
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            _ => None,
        };
        if let Some(tok) = single {
            tokens.push(Token { tok, at: i });
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'"' {
            // RFC 7644 §3.4.2.2: strings are JSON strings, with JSON escapes.
            let start = i;
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err(error(input, start, "Unterminated string")),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            i += 1;
            let raw = input.get(start..i).unwrap_or_default();
            let s: String = serde_json::from_str(raw)
                .map_err(|_| error(input, start, "Invalid escape in string"))?;
            tokens.push(Token {
                tok: Tok::Str(s),
                at: start,
            });
        } else {
            let start = i;
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && !matches!(bytes[i], b'(' | b')' | b'[' | b']' | b'"')
            {
                i += 1;
            }
            tokens.push(Token {
                tok: Tok::Word(&input[start..i]),
                at: start,
            });
        }
    }
    Ok(tokens)
}

/// A limit's refusal; it never echoes the input (which may be long or hostile).
fn over_limit(what: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidFilter, what)
}

fn check_length(input: &str) -> Result<(), ScimError> {
    if input.len() > MAX_FILTER_LENGTH {
        return Err(over_limit(format!(
            "The filter is {} bytes long, more than the limit of {MAX_FILTER_LENGTH}",
            input.len()
        )));
    }
    Ok(())
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token<'a>>,
    next: usize,
    /// Inside `attr[...]`: paths are sub-attributes and brackets cannot nest.
    in_value_filter: bool,
    /// Parentheses, `not` and `[...]` open around the current token.
    depth: usize,
    /// Attribute expressions and logical operators read so far.
    terms: usize,
    operators: usize,
    /// The refusal was a limit, not the syntax (a PATCH path reports the two differently).
    over_limit: bool,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, tokens: Vec<Token<'a>>, in_value_filter: bool) -> Self {
        Parser {
            input,
            tokens,
            next: 0,
            in_value_filter,
            // A PATCH path's `[...]` is a level, as it is in a filter.
            depth: usize::from(in_value_filter),
            terms: 0,
            operators: 0,
            over_limit: false,
        }
    }

    fn limit(&mut self, what: String) -> ScimError {
        self.over_limit = true;
        over_limit(what)
    }

    /// One level deeper, refused past the limit before the recursive call is made.
    fn descend(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.limit(format!(
                "The filter nests parentheses, 'not' and '[...]' deeper than the limit of \
                 {MAX_FILTER_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn ascend(&mut self) {
        self.depth -= 1;
    }

    fn count_term(&mut self) -> Result<(), ScimError> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return Err(self.limit(format!(
                "The filter has more attribute expressions than the limit of {MAX_FILTER_TERMS}"
            )));
        }
        Ok(())
    }

    fn count_operator(&mut self) -> Result<(), ScimError> {
        self.operators += 1;
        if self.operators > MAX_FILTER_OPERATORS {
            return Err(self.limit(format!(
                "The filter has more 'and', 'or' and 'not' operators than the limit of \
                 {MAX_FILTER_OPERATORS}"
            )));
        }
        Ok(())
    }

    fn peek(&self) -> Option<&Tok<'a>> {
        self.tokens.get(self.next).map(|t| &t.tok)
    }

    fn peek_at(&self, offset: usize) -> Option<&Tok<'a>> {
        self.tokens.get(self.next + offset).map(|t| &t.tok)
    }

    fn position(&self) -> usize {
        self.tokens
            .get(self.next)
            .map_or(self.input.len(), |t| t.at)
    }

    fn err(&self, what: impl std::fmt::Display) -> ScimError {
        error(self.input, self.position(), what)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn describe(tok: Option<&Tok<'_>>) -> String {
        match tok {
            None => "end of filter".into(),
            Some(Tok::LParen) => "'('".into(),
            Some(Tok::RParen) => "')'".into(),
            Some(Tok::LBracket) => "'['".into(),
            Some(Tok::RBracket) => "']'".into(),
            Some(Tok::Str(s)) => format!("string {}", serde_json::Value::String(s.clone())),
            Some(Tok::Word(w)) => format!("'{w}'"),
        }
    }

    fn unexpected(&self, expected: &str) -> ScimError {
        self.err(format!(
            "Expected {expected} but found {}",
            Self::describe(self.peek())
        ))
    }

    fn expect(&mut self, tok: Tok<'static>, expected: &str) -> Result<(), ScimError> {
        if self.peek() == Some(&tok) {
            self.next += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    // FILTER = logExp with `or` binding loosest.
    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.count_operator()?;
            self.next += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.count_operator()?;
            self.next += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        match self.peek() {
            Some(Tok::LParen) => {
                self.descend()?;
                self.next += 1;
                let inner = self.or()?;
                self.expect(Tok::RParen, "')'")?;
                self.ascend();
                Ok(inner)
            }
            // RFC: `not "(" FILTER ")"`; we also take `not attrExp`, unless `not` is
            // itself an attribute name followed by an operator.
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") && self.not_is_keyword() => {
                self.count_operator()?;
                self.next += 1;
                // `not (x)` is one level, as deep as `not x`: the parenthesis counts it.
                let parenthesised = self.peek() == Some(&Tok::LParen);
                if !parenthesised {
                    self.descend()?;
                }
                let inner = self.unary()?;
                if !parenthesised {
                    self.ascend();
                }
                Ok(Filter::Not(Box::new(inner)))
            }
            Some(Tok::Word(_)) => self.attribute_expression(),
            _ => Err(self.unexpected("an attribute path, '(' or 'not'")),
        }
    }

    fn not_is_keyword(&self) -> bool {
        match self.peek_at(1) {
            Some(Tok::LParen) => true,
            Some(Tok::Word(w)) => {
                CompareOp::from_keyword(w).is_none() && !w.eq_ignore_ascii_case("pr")
            }
            _ => false,
        }
    }

    fn attribute_path(&mut self) -> Result<AttrPath, ScimError> {
        let Some(Tok::Word(word)) = self.peek() else {
            return Err(self.unexpected("an attribute path"));
        };
        let word = *word;
        let path = AttrPath::parse(word)
            .map_err(|_| self.err(format!("Invalid attribute path '{word}'")))?;
        if self.in_value_filter && (path.urn.is_some() || path.sub_attr.is_some()) {
            return Err(self.err(format!(
                "'{word}' must be a plain sub-attribute name inside '[...]'"
            )));
        }
        self.next += 1;
        Ok(path)
    }

    fn attribute_expression(&mut self) -> Result<Filter, ScimError> {
        self.count_term()?;
        let path = self.attribute_path()?;
        if self.peek() != Some(&Tok::LBracket) {
            return self.operator_and_value(path);
        }
        // valuePath = attrPath "[" valFilter "]"
        if self.in_value_filter {
            return Err(self.err("Value filters cannot be nested"));
        }
        if path.sub_attr.is_some() {
            return Err(self.err(format!("'{path}' cannot take a value filter")));
        }
        self.descend()?;
        self.next += 1;
        self.in_value_filter = true;
        let inner = self.or()?;
        self.expect(Tok::RBracket, "']'")?;
        self.in_value_filter = false;
        self.ascend();
        // Entra (entra-scim.md §2.2): `emails[type eq "work"].value eq "x"` means
        // `emails[type eq "work" and value eq "x"]`.
        if let Some(Tok::Word(word)) = self.peek() {
            if let Some(sub) = word.strip_prefix('.') {
                let at = self.position();
                let sub_path = AttrPath::parse(sub)
                    .ok()
                    .filter(|p| p.urn.is_none() && p.sub_attr.is_none())
                    .ok_or_else(|| {
                        error(self.input, at, format!("Invalid sub-attribute '{word}'"))
                    })?;
                self.count_term()?;
                self.count_operator()?;
                self.next += 1;
                let condition = self.operator_and_value(sub_path)?;
                return Ok(Filter::ValuePath(
                    path,
                    Box::new(Filter::And(Box::new(inner), Box::new(condition))),
                ));
            }
        }
        Ok(Filter::ValuePath(path, Box::new(inner)))
    }

    fn operator_and_value(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        let Some(Tok::Word(word)) = self.peek() else {
            return Err(self.unexpected(&format!("an operator after '{path}'")));
        };
        let word = *word;
        if word.eq_ignore_ascii_case("pr") {
            self.next += 1;
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::from_keyword(word)
            .ok_or_else(|| self.err(format!("Unknown operator '{word}'")))?;
        self.next += 1;
        let value = self.value(op)?;
        Ok(Filter::Compare(path, op, value))
    }

    fn value(&mut self, op: CompareOp) -> Result<CompValue, ScimError> {
        let value = match self.peek() {
            Some(Tok::Str(s)) => CompValue::String(s.clone()),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            Some(Tok::Word(w)) => match serde_json::from_str::<serde_json::Number>(w) {
                Ok(n) => CompValue::Number(n),
                // Entra docs: `externalId eq jyoung`, a bare token, read as a string.
                Err(_) => CompValue::String((*w).to_owned()),
            },
            _ => return Err(self.unexpected(&format!("a value after '{}'", op.as_str()))),
        };
        self.next += 1;
        Ok(value)
    }

    fn finish(&mut self) -> Result<Filter, ScimError> {
        if self.tokens.is_empty() {
            return Err(error(self.input, 0, "Empty filter"));
        }
        let filter = self.or()?;
        match self.peek() {
            None => Ok(filter),
            Some(Tok::RParen) => Err(self.err("Unbalanced ')'")),
            Some(_) => Err(self.unexpected("'and', 'or' or the end of the filter")),
        }
    }
}

/// Parses a filter (the `filter` query parameter or SearchRequest member).
/// Errors are 400 `invalidFilter` with the position of the problem, or naming the limit
/// (see [`crate::limits`]) the filter exceeds.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    check_length(input)?;
    let tokens = tokenize(input)?;
    Parser::new(input, tokens, false).finish()
}

/// Why the filter of a PATCH path did not parse: the path reports bad syntax as its own
/// `invalidPath`, while a limit keeps its `invalidFilter` and detail.
#[derive(Debug)]
pub(crate) enum ValueFilterError {
    Syntax(ScimError),
    Limit(ScimError),
}

/// Parses the inside of `attr[...]` in a PATCH path: paths are sub-attribute names.
pub(crate) fn parse_value_filter(input: &str) -> Result<Filter, ValueFilterError> {
    check_length(input).map_err(ValueFilterError::Limit)?;
    let tokens = tokenize(input).map_err(ValueFilterError::Syntax)?;
    let mut parser = Parser::new(input, tokens, true);
    let parsed = parser.finish();
    parsed.map_err(|e| match parser.over_limit {
        true => ValueFilterError::Limit(e),
        false => ValueFilterError::Syntax(e),
    })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
