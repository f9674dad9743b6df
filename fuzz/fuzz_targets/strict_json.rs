//! Strict JSON (`jose::json::parse_object`), differentially against `serde_json`.
//!
//! Input: the body bytes. Invariants: an accepted object is what `serde_json` reads too; whenever
//! `serde_json` reads an object that strict JSON refuses, the reason is a duplicate member name;
//! prefixing an accepted object with a copy of one of its own members is always refused as a
//! duplicate; and re-serialised, an accepted object is accepted again.
#![no_main]

use agent_id::jose::json::{parse_object, JsonError};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let strict = parse_object(data);
    let lax = serde_json::from_slice::<Value>(data);
    match (&strict, &lax) {
        (Ok(map), Ok(value)) => assert_eq!(&Value::Object(map.clone()), value),
        (Ok(_), Err(e)) => panic!("strict JSON accepted what serde_json refuses: {e}"),
        (Err(JsonError::NotObject), Ok(value)) => assert!(!value.is_object()),
        (Err(JsonError::DuplicateKey(_)), _) => {}
        (Err(e), Ok(Value::Object(_))) => panic!("object refused without a duplicate: {e}"),
        (Err(_), _) => {}
    }

    let Ok(map) = strict else { return };
    // Re-serialised, the object is still accepted and still read as serde_json reads it. (Not
    // necessarily equal to `map`: without serde_json's `float_roundtrip`, a decimal float may come
    // back one ULP off; no protocol value depends on that precision.)
    let reserialised = serde_json::to_vec(&map).expect("a map serialises");
    let again = parse_object(&reserialised).expect("a re-serialised object is accepted");
    assert_eq!(
        Ok(Value::Object(again)),
        serde_json::from_slice::<Value>(&reserialised).map_err(|_| ())
    );

    if let Some((key, _)) = map.iter().next() {
        let text = std::str::from_utf8(data).expect("accepted input is UTF-8");
        let body = text
            .trim_start()
            .strip_prefix('{')
            .expect("an object starts with {");
        let duplicated = format!("{{{}:null,{body}", serde_json::to_string(key).unwrap());
        assert!(
            matches!(
                parse_object(duplicated.as_bytes()),
                Err(JsonError::DuplicateKey(_))
            ),
            "a duplicated top-level member was not refused"
        );
    }
});
