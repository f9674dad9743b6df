//! Parsing cost of `application/x-www-form-urlencoded` bodies at the OAuth endpoints, which
//! parse before (or without) client authentication: the 64 KiB body of 16,000 distinct
//! keys, the largest accepted form (64 parameters) and a realistic token request.

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Method};

use agent_id::http::form::Form;
use agent_id::http::{Body, Request};

fn form_request(body: String) -> Request {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    Request {
        method: Method::POST,
        path: "/v1/oauth/revoke".into(),
        query: None,
        headers,
        body: Body::Bytes(body.into_bytes()),
        origin: "https://id.example.com".into(),
    }
}

/// 16,000 distinct three-character keys, `aaa&aab&…`: 64,000 bytes.
fn many_keys() -> String {
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    let n = letters.len();
    (0..16_000)
        .map(|i| {
            format!(
                "{}{}{}&",
                letters[i / (n * n)],
                letters[i / n % n],
                letters[i % n]
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let attack = form_request(many_keys());
    assert!(matches!(&attack.body, Body::Bytes(b) if b.len() <= 65_536));
    let at_cap = form_request(
        (0..64)
            .map(|i| format!("parameter_{i}=value_{i}"))
            .collect::<Vec<_>>()
            .join("&"),
    );
    let assertion = format!(
        "eyJhbGciOiJFZERTQSJ9.{}.{}",
        "x".repeat(300),
        "y".repeat(86)
    );
    let token = form_request(format!(
        "grant_type=authorization_code&code=Q2b7xW9kLm3nP0rS5tU8vY1zA4cD6eF&\
         redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&\
         code_verifier=oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8&\
         client_id=0c8f3f5e-2b7a-4d61-9c3e-5a4b7d9e1f20&\
         client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&\
         client_assertion={assertion}&scope=id+name&resource=https%3A%2F%2Fapi.example.com"
    ));
    assert!(Form::parse(&token).is_ok());

    let mut group = c.benchmark_group("form");
    group.bench_function("16000_keys_64KiB", |b| {
        b.iter(|| Form::parse(std::hint::black_box(&attack)).is_ok())
    });
    group.bench_function("64_params", |b| {
        b.iter(|| Form::parse(std::hint::black_box(&at_cap)).is_ok())
    });
    group.bench_function("token_request", |b| {
        b.iter(|| Form::parse(std::hint::black_box(&token)).is_ok())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
