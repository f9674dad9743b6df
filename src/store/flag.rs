//! SQLite has no boolean type: flag columns (`disabled`, `active`, `revoked`, `EXISTS (…)`) are
//! integers 0/1. `#[serde(deserialize_with = "crate::store::flag::deserialize")]` reads them as
//! `bool` and refuses any other value, so a corrupt row fails loudly instead of reading as set.

use serde::de::{Deserializer, Error, Unexpected};
use serde::Deserialize;

/// Decodes 0 as `false` and 1 as `true`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match i64::deserialize(d)? {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(D::Error::invalid_value(
            Unexpected::Signed(n),
            &"a flag column holding 0 or 1",
        )),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Row {
        #[serde(deserialize_with = "super::deserialize")]
        on: bool,
    }

    fn read(v: serde_json::Value) -> Result<bool, serde_json::Error> {
        serde_json::from_value::<Row>(serde_json::json!({ "on": v })).map(|r| r.on)
    }

    #[test]
    fn zero_and_one_only() {
        assert!(!read(0.into()).unwrap());
        assert!(read(1.into()).unwrap());
        assert!(read(2.into()).is_err());
        assert!(read("1".into()).is_err());
        assert!(read(serde_json::Value::Null).is_err());
    }
}
