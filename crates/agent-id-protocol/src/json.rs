//! Strict JSON object parsing for JWS headers/payloads and HTTP bodies.
//!
//! `serde_json` silently keeps the last of duplicated member names; a verifier and a client that
//! disagree on which duplicate wins is a classic JOSE confusion, so duplicates are rejected at every
//! depth (`security.md` P2, bad input G08).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Longest member name echoed back in a duplicate-key message (attacker-controlled text).
const MAX_ECHOED_KEY_CHARS: usize = 64;

/// Why a byte string is not an acceptable JSON object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// The bytes are not UTF-8.
    NotUtf8,
    /// A syntax error, as reported by `serde_json` (message and position only, never input text).
    Syntax(String),
    /// A member name occurs twice in one object (the name, possibly truncated).
    DuplicateKey(String),
    /// Valid JSON whose top level is not an object.
    NotObject,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::NotUtf8 => f.write_str("body is not valid UTF-8"),
            JsonError::Syntax(msg) => f.write_str(msg),
            JsonError::DuplicateKey(key) => write!(f, "duplicate field `{key}`"),
            JsonError::NotObject => f.write_str("body must be a JSON object"),
        }
    }
}

impl std::error::Error for JsonError {}

/// Parses `bytes` as one JSON object, rejecting invalid UTF-8, syntax errors, trailing data, a
/// non-object top level and duplicate member names at any depth.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|_| JsonError::NotUtf8)?;
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = UniqueValue {
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(JsonError::NotObject),
        Err(err) => Err(match duplicate.into_inner() {
            Some(key) => JsonError::DuplicateKey(key),
            None => JsonError::Syntax(err.to_string()),
        }),
    }
}

/// Builds a `serde_json::Value` like its own `Deserialize` impl, but fails on a repeated member
/// name and records that name out of band (a custom serde error cannot carry it back typed).
#[derive(Clone, Copy)]
struct UniqueValue<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for UniqueValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                let shown = echo_key(&key);
                let err = de::Error::custom(format_args!("duplicate field `{shown}`"));
                *self.duplicate.borrow_mut() = Some(shown);
                return Err(err);
            }
            let value = access.next_value_seed(self)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// A member name made safe to echo: control characters escaped, long names truncated.
fn echo_key(key: &str) -> String {
    let mut shown: String = key
        .chars()
        .take(MAX_ECHOED_KEY_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if key.chars().nth(MAX_ECHOED_KEY_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_objects() {
        let map = parse_object(br#"{"a":1,"b":[true,null,"x",-2,1.5],"c":{"d":{}}}"#).unwrap();
        assert_eq!(
            Value::Object(map),
            json!({"a":1,"b":[true,null,"x",-2,1.5],"c":{"d":{}}})
        );
        assert!(parse_object(b" {} ").unwrap().is_empty());
    }

    #[test]
    fn same_name_in_different_objects_is_fine() {
        assert!(parse_object(br#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#).is_ok());
    }

    #[test]
    fn rejects_duplicates_at_any_depth() {
        let cases: [(&[u8], &str); 4] = [
            (br#"{"name":"a","name":"b","public_key":"k"}"#, "name"),
            (br#"{"jwk":{"x":"a","x":"b"}}"#, "x"),
            (br#"{"a":[{"b":1,"b":1}]}"#, "b"),
            // Escapes are decoded before comparing: "\u0061" is "a".
            (br#"{"a":1,"\u0061":2}"#, "a"),
        ];
        for (input, key) in cases {
            assert_eq!(
                parse_object(input),
                Err(JsonError::DuplicateKey(key.to_owned()))
            );
        }
        assert_eq!(
            JsonError::DuplicateKey("name".into()).to_string(),
            "duplicate field `name`"
        );
    }

    #[test]
    fn duplicate_message_does_not_echo_long_or_control_text() {
        let long = "k".repeat(500);
        let body = format!(r#"{{"{long}":1,"{long}":2}}"#);
        let Err(JsonError::DuplicateKey(shown)) = parse_object(body.as_bytes()) else {
            panic!("expected duplicate");
        };
        assert_eq!(shown.chars().count(), MAX_ECHOED_KEY_CHARS + 1);
        let Err(err) = parse_object(br#"{"a\nb":1,"a\nb":2}"#) else {
            panic!("expected duplicate");
        };
        assert_eq!(err.to_string(), "duplicate field `a\\nb`");
    }

    #[test]
    fn rejects_non_objects() {
        for input in [&b"[]"[..], b"\"name\"", b"42", b"null", b"true"] {
            assert_eq!(parse_object(input), Err(JsonError::NotObject));
        }
        assert_eq!(
            JsonError::NotObject.to_string(),
            "body must be a JSON object"
        );
    }

    #[test]
    fn rejects_invalid_utf8() {
        assert_eq!(
            parse_object(&[0xFF, 0xFE, 0x7B, 0x7D]),
            Err(JsonError::NotUtf8)
        );
    }

    #[test]
    fn syntax_errors_are_readable() {
        let err = parse_object(br#"{"name":"a","#).unwrap_err();
        assert!(matches!(err, JsonError::Syntax(_)));
        assert_eq!(
            err.to_string(),
            "EOF while parsing a value at line 1 column 12"
        );
        let err = parse_object(br#"{"name": }"#).unwrap_err();
        assert_eq!(err.to_string(), "expected value at line 1 column 10");
        assert!(matches!(parse_object(b"{} {}"), Err(JsonError::Syntax(_))));
        assert!(matches!(parse_object(b""), Err(JsonError::Syntax(_))));
        assert!(matches!(
            parse_object(b"\xEF\xBB\xBF{}"),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            parse_object(br#"{"a":1e999}"#),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            parse_object(br#"{"a":"\ud800"}"#),
            Err(JsonError::Syntax(_))
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let body = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_object(body.as_bytes()),
            Err(JsonError::Syntax(_))
        ));
    }
}
