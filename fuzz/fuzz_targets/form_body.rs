//! `application/x-www-form-urlencoded` bodies (`http::form::Form`) and the query decoder.
//!
//! Input: `content_type` byte (picks one of [`CONTENT_TYPES`]), then the body. Invariants: a form
//! is accepted only with a form media type and a UTF-8 body without repeated names (except the
//! `REPEATABLE` ones, which keep every non-empty value in order); every non-empty value is
//! readable by its name; refusals are 4xx `invalid_request`; and percent-decoding
//! undoes a full percent-encoding.
#![no_main]

use agent_id::http::form::{Form, REPEATABLE};
use agent_id::http::{query, Body, Request};
use agent_id_fuzz::percent_encode_all;
use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case<'a> {
    content_type: u8,
    body: &'a [u8],
}

const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/x-www-form-urlencoded"),
    Some("application/x-www-form-urlencoded; charset=UTF-8"),
    Some("APPLICATION/X-WWW-FORM-URLENCODED"),
    Some("application/json"),
    Some("text/plain"),
    None,
];

fuzz_target!(|case: Case| {
    let content_type = CONTENT_TYPES[usize::from(case.content_type) % CONTENT_TYPES.len()];
    let mut headers = HeaderMap::new();
    if let Some(ct) = content_type {
        headers.insert("content-type", HeaderValue::from_static(ct));
    }
    let req = Request {
        method: Method::POST,
        path: "/v1/oauth/token".into(),
        query: None,
        headers,
        body: Body::Bytes(case.body.to_vec()),
        origin: "https://id.example.com".into(),
    };

    match Form::parse(&req) {
        Ok(form) => {
            assert!(content_type.is_some_and(|ct| ct
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")));
            let text = std::str::from_utf8(case.body).expect("accepted bodies are UTF-8");
            let pairs = query::pairs(text);
            for (i, (name, value)) in pairs.iter().enumerate() {
                if REPEATABLE.contains(&name.as_str()) {
                    continue;
                }
                assert!(
                    pairs[..i].iter().all(|(n, _)| n != name),
                    "repeated parameter accepted"
                );
                let expected = (!value.is_empty()).then_some(value.as_str());
                assert_eq!(form.get(name), expected);
            }
            for name in REPEATABLE {
                let expected: Vec<&str> = pairs
                    .iter()
                    .filter(|(n, v)| n == name && !v.is_empty())
                    .map(|(_, v)| v.as_str())
                    .collect();
                assert_eq!(form.get(name), expected.first().copied());
                assert_eq!(form.all(name), expected);
            }
        }
        Err(e) => {
            let (status, error) = e.oauth_parts();
            assert!(status.is_client_error(), "{status}");
            assert_eq!(error, "invalid_request");
        }
    }

    if let Ok(text) = std::str::from_utf8(case.body) {
        assert_eq!(query::decode(&percent_encode_all(text)), text);
    }
});
