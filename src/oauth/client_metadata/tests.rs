use serde_json::json;

use super::*;

const URL: &str = "https://app.example.com/oauth/client.json";

fn url() -> FetchUrl {
    FetchUrl::parse(URL, false).unwrap()
}

fn doc(extra: Value) -> Vec<u8> {
    let mut d = json!({
        "client_id": URL,
        "client_name": "Example MCP client",
        "redirect_uris": ["https://app.example.com/callback", "http://127.0.0.1/cb"],
        "token_endpoint_auth_method": "none",
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            d.as_object_mut().unwrap().remove(k);
        } else {
            d[k] = v.clone();
        }
    }
    d.to_string().into_bytes()
}

fn ed_jwk() -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed"})
}

#[test]
fn url_rules() {
    for ok in [
        URL,
        "https://a.b/c",
        "https://app.example.com/client?x=1",
        "https://xn--bcher-kva.example/c",
    ] {
        assert!(FetchUrl::parse(ok, false).is_ok(), "{ok}");
    }
    let refused = [
        ("", UrlError::Length),
        ("http://app.example.com/c", UrlError::Scheme),
        ("ftp://app.example.com/c", UrlError::Scheme),
        ("https://app.example.com/c#f", UrlError::Fragment),
        ("https://u:p@app.example.com/c", UrlError::UserInfo),
        ("https://app.example.com", UrlError::Path),
        ("https://app.example.com/", UrlError::Path),
        ("https://app.example.com?x", UrlError::Path),
        ("https://app.example.com/a/../c", UrlError::DotSegment),
        ("https://app.example.com/a/./c", UrlError::DotSegment),
        ("https://app.example.com/a/%2E%2e/c", UrlError::DotSegment),
        ("https://app.example.com:443/c", UrlError::Host),
        ("https://app.example.com:8443/c", UrlError::Host),
        ("https://App.example.com/c", UrlError::Host),
        ("https://app..example.com/c", UrlError::Host),
        ("https://app.example.com./c", UrlError::Host),
        ("https://-a.example.com/c", UrlError::Host),
        ("https://app.example.com /c", UrlError::Characters),
        ("https://app.example.com/%zz", UrlError::Characters),
        ("https://app.example.com/é", UrlError::Characters),
        ("https://localhost/c", UrlError::LocalName),
        ("https://a.localhost/c", UrlError::LocalName),
        ("https://printer.local/c", UrlError::LocalName),
        ("https://metadata.google.internal/c", UrlError::LocalName),
        ("https://nas.home.arpa/c", UrlError::LocalName),
        ("https://intranet/c", UrlError::LocalName),
        // Every IPv4 spelling, IPv6 and IPv4-mapped IPv6.
        ("https://10.0.0.1/c", UrlError::IpLiteral),
        ("https://169.254.169.254/c", UrlError::IpLiteral),
        ("https://127.0.0.1/c", UrlError::IpLiteral),
        ("https://2130706433/c", UrlError::IpLiteral),
        ("https://017700000001/c", UrlError::IpLiteral),
        ("https://0x7f000001/c", UrlError::IpLiteral),
        ("https://0x7f.1/c", UrlError::IpLiteral),
        ("https://127.1/c", UrlError::IpLiteral),
        ("https://[::1]/c", UrlError::IpLiteral),
        ("https://[fd00::1]/c", UrlError::IpLiteral),
        ("https://[::ffff:10.0.0.1]/c", UrlError::IpLiteral),
        ("https://[::ffff:7f00:1]/c", UrlError::IpLiteral),
    ];
    for (bad, why) in refused {
        assert_eq!(FetchUrl::parse(bad, false), Err(why), "{bad}");
    }
    let long = format!("https://app.example.com/{}", "a".repeat(MAX_URL_LEN));
    assert_eq!(FetchUrl::parse(&long, false), Err(UrlError::Length));
}

#[test]
fn loopback_only_with_the_setting_and_only_loopback() {
    for url in [
        "http://127.0.0.1:8787/c.json",
        "http://[::1]:9000/c",
        "https://127.0.0.1:1/c",
    ] {
        assert_eq!(
            FetchUrl::parse(url, false),
            Err(UrlError::IpLiteral),
            "{url}"
        );
        assert!(FetchUrl::parse(url, true).is_ok(), "{url}");
    }
    for url in [
        "http://10.0.0.1:80/c",
        "http://192.168.1.1:8080/c",
        "http://[::ffff:127.0.0.1]:80/c",
        "http://127.0.0.2:80/c",
        "http://2130706433:80/c",
        "http://[fe80::1]:80/c",
    ] {
        assert_eq!(
            FetchUrl::parse(url, true),
            Err(UrlError::IpLiteral),
            "{url}"
        );
    }
    // Loopback needs a port; a name is never http; `localhost` stays a local name.
    assert_eq!(
        FetchUrl::parse("http://127.0.0.1/c", true),
        Err(UrlError::IpLiteral)
    );
    assert_eq!(
        FetchUrl::parse("http://app.example.com/c", true),
        Err(UrlError::Scheme)
    );
    assert_eq!(
        FetchUrl::parse("http://localhost:80/c", true),
        Err(UrlError::Host)
    );
}

#[test]
fn a_public_client_document_validates() {
    let m = validate(&url(), &doc(json!({"unknown_member": [1, 2]})), false).unwrap();
    assert_eq!(m.client_id, URL);
    assert_eq!(m.client_name, "Example MCP client");
    assert_eq!(m.redirect_uris.len(), 2);
    assert_eq!(m.auth, ClientAuth::None);
    assert!(!m.native);
    // Without a name, the host is shown; without a method, the client is public.
    let m = validate(
        &url(),
        &doc(json!({"client_name": null, "token_endpoint_auth_method": null})),
        false,
    )
    .unwrap();
    assert_eq!(m.client_name, "app.example.com");
    assert_eq!(m.auth, ClientAuth::None);
}

#[test]
fn document_refusals() {
    let cases = [
        (
            json!({"client_id": "https://app.example.com/other.json"}),
            MetadataError::ClientIdMismatch,
        ),
        (
            json!({"client_id": format!("{URL}/")}),
            MetadataError::ClientIdMismatch,
        ),
        (json!({"client_id": null}), MetadataError::ClientIdMismatch),
        (json!({"client_secret": "s"}), MetadataError::ClientSecret),
        (
            json!({"client_secret_expires_at": 0}),
            MetadataError::ClientSecret,
        ),
        (
            json!({"client_name": ""}),
            MetadataError::Invalid("client_name"),
        ),
        (
            json!({"client_name": "a\u{7}b"}),
            MetadataError::Invalid("client_name"),
        ),
        (
            json!({"client_name": "x".repeat(129)}),
            MetadataError::Invalid("client_name"),
        ),
        (
            json!({"client_name": 1}),
            MetadataError::Invalid("client_name"),
        ),
        (json!({"redirect_uris": []}), MetadataError::RedirectUris),
        (json!({"redirect_uris": null}), MetadataError::RedirectUris),
        (
            json!({"redirect_uris": "https://a.example/cb"}),
            MetadataError::RedirectUris,
        ),
        (
            json!({"redirect_uris": ["/cb"]}),
            MetadataError::RedirectUris,
        ),
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            MetadataError::RedirectUris,
        ),
        (
            json!({"redirect_uris": ["com.example.app:/cb"]}),
            MetadataError::RedirectUris,
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb#x"]}),
            MetadataError::RedirectUris,
        ),
        (
            json!({"redirect_uris": vec!["https://a.example/cb"; 11]}),
            MetadataError::RedirectUris,
        ),
        (
            json!({"token_endpoint_auth_method": "client_secret_basic"}),
            MetadataError::AuthMethod,
        ),
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt"}),
            MetadataError::AuthMethod,
        ),
        (
            json!({"grant_types": ["client_credentials"]}),
            MetadataError::Unsupported("grant_types"),
        ),
        (
            json!({"grant_types": "authorization_code"}),
            MetadataError::Invalid("grant_types"),
        ),
        (
            json!({"response_types": ["token"]}),
            MetadataError::Unsupported("response_types"),
        ),
        (
            json!({"application_type": "desktop"}),
            MetadataError::Invalid("application_type"),
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            MetadataError::KeySource,
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [ed_jwk()]},
                   "jwks_uri": "https://app.example.com/jwks"}),
            MetadataError::KeySource,
        ),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://10.0.0.1/jwks"}),
            MetadataError::Invalid("jwks_uri"),
        ),
    ];
    for (extra, why) in cases {
        assert_eq!(
            validate(&url(), &doc(extra.clone()), false),
            Err(why),
            "{extra}"
        );
    }
    assert_eq!(
        validate(&url(), b"[]", false),
        Err(MetadataError::NotObject)
    );
    assert_eq!(
        validate(&url(), b"{\"client_id\":1,\"client_id\":2}", false),
        Err(MetadataError::NotObject)
    );
    assert_eq!(
        validate(&url(), b"\xff", false),
        Err(MetadataError::NotObject)
    );
    // Supported grant and response types are fine.
    let ok =
        json!({"grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]});
    assert!(validate(&url(), &doc(ok), false).is_ok());
}

#[test]
fn key_sets() {
    let with_keys = |keys: Value| {
        validate(
            &url(),
            &doc(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": keys}})),
            false,
        )
    };
    let m = with_keys(json!([ed_jwk()])).unwrap();
    let ClientAuth::Jwks(keys) = &m.auth else {
        panic!("{:?}", m.auth)
    };
    assert_eq!(keys[0].kid.as_deref(), Some("ed"));
    // Private members refuse the whole set.
    let mut private = ed_jwk();
    private["d"] = json!("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
    assert!(matches!(
        with_keys(json!([private])),
        Err(MetadataError::Keys(_))
    ));
    // A short RSA key is refused, encryption keys and unknown types skipped.
    let short_rsa = json!({"kty": "RSA", "n": b64::encode(&[0xc1; 128]), "e": "AQAB"});
    assert!(matches!(
        with_keys(json!([short_rsa])),
        Err(MetadataError::Keys(_))
    ));
    let enc = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "use": "enc"});
    assert!(matches!(
        with_keys(json!([enc.clone()])),
        Err(MetadataError::Keys(_))
    ));
    let p384 = json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"});
    let m = with_keys(json!([enc, p384, ed_jwk()])).unwrap();
    assert!(matches!(&m.auth, ClientAuth::Jwks(k) if k.len() == 1));
    // An `alg` that does not fit the key skips it.
    let mut wrong_alg = ed_jwk();
    wrong_alg["alg"] = json!("RS256");
    assert!(matches!(
        with_keys(json!([wrong_alg])),
        Err(MetadataError::Keys(_))
    ));
    assert!(matches!(with_keys(json!([])), Err(MetadataError::Keys(_))));
    assert!(matches!(
        with_keys(json!(vec![ed_jwk(); 11])),
        Err(MetadataError::Keys(_))
    ));
    // The stored form round-trips.
    let ClientAuth::Jwks(keys) = with_keys(json!([ed_jwk()])).unwrap().auth else {
        unreachable!()
    };
    assert_eq!(stored_keys(&stored_jwks(&keys)).unwrap(), keys);
}

#[test]
fn cache_lifetimes_are_bounded() {
    let now = 1_767_225_600;
    let at = |cc: Option<&str>, exp: Option<&str>| cache_expiry_s(cc, exp, now) - now;
    assert_eq!(at(None, None), DEFAULT_CACHE_SECS);
    assert_eq!(at(Some("public, max-age=600"), None), 600);
    assert_eq!(at(Some("max-age=5"), None), MIN_CACHE_SECS);
    assert_eq!(at(Some("no-store"), None), MIN_CACHE_SECS);
    assert_eq!(at(Some("max-age=600, no-cache"), None), MIN_CACHE_SECS);
    assert_eq!(at(Some("max-age=9999999"), None), MAX_CACHE_SECS);
    assert_eq!(at(Some("max-age=abc"), None), MIN_CACHE_SECS);
    // Expires: 2026-01-01T00:20:00Z is 1,200 s after now; max-age wins over it.
    let expires = Some("Thu, 01 Jan 2026 00:20:00 GMT");
    assert_eq!(at(None, expires), 1200);
    assert_eq!(at(Some("max-age=300"), expires), 300);
    assert_eq!(at(None, Some("yesterday")), MIN_CACHE_SECS);
    assert_eq!(at(Some("public"), None), DEFAULT_CACHE_SECS);
}

#[test]
fn json_media_types() {
    for ok in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/client-metadata+json",
        "application/jwk-set+json",
    ] {
        assert!(is_json_media_type(ok), "{ok}");
    }
    for bad in [
        "text/json",
        "text/html",
        "application/+json",
        "application/jsonx",
        "",
    ] {
        assert!(!is_json_media_type(bad), "{bad}");
    }
}
