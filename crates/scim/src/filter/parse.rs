//! Tokenizer and recursive-descent parser for RFC 7644 §3.4.2.2 filters.
//!
//! Precedence is `not` > `and` > `or`; parentheses group; keywords and operators are
//! case-insensitive. Errors are 400 `invalidFilter` naming a 1-based position.

use super::{CompValue, CompareOp, Filter};
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

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token<'a>>,
    next: usize,
    /// Inside `attr[...]`: paths are sub-attributes and brackets cannot nest.
    in_value_filter: bool,
}

impl<'a> Parser<'a> {
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
            self.next += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.next += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        match self.peek() {
            Some(Tok::LParen) => {
                self.next += 1;
                let inner = self.or()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(inner)
            }
            // RFC: `not "(" FILTER ")"`; we also take `not attrExp`, unless `not` is
            // itself an attribute name followed by an operator.
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") && self.not_is_keyword() => {
                self.next += 1;
                Ok(Filter::Not(Box::new(self.unary()?)))
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
        self.next += 1;
        self.in_value_filter = true;
        let inner = self.or()?;
        self.expect(Tok::RBracket, "']'")?;
        self.in_value_filter = false;
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

    fn finish(mut self) -> Result<Filter, ScimError> {
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
/// Errors are 400 `invalidFilter` with the position of the problem.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    let tokens = tokenize(input)?;
    Parser {
        input,
        tokens,
        next: 0,
        in_value_filter: false,
    }
    .finish()
}

/// Parses the inside of `attr[...]` in a PATCH path: paths are sub-attribute names.
pub(crate) fn parse_value_filter(input: &str) -> Result<Filter, ScimError> {
    let tokens = tokenize(input)?;
    Parser {
        input,
        tokens,
        next: 0,
        in_value_filter: true,
    }
    .finish()
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
