//! Typed access to members of a webhook JSON object. Each accessor takes the member's full path
//! (`data.current_billing_period.ends_at`) so an error names exactly what was wrong; the member
//! name is the last path segment. `null` counts as absent wherever a field is optional.

use serde_json::{Map, Value};

use super::event::PayloadError;
use crate::domain::rfc3339::parse_rfc3339_us;

type Object = Map<String, Value>;

/// The member name of `path`: its last `.`-separated segment.
fn key(path: &'static str) -> &'static str {
    path.rsplit('.').next().unwrap_or(path)
}

fn wrong(field: &'static str, expected: &'static str) -> PayloadError {
    PayloadError::WrongType { field, expected }
}

/// The member, with `null` folded into "absent".
fn present<'a>(obj: &'a Object, path: &'static str) -> Option<&'a Value> {
    obj.get(key(path)).filter(|v| !v.is_null())
}

/// A string that must be present.
pub(super) fn string(obj: &Object, path: &'static str) -> Result<String, PayloadError> {
    match obj.get(key(path)) {
        None => Err(PayloadError::Missing(path)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(wrong(path, "a string")),
    }
}

/// A string, `null` or absent.
pub(super) fn opt_string(obj: &Object, path: &'static str) -> Result<Option<String>, PayloadError> {
    match present(obj, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wrong(path, "a string or null")),
    }
}

/// An object, `null` or absent.
pub(super) fn opt_object<'a>(
    obj: &'a Object,
    path: &'static str,
) -> Result<Option<&'a Object>, PayloadError> {
    match present(obj, path) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(wrong(path, "an object or null")),
    }
}

/// An object that must be present.
pub(super) fn object<'a>(obj: &'a Object, path: &'static str) -> Result<&'a Object, PayloadError> {
    match obj.get(key(path)) {
        None => Err(PayloadError::Missing(path)),
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(wrong(path, "an object")),
    }
}

/// An RFC 3339 timestamp (as Unix microseconds) that must be present.
pub(super) fn timestamp(obj: &Object, path: &'static str) -> Result<i64, PayloadError> {
    match obj.get(key(path)) {
        None => Err(PayloadError::Missing(path)),
        Some(Value::String(s)) => parse_rfc3339_us(s).ok_or(PayloadError::BadTimestamp(path)),
        Some(_) => Err(wrong(path, "a string")),
    }
}

/// An RFC 3339 timestamp (as Unix microseconds), `null` or absent.
pub(super) fn opt_timestamp(obj: &Object, path: &'static str) -> Result<Option<i64>, PayloadError> {
    match present(obj, path) {
        None => Ok(None),
        Some(Value::String(s)) => parse_rfc3339_us(s)
            .map(Some)
            .ok_or(PayloadError::BadTimestamp(path)),
        Some(_) => Err(wrong(path, "a string or null")),
    }
}

/// `items[].price.id` in order. `items` absent or `null` is an empty list; an item without a
/// price id is an error, because attribution and tier mapping rely on every item's price.
pub(super) fn price_ids(data: &Object) -> Result<Vec<String>, PayloadError> {
    let items = match present(data, "data.items") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(wrong("data.items", "an array or null")),
    };
    items
        .iter()
        .map(|item| {
            let item = item.as_object().ok_or(wrong("data.items[]", "an object"))?;
            string(object(item, "data.items[].price")?, "data.items[].price.id")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn key_is_the_last_segment() {
        assert_eq!(key("event_id"), "event_id");
        assert_eq!(key("data.current_billing_period.ends_at"), "ends_at");
        assert_eq!(key("data.items[].price.id"), "id");
    }

    #[test]
    fn required_string() {
        let o = obj(json!({"a": "x", "n": null, "i": 1}));
        assert_eq!(string(&o, "a"), Ok("x".to_owned()));
        assert_eq!(string(&o, "data.b"), Err(PayloadError::Missing("data.b")));
        assert_eq!(string(&o, "n"), Err(wrong("n", "a string")));
        assert_eq!(string(&o, "i"), Err(wrong("i", "a string")));
    }

    #[test]
    fn optional_values_fold_null() {
        let o = obj(
            json!({"s": "x", "n": null, "i": 1, "o": {}, "t": "2026-01-01T00:00:00Z", "bad": "x"}),
        );
        assert_eq!(opt_string(&o, "s"), Ok(Some("x".to_owned())));
        assert_eq!(opt_string(&o, "n"), Ok(None));
        assert_eq!(opt_string(&o, "absent"), Ok(None));
        assert_eq!(opt_string(&o, "i"), Err(wrong("i", "a string or null")));
        assert_eq!(opt_object(&o, "o"), Ok(Some(&Map::new())));
        assert_eq!(opt_object(&o, "n"), Ok(None));
        assert_eq!(opt_object(&o, "s"), Err(wrong("s", "an object or null")));
        assert_eq!(opt_timestamp(&o, "t"), Ok(Some(1_767_225_600_000_000)));
        assert_eq!(opt_timestamp(&o, "n"), Ok(None));
        assert_eq!(
            opt_timestamp(&o, "bad"),
            Err(PayloadError::BadTimestamp("bad"))
        );
        assert_eq!(opt_timestamp(&o, "i"), Err(wrong("i", "a string or null")));
    }

    #[test]
    fn required_object_and_timestamp() {
        let o = obj(json!({"o": {"k": 1}, "n": null, "t": "2026-01-01T00:00:00Z", "bad": "2026"}));
        assert!(object(&o, "o").is_ok());
        assert_eq!(object(&o, "n"), Err(wrong("n", "an object")));
        assert_eq!(object(&o, "x"), Err(PayloadError::Missing("x")));
        assert_eq!(timestamp(&o, "t"), Ok(1_767_225_600_000_000));
        assert_eq!(timestamp(&o, "bad"), Err(PayloadError::BadTimestamp("bad")));
        assert_eq!(timestamp(&o, "n"), Err(wrong("n", "a string")));
        assert_eq!(timestamp(&o, "x"), Err(PayloadError::Missing("x")));
    }

    #[test]
    fn price_ids_in_order() {
        let o = obj(json!({"items": [
            {"price": {"id": "pri_a", "name": "A"}, "quantity": 1},
            {"price": {"id": "pri_b"}}
        ]}));
        assert_eq!(
            price_ids(&o),
            Ok(vec!["pri_a".to_owned(), "pri_b".to_owned()])
        );
        assert_eq!(price_ids(&obj(json!({}))), Ok(vec![]));
        assert_eq!(price_ids(&obj(json!({"items": null}))), Ok(vec![]));
        assert_eq!(price_ids(&obj(json!({"items": []}))), Ok(vec![]));
    }

    #[test]
    fn price_ids_reject_wrong_shapes() {
        for (items, want) in [
            (json!({}), wrong("data.items", "an array or null")),
            (json!(["pri_a"]), wrong("data.items[]", "an object")),
            (json!([{}]), PayloadError::Missing("data.items[].price")),
            (
                json!([{"price": "pri_a"}]),
                wrong("data.items[].price", "an object"),
            ),
            (
                json!([{"price": {}}]),
                PayloadError::Missing("data.items[].price.id"),
            ),
            (
                json!([{"price": {"id": 7}}]),
                wrong("data.items[].price.id", "a string"),
            ),
        ] {
            assert_eq!(price_ids(&obj(json!({"items": items}))), Err(want));
        }
    }
}
