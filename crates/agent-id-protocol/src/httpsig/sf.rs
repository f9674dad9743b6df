//! RFC 8941 structured fields, the subset RFC 9421 needs: dictionaries, inner lists, items with
//! parameters; bare items are integers, strings, tokens, byte sequences and booleans. Decimals
//! (and RFC 9651's dates and display strings) are refused: no signature field uses them, and a
//! parser that accepts less has less to get wrong.
//!
//! Parsing is strict (RFC 8941 §4.2): anything the grammar does not allow fails the whole field.
//! Serialising a parsed value gives its canonical form (§4.1), which is what a signature base
//! contains.

use std::fmt::{self, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// A bare item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BareItem {
    /// At most 15 digits (RFC 8941 §3.3.1).
    Integer(i64),
    /// Printable ASCII only.
    String(String),
    Token(String),
    ByteSeq(Vec<u8>),
    Boolean(bool),
}

/// Parameters in order; a repeated key overwrites the earlier value in place (§4.2.3.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, BareItem)>);

impl Params {
    pub fn get(&self, key: &str) -> Option<&BareItem> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key`, keeping its position when it is already present.
    pub fn set(&mut self, key: &str, value: BareItem) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }
}

/// An item with its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub bare: BareItem,
    pub params: Params,
}

/// An inner list with its parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InnerList {
    pub items: Vec<Item>,
    pub params: Params,
}

/// A dictionary or list member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    Item(Item),
    InnerList(InnerList),
}

/// A dictionary: members in order; a repeated key overwrites the earlier value in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dictionary(pub Vec<(String, Member)>);

impl Dictionary {
    pub fn get(&self, key: &str) -> Option<&Member> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Where and why a field failed to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub at: usize,
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for ParseError {}

/// Parses a dictionary field value (§4.2.2).
pub fn parse_dictionary(input: &str) -> Result<Dictionary, ParseError> {
    let mut p = Parser::new(input);
    p.skip_sp();
    let mut dict = Dictionary::default();
    while !p.done() {
        let key = p.key()?;
        let member = if p.peek() == Some(b'=') {
            p.pos += 1;
            p.member()?
        } else {
            Member::Item(Item {
                bare: BareItem::Boolean(true),
                params: p.params()?,
            })
        };
        match dict.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = member,
            None => dict.0.push((key, member)),
        }
        p.skip_ows();
        if p.done() {
            break;
        }
        p.expect(b',', "expected ',' between dictionary members")?;
        p.skip_ows();
        if p.done() {
            return Err(p.err("trailing ',' in dictionary"));
        }
    }
    Ok(dict)
}

/// Parses an item field value (§4.2.3).
pub fn parse_item(input: &str) -> Result<Item, ParseError> {
    let mut p = Parser::new(input);
    p.skip_sp();
    let item = p.item()?;
    p.skip_sp();
    if !p.done() {
        return Err(p.err("unexpected characters after the item"));
    }
    Ok(item)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Self {
            s: input.as_bytes(),
            pos: 0,
        }
    }

    fn err(&self, what: &'static str) -> ParseError {
        ParseError { at: self.pos, what }
    }

    fn done(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn member(&mut self) -> Result<Member, ParseError> {
        if self.peek() == Some(b'(') {
            self.inner_list().map(Member::InnerList)
        } else {
            self.item().map(Member::Item)
        }
    }

    fn inner_list(&mut self) -> Result<InnerList, ParseError> {
        self.expect(b'(', "expected '('")?;
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(InnerList {
                    items,
                    params: self.params()?,
                });
            }
            items.push(self.item()?);
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return Err(self.err("expected ' ' or ')' in inner list"));
            }
        }
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        let bare = self.bare_item()?;
        Ok(Item {
            bare,
            params: self.params()?,
        })
    }

    fn params(&mut self) -> Result<Params, ParseError> {
        let mut params = Params::default();
        while self.peek() == Some(b';') {
            self.pos += 1;
            self.skip_sp();
            let key = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            params.set(&key, value);
        }
        Ok(params)
    }

    fn key(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        match self.peek() {
            Some(b'a'..=b'z' | b'*') => self.pos += 1,
            _ => return Err(self.err("a key must start with a lowercase letter or '*'")),
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')
        ) {
            self.pos += 1;
        }
        Ok(self.text(start))
    }

    fn text(&self, start: usize) -> String {
        // Only ASCII bytes were accepted between `start` and `pos`.
        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
    }

    fn bare_item(&mut self) -> Result<BareItem, ParseError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.integer(),
            Some(b'"') => self.string(),
            Some(b':') => self.byte_seq(),
            Some(b'?') => self.boolean(),
            Some(b'A'..=b'Z' | b'a'..=b'z' | b'*') => Ok(self.token()),
            _ => Err(self.err("expected a bare item")),
        }
    }

    fn integer(&mut self) -> Result<BareItem, ParseError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = self.pos - start;
        if digits == 0 {
            return Err(self.err("expected a digit"));
        }
        if digits > 15 {
            return Err(self.err("integer longer than 15 digits"));
        }
        if self.peek() == Some(b'.') {
            return Err(self.err("decimals are not supported"));
        }
        let mut n: i64 = 0;
        for &d in &self.s[start..self.pos] {
            n = n * 10 + i64::from(d - b'0');
        }
        Ok(BareItem::Integer(if negative { -n } else { n }))
    }

    fn string(&mut self) -> Result<BareItem, ParseError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => out.push(char::from(c)),
                        _ => return Err(self.err("bad escape in string")),
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(BareItem::String(out));
                }
                Some(c @ 0x20..=0x7e) => out.push(char::from(c)),
                Some(_) => return Err(self.err("non-printable character in string")),
            }
            self.pos += 1;
        }
    }

    fn token(&mut self) -> BareItem {
        let start = self.pos;
        self.pos += 1;
        while matches!(
            self.peek(),
            Some(c) if c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c)
        ) {
            self.pos += 1;
        }
        BareItem::Token(self.text(start))
    }

    fn byte_seq(&mut self) -> Result<BareItem, ParseError> {
        self.pos += 1;
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || b"+/=".contains(&c)) {
            self.pos += 1;
        }
        let b64 = &self.s[start..self.pos];
        self.expect(b':', "unterminated byte sequence")?;
        STANDARD
            .decode(b64)
            .map(BareItem::ByteSeq)
            .map_err(|_| ParseError {
                at: start,
                what: "byte sequence is not canonical base64",
            })
    }

    fn boolean(&mut self) -> Result<BareItem, ParseError> {
        self.pos += 1;
        let b = match self.peek() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err(self.err("a boolean is ?0 or ?1")),
        };
        self.pos += 1;
        Ok(BareItem::Boolean(b))
    }
}

impl fmt::Display for BareItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BareItem::Integer(n) => write!(f, "{n}"),
            BareItem::String(s) => {
                f.write_char('"')?;
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        f.write_char('\\')?;
                    }
                    f.write_char(c)?;
                }
                f.write_char('"')
            }
            BareItem::Token(t) => f.write_str(t),
            BareItem::ByteSeq(b) => write!(f, ":{}:", STANDARD.encode(b)),
            BareItem::Boolean(b) => f.write_str(if *b { "?1" } else { "?0" }),
        }
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.0 {
            write!(f, ";{k}")?;
            if *v != BareItem::Boolean(true) {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.bare, self.params)
    }
}

impl fmt::Display for InnerList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('(')?;
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            write!(f, "{item}")?;
        }
        write!(f, "){}", self.params)
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Member::Item(i) => write!(f, "{i}"),
            Member::InnerList(l) => write!(f, "{l}"),
        }
    }
}

impl fmt::Display for Dictionary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(k)?;
            match v {
                Member::Item(Item {
                    bare: BareItem::Boolean(true),
                    params,
                }) => write!(f, "{params}")?,
                _ => write!(f, "={v}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_round_trip_to_their_canonical_form() {
        let d = parse_dictionary(
            r#"sig1=("@authority" "signature-agent";key="a1");created=1;keyid="k";tag="web-bot-auth",  b=?0, c, d=:AQID:, e=tok/x"#,
        )
        .unwrap();
        assert_eq!(
            d.to_string(),
            r#"sig1=("@authority" "signature-agent";key="a1");created=1;keyid="k";tag="web-bot-auth", b=?0, c, d=:AQID:, e=tok/x"#
        );
        assert_eq!(
            d.get("d"),
            Some(&Member::Item(Item {
                bare: BareItem::ByteSeq(vec![1, 2, 3]),
                params: Params::default()
            }))
        );
    }

    #[test]
    fn a_repeated_key_overwrites_in_place() {
        let d = parse_dictionary("a=1, b=2, a=3").unwrap();
        assert_eq!(d.to_string(), "a=3, b=2");
    }

    #[test]
    fn strings_escape_quotes_and_backslashes() {
        let i = parse_item(r#""a\"b\\c""#).unwrap();
        assert_eq!(i.bare, BareItem::String(r#"a"b\c"#.into()));
        assert_eq!(i.to_string(), r#""a\"b\\c""#);
    }

    #[test]
    fn malformed_fields_are_refused() {
        for bad in [
            "",
            "A=1",
            "a=1,",
            "a=1,,b=2",
            "a=(1 2",
            "a=(1,2)",
            "a=\"unterminated",
            "a=\"bad\\escape\"",
            "a=\"tab\there\"",
            "a=:not base64!:",
            "a=:AQI:",
            "a=1.5",
            "a=1234567890123456",
            "a=?2",
            "a=1 b=2",
            "a=é",
        ] {
            let parsed = parse_dictionary(bad);
            if bad.is_empty() {
                assert_eq!(parsed.unwrap(), Dictionary::default());
            } else {
                assert!(parsed.is_err(), "{bad:?} parsed as {parsed:?}");
            }
        }
        assert!(parse_item("\"a\" x").is_err());
    }
}
