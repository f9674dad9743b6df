//! Client ID Metadata Documents over the real App: an https URL as `client_id` is fetched
//! (through the fake web, which answers like workerd's manual-redirect fetch), validated,
//! cached in `oauth_clients` and used at authorize and at the token endpoint, where
//! `private_key_jwt` assertions are verified with the document's keys (EdDSA, ES256 and RS256;
//! the RSA key was made by OpenSSL, tests/fixtures).

mod common;

use p256::ecdsa::signature::Signer as _;
use rsa::signature::SignatureEncoding;
use serde_json::{json, Value};

use agent_id::jose::b64;
use common::oauth::{authorize, with_assertion, CHALLENGE, REDIRECT, VERIFIER};
use common::web::Page;
use common::{Agent, Harness, Req, Resp, TestKey, ISSUER};

const CLIENT: &str = "https://mcp-client.example.com/oauth/client.json";
const JWKS_URI: &str = "https://mcp-client.example.com/oauth/jwks.json";
const TOKEN_URL: &str = "https://id.example.com/v1/oauth/token";

fn public_doc() -> Value {
    json!({
        "client_id": CLIENT,
        "client_name": "Example MCP host",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

fn with(mut doc: Value, member: &str, value: Value) -> Value {
    if value.is_null() {
        doc.as_object_mut().unwrap().remove(member);
    } else {
        doc[member] = value;
    }
    doc
}

fn setup() -> (Harness, Agent) {
    let h = Harness::new();
    let (_, agent) = h.overseer_with_agent("BASIC");
    (h, agent)
}

fn authorize_as(h: &Harness, agent: &Agent, client_id: &str) -> Resp {
    authorize(h, agent, client_id, json!({"scope": "id name"}))
}

// --- keys ---

/// The RSA-2048 key of tests/fixtures (made by `openssl genrsa`).
fn rsa_key() -> rsa::RsaPrivateKey {
    let f: Value = serde_json::from_str(include_str!("fixtures/rsa2048_test_key.json")).unwrap();
    let int =
        |m: &str| rsa::BigUint::from_bytes_be(&b64::decode_strict(f[m].as_str().unwrap()).unwrap());
    rsa::RsaPrivateKey::from_components(int("n"), int("e"), int("d"), vec![int("p"), int("q")])
        .unwrap()
}

fn rsa_jwk(kid: &str) -> Value {
    let f: Value = serde_json::from_str(include_str!("fixtures/rsa2048_test_key.json")).unwrap();
    json!({"kty": "RSA", "n": f["n"], "e": f["e"], "kid": kid, "alg": "RS256", "use": "sig"})
}

fn ec_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap()
}

fn ec_jwk(kid: &str) -> Value {
    let point = ec_key().verifying_key().to_encoded_point(false);
    json!({"kty": "EC", "crv": "P-256", "kid": kid,
           "x": b64::encode(point.x().unwrap()), "y": b64::encode(point.y().unwrap())})
}

fn ed_key() -> TestKey {
    TestKey::from_seed([9u8; 32])
}

fn ed_jwk(kid: &str) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": ed_key().x()})
}

enum Signer {
    Ed(TestKey),
    Ec(p256::ecdsa::SigningKey),
    Rsa(rsa::RsaPrivateKey),
}

/// A `private_key_jwt` assertion of [`CLIENT`] for the token endpoint, signed by `key` with
/// `header` (alg set from the key).
fn assertion(h: &Harness, key: &Signer, kid: Option<&str>) -> String {
    assertion_for(h, key, kid, TOKEN_URL)
}

/// [`assertion`] for the endpoint at `aud`.
fn assertion_for(h: &Harness, key: &Signer, kid: Option<&str>, aud: &str) -> String {
    let alg = match key {
        Signer::Ed(_) => "EdDSA",
        Signer::Ec(_) => "ES256",
        Signer::Rsa(_) => "RS256",
    };
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    let mut jti = [0u8; 12];
    getrandom::fill(&mut jti).unwrap();
    let claims = json!({"iss": CLIENT, "sub": CLIENT, "aud": aud, "iat": h.now_s(),
                        "exp": h.now_s() + 60, "jti": b64::encode(&jti)});
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes())
    );
    let sig = match key {
        Signer::Ed(k) => {
            return agent_id::jose::jws::sign_ed25519(
                &header.to_string(),
                &claims.to_string(),
                &k.0,
            )
        }
        Signer::Ec(k) => {
            let s: p256::ecdsa::Signature = k.sign(input.as_bytes());
            s.to_bytes().to_vec()
        }
        Signer::Rsa(k) => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.clone())
            .sign(input.as_bytes())
            .to_vec(),
    };
    format!("{input}.{}", b64::encode(&sig))
}

/// Redeems `code` with an assertion signed by `key` (and a DPoP proof).
fn exchange(h: &Harness, code: &str, key: &Signer, kid: Option<&str>) -> Resp {
    let dpop = TestKey::random();
    let a = assertion(h, key, kid);
    h.send(
        with_assertion(
            "/v1/oauth/token",
            &a,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", CLIENT),
            ],
        )
        .header("dpop", &h.post_proof(&dpop, "/v1/oauth/token")),
    )
}

fn private_doc(keys: Value) -> Value {
    with(
        with(
            public_doc(),
            "token_endpoint_auth_method",
            json!("private_key_jwt"),
        ),
        "jwks",
        json!({"keys": keys}),
    )
}

fn code_of(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["code"].as_str().unwrap().to_owned()
}

// --- discovery ---

#[test]
fn discovery_advertises_metadata_documents_and_the_assertion_algorithms() {
    let h = Harness::new();
    let d = h
        .send(Req::get("/.well-known/oauth-authorization-server"))
        .body;
    assert_eq!(d["client_id_metadata_document_supported"], true);
    for member in [
        "token_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
    ] {
        assert_eq!(
            d[member],
            json!(["EdDSA", "Ed25519", "ES256", "RS256"]),
            "{member}"
        );
    }
}

// --- authorize ---

#[test]
fn a_public_metadata_client_gets_a_code_and_is_cached_without_an_owner() {
    let (h, agent) = setup();
    h.web.serve_json(CLIENT, &public_doc());
    let r = authorize_as(&h, &agent, CLIENT);
    code_of(&r);
    assert_eq!(h.web.hits(CLIENT), 1);
    let row = h.sql(
        "SELECT origin, owner_type, owner_id, public_key, name, token_endpoint_auth_method, \
         redirect_uris, metadata_expires_at - metadata_fetched_at AS ttl FROM oauth_clients WHERE id = ?1",
        vec![CLIENT.into()],
    );
    let row = &row.rows[0];
    assert_eq!(row["origin"], "metadata_document");
    assert_eq!(row["owner_type"], "overseer");
    assert_eq!(row["owner_id"], "");
    assert_eq!(row["public_key"], "");
    assert_eq!(row["name"], "Example MCP host");
    assert_eq!(row["token_endpoint_auth_method"], "none");
    assert_eq!(row["redirect_uris"], json!([REDIRECT]).to_string());
    // No caching headers: an hour.
    assert_eq!(row["ttl"], 3_600_000);
    // The history names the client by its URL.
    let history = h.send(Req::get("/v1/agents/me/oauth-history").bearer(&agent.session));
    assert!(
        history.body.to_string().contains(CLIENT),
        "{}",
        history.body
    );
}

/// Every unusable document or URL is a JSON 400 `invalid_client_metadata`, never a redirect
/// (also on GET, where other errors redirect), and nothing is cached.
#[test]
fn unusable_documents_are_refused_without_redirect() {
    let (h, agent) = setup();
    let big = with(public_doc(), "padding", json!("x".repeat(5 * 1024)));
    let cases: Vec<(&str, Page)> = vec![
        (
            "wrong client_id",
            Page::json(&with(
                public_doc(),
                "client_id",
                json!("https://other.example.com/c.json"),
            )),
        ),
        (
            "client secret",
            Page::json(&with(public_doc(), "client_secret", json!("s3cret"))),
        ),
        (
            "no redirect uris",
            Page::json(&with(public_doc(), "redirect_uris", json!([]))),
        ),
        (
            "secret auth method",
            Page::json(&with(
                public_doc(),
                "token_endpoint_auth_method",
                json!("client_secret_post"),
            )),
        ),
        ("oversize", Page::json(&big)),
        (
            "redirect",
            Page {
                status: 302,
                location: Some("https://mcp-client.example.com/elsewhere.json".into()),
                ..Page::default()
            },
        ),
        (
            "301 with a body",
            Page {
                status: 301,
                ..Page::json(&public_doc())
            },
        ),
        (
            "not found",
            Page {
                status: 404,
                ..Page::json(&public_doc())
            },
        ),
        (
            "html",
            Page {
                content_type: Some("text/html".into()),
                ..Page::json(&public_doc())
            },
        ),
        (
            "no content type",
            Page {
                content_type: None,
                ..Page::json(&public_doc())
            },
        ),
        (
            "not json",
            Page {
                body: b"client_id=x".to_vec(),
                ..Page::json(&public_doc())
            },
        ),
        (
            "timeout",
            Page {
                hang: true,
                ..Page::json(&public_doc())
            },
        ),
    ];
    for (why, page) in cases {
        h.web.serve(CLIENT, page);
        let r = authorize_as(&h, &agent, CLIENT);
        assert_eq!(
            (r.status, err(&r)),
            (400, "invalid_client_metadata"),
            "{why}: {}",
            r.body
        );
        let get = h.send(
            Req::get(&format!(
                "/v1/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s",
                urlencode(CLIENT),
                urlencode(REDIRECT)
            ))
            .bearer(&agent.session),
        );
        assert_eq!(get.status, 400, "{why} (GET): {}", get.body);
        assert!(get.header("location").is_none(), "{why}");
        assert_eq!(
            h.count("SELECT COUNT(*) AS n FROM oauth_clients WHERE origin = 'metadata_document'"),
            0,
            "{why}"
        );
    }
    // A host that does not resolve.
    let r = authorize_as(&h, &agent, "https://nowhere.example.net/c.json");
    assert_eq!((r.status, err(&r)), (400, "invalid_client_metadata"));
}

/// URLs the fetch rules refuse are never requested at all.
#[test]
fn private_and_local_targets_are_refused_before_any_fetch() {
    let (h, agent) = setup();
    for url in [
        "https://127.0.0.1/c.json",
        "https://10.1.2.3/c.json",
        "https://169.254.169.254/latest/meta-data",
        "https://2130706433/c.json",
        "https://0x7f.1/c.json",
        "https://[::1]/c.json",
        "https://[::ffff:127.0.0.1]/c.json",
        "https://[fd00::1]/c.json",
        "https://localhost/c.json",
        "https://api.localhost/c.json",
        "https://printer.local/c.json",
        "https://metadata.google.internal/c.json",
        "http://mcp-client.example.com/c.json",
        "http://127.0.0.1:8080/c.json",
        "https://mcp-client.example.com:8443/c.json",
        "https://user@mcp-client.example.com/c.json",
        "https://mcp-client.example.com/",
        "https://mcp-client.example.com/a/../c.json",
        "https://mcp-client.example.com/c.json#frag",
    ] {
        h.web
            .serve_json(url, &with(public_doc(), "client_id", json!(url)));
        let r = authorize_as(&h, &agent, url);
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        assert!(
            matches!(err(&r), "invalid_client_metadata" | "invalid_request"),
            "{url}: {}",
            r.body
        );
        assert_eq!(h.web.hits(url), 0, "{url} was fetched");
    }
}

#[test]
fn the_redirect_uri_must_be_one_of_the_documents() {
    let (h, agent) = setup();
    h.web.serve_json(CLIENT, &public_doc());
    let r = authorize(
        &h,
        &agent,
        CLIENT,
        json!({"redirect_uri": "https://evil.example.com/cb"}),
    );
    assert_eq!((r.status, err(&r)), (400, "invalid_request"), "{}", r.body);
}

// --- caching ---

#[test]
fn max_age_is_honoured_and_a_changed_document_replaces_the_cached_one() {
    let (h, agent) = setup();
    h.web.serve(
        CLIENT,
        Page::json(&public_doc()).cache_control("public, max-age=600"),
    );
    code_of(&authorize_as(&h, &agent, CLIENT));
    h.clock.advance_secs(599);
    code_of(&authorize_as(&h, &agent, CLIENT));
    assert_eq!(
        h.web.hits(CLIENT),
        1,
        "served from the cache within max-age"
    );

    // The client renames itself and moves its redirect URI; seen after expiry.
    let moved = "https://mcp-client.example.com/callback2";
    h.web.serve(
        CLIENT,
        Page::json(&with(
            with(public_doc(), "client_name", json!("Renamed host")),
            "redirect_uris",
            json!([moved]),
        )),
    );
    h.clock.advance_secs(2);
    let r = authorize_as(&h, &agent, CLIENT);
    assert_eq!(
        (r.status, err(&r)),
        (400, "invalid_request"),
        "old redirect URI: {}",
        r.body
    );
    assert_eq!(h.web.hits(CLIENT), 2);
    code_of(&authorize(
        &h,
        &agent,
        CLIENT,
        json!({"redirect_uri": moved}),
    ));
    let name = h.sql(
        "SELECT name FROM oauth_clients WHERE id = ?1",
        vec![CLIENT.into()],
    );
    assert_eq!(name.rows[0]["name"], "Renamed host");
}

#[test]
fn no_store_is_bounded_to_a_minute_and_a_failed_refresh_refuses() {
    let (h, agent) = setup();
    h.web
        .serve(CLIENT, Page::json(&public_doc()).cache_control("no-store"));
    code_of(&authorize_as(&h, &agent, CLIENT));
    code_of(&authorize_as(&h, &agent, CLIENT));
    assert_eq!(h.web.hits(CLIENT), 1, "at most one fetch a minute");
    h.clock.advance_secs(61);
    h.web.remove(CLIENT);
    let r = authorize_as(&h, &agent, CLIENT);
    assert_eq!(
        (r.status, err(&r)),
        (400, "invalid_client_metadata"),
        "{}",
        r.body
    );
    assert_eq!(h.web.hits(CLIENT), 2);
}

// --- private_key_jwt ---

#[test]
fn eddsa_es256_and_rs256_assertions_verify_with_the_document_keys() {
    for (signer, kid) in [
        (Signer::Ed(ed_key()), "ed"),
        (Signer::Ec(ec_key()), "ec"),
        (Signer::Rsa(rsa_key()), "rsa"),
    ] {
        let (h, agent) = setup();
        h.web.serve_json(
            CLIENT,
            &private_doc(json!([ed_jwk("ed"), ec_jwk("ec"), rsa_jwk("rsa")])),
        );
        let code = code_of(&authorize_as(&h, &agent, CLIENT));
        // With the kid, and without one (every key of the algorithm's type is tried).
        let r = exchange(&h, &code, &signer, Some(kid));
        assert_eq!(r.status, 200, "{kid}: {}", r.body);
        assert_eq!(r.body["token_type"], "DPoP");
        let code = code_of(&authorize_as(&h, &agent, CLIENT));
        let r = exchange(&h, &code, &signer, None);
        assert_eq!(r.status, 200, "{kid} without kid: {}", r.body);
        // A kid naming another key's type is no key for this algorithm.
        let code = code_of(&authorize_as(&h, &agent, CLIENT));
        let other = if kid == "ed" { "rsa" } else { "ed" };
        let r = exchange(&h, &code, &signer, Some(other));
        assert_eq!(
            (r.status, err(&r)),
            (401, "invalid_client"),
            "{kid}: {}",
            r.body
        );
        assert_eq!(h.web.hits(CLIENT), 1, "{kid}");
    }
}

#[test]
fn an_assertion_by_another_key_or_of_a_public_client_is_refused() {
    let (h, agent) = setup();
    h.web
        .serve_json(CLIENT, &private_doc(json!([rsa_jwk("rsa")])));
    let code = code_of(&authorize_as(&h, &agent, CLIENT));
    // ES256 by a key the document does not hold; Ed25519 by a stranger.
    let r = exchange(&h, &code, &Signer::Ec(ec_key()), None);
    assert_eq!((r.status, err(&r)), (401, "invalid_client"), "{}", r.body);
    let r = exchange(&h, &code, &Signer::Ed(TestKey::random()), None);
    assert_eq!((r.status, err(&r)), (401, "invalid_client"), "{}", r.body);
    // The code is still good for the real client.
    let r = exchange(&h, &code, &Signer::Rsa(rsa_key()), Some("rsa"));
    assert_eq!(r.status, 200, "{}", r.body);

    // A public client's document holds no keys: no assertion authenticates it.
    let (h, agent) = setup();
    h.web.serve_json(CLIENT, &public_doc());
    let code = code_of(&authorize_as(&h, &agent, CLIENT));
    let r = exchange(&h, &code, &Signer::Ed(ed_key()), None);
    assert_eq!((r.status, err(&r)), (401, "invalid_client"), "{}", r.body);
}

/// A metadata-document client that declares keys is a `private_key_jwt` client: the form's
/// `client_id` alone (`none`, which public clients use) does not authenticate it.
#[test]
fn a_metadata_client_with_keys_is_not_authenticated_by_its_client_id_alone() {
    let (h, agent) = setup();
    h.web
        .serve_json(CLIENT, &private_doc(json!([rsa_jwk("rsa")])));
    let code = code_of(&authorize_as(&h, &agent, CLIENT));
    let dpop = TestKey::random();
    let r = h.send(
        Req::post("/v1/oauth/token")
            .raw(
                common::oauth::FORM,
                common::form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", VERIFIER),
                    ("client_id", CLIENT),
                ]),
            )
            .header("dpop", &h.post_proof(&dpop, "/v1/oauth/token")),
    );
    assert_eq!((r.status, err(&r)), (401, "invalid_client"), "{}", r.body);
    // The code is still good for the client's own assertion.
    let r = exchange(&h, &code, &Signer::Rsa(rsa_key()), Some("rsa"));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn rs256_through_jwks_uri_and_a_rotated_key_is_fetched_once() {
    let (h, agent) = setup();
    let doc = with(
        with(
            public_doc(),
            "token_endpoint_auth_method",
            json!("private_key_jwt"),
        ),
        "jwks_uri",
        json!(JWKS_URI),
    );
    h.web.serve_json(CLIENT, &doc);
    h.web.serve(
        JWKS_URI,
        Page {
            content_type: Some("application/jwk-set+json".into()),
            ..Page::json(&json!({"keys": [ec_jwk("old")]}))
        },
    );
    let code = code_of(&authorize_as(&h, &agent, CLIENT));
    assert_eq!(h.web.hits(JWKS_URI), 1);
    // The client rotates to its RSA key: an unknown kid fetches the set again.
    h.web
        .serve_json(JWKS_URI, &json!({"keys": [rsa_jwk("new")]}));
    h.clock.advance_secs(61);
    let r = exchange(&h, &code, &Signer::Rsa(rsa_key()), Some("new"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(h.web.hits(JWKS_URI), 2);
    // A kid that is nowhere: fetched again at most once a minute.
    let code = code_of(&authorize_as(&h, &agent, CLIENT));
    let r = exchange(&h, &code, &Signer::Rsa(rsa_key()), Some("missing"));
    assert_eq!((r.status, err(&r)), (401, "invalid_client"));
    let r = exchange(&h, &code, &Signer::Rsa(rsa_key()), Some("missing"));
    assert_eq!((r.status, err(&r)), (401, "invalid_client"));
    assert_eq!(
        h.web.hits(JWKS_URI),
        2,
        "no refetch within a minute of the last"
    );
}

#[test]
fn the_token_endpoint_fetches_a_client_it_has_not_seen_and_refuses_an_unusable_one() {
    let (h, _) = setup();
    // Never seen at authorize: the token endpoint fetches the document, then refuses the
    // unknown code (the client did authenticate).
    h.web
        .serve_json(CLIENT, &private_doc(json!([ed_jwk("ed")])));
    let r = exchange(&h, "no-such-code", &Signer::Ed(ed_key()), None);
    assert_eq!((r.status, err(&r)), (400, "invalid_grant"), "{}", r.body);
    assert_eq!(h.web.hits(CLIENT), 1);
    // An unusable document is `401 invalid_client` here.
    let (h, _) = setup();
    h.web.serve(
        CLIENT,
        Page {
            status: 302,
            ..Page::default()
        },
    );
    let r = exchange(&h, "no-such-code", &Signer::Ed(ed_key()), None);
    assert_eq!((r.status, err(&r)), (401, "invalid_client"), "{}", r.body);
    // A form client_id other than the assertion's issuer.
    let a = assertion(&h, &Signer::Ed(ed_key()), None);
    let r = h.send(with_assertion(
        "/v1/oauth/token",
        &a,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            (
                "client_id",
                "https://mcp-client.example.com/oauth/other.json",
            ),
        ],
    ));
    assert_eq!((r.status, err(&r)), (401, "invalid_client"), "{}", r.body);
}

#[test]
fn a_metadata_client_introspects_and_revokes_its_tokens_with_rs256() {
    let (h, agent) = setup();
    h.web
        .serve_json(CLIENT, &private_doc(json!([rsa_jwk("rsa")])));
    let code = code_of(&authorize_as(&h, &agent, CLIENT));
    let rsa = Signer::Rsa(rsa_key());
    let r = exchange(&h, &code, &rsa, Some("rsa"));
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let call = |path: &str, token: &str| {
        let a = assertion_for(&h, &rsa, Some("rsa"), &format!("{ISSUER}{path}"));
        h.send(with_assertion(path, &a, &[("token", token)]))
    };
    let i = call("/v1/oauth/introspect", &access);
    assert_eq!(i.status, 200, "{}", i.body);
    assert_eq!(i.body["active"], true, "{}", i.body);
    assert_eq!(i.body["client_id"], CLIENT);
    assert_eq!(call("/v1/oauth/revoke", &refresh).status, 200);
    let i = call("/v1/oauth/introspect", &refresh);
    assert_eq!(i.body["active"], false, "{}", i.body);
    // Another client's key does not authenticate this client at introspection either.
    let a = assertion_for(
        &h,
        &Signer::Ec(ec_key()),
        None,
        &format!("{ISSUER}/v1/oauth/introspect"),
    );
    let r = h.send(with_assertion(
        "/v1/oauth/introspect",
        &a,
        &[("token", &access)],
    ));
    assert_eq!((r.status, err(&r)), (401, "invalid_client"), "{}", r.body);
}

// --- blocks ---

#[test]
fn an_overseer_blocks_and_unblocks_a_metadata_client_by_its_url() {
    let h = Harness::new();
    let (o, agent) = h.overseer_with_agent("BASIC");
    h.web.serve_json(CLIENT, &public_doc());
    code_of(&authorize_as(&h, &agent, CLIENT));
    let r = h.send(
        Req::post(&format!("/v1/overseers/agents/{}/block-client", agent.id))
            .bearer(&o.session)
            .json(json!({"client_id": CLIENT})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["block"]["client_id"], CLIENT);
    let r = authorize_as(&h, &agent, CLIENT);
    assert_eq!((r.status, err(&r)), (403, "access_denied"), "{}", r.body);
    let listed = h.send(
        Req::get(&format!(
            "/v1/overseers/agents/{}/blocked-clients",
            agent.id
        ))
        .bearer(&o.session),
    );
    assert!(listed.body.to_string().contains(CLIENT), "{}", listed.body);
    let r = h.send(
        Req::new(
            http::Method::DELETE,
            &format!(
                "/v1/overseers/agents/{}/block-client/{}",
                agent.id,
                urlencode(CLIENT)
            ),
        )
        .bearer(&o.session),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    code_of(&authorize_as(&h, &agent, CLIENT));
    // A URL that names no cached client cannot be blocked.
    let r = h.send(
        Req::post(&format!("/v1/overseers/agents/{}/block-client", agent.id))
            .bearer(&o.session)
            .json(json!({"client_id": "https://unknown.example.com/c.json"})),
    );
    assert_eq!(r.status, 404, "{}", r.body);
}

// --- the loopback setting ---

#[test]
fn loopback_documents_only_with_the_setting_on_a_loopback_service() {
    let url = "http://127.0.0.1:8765/client.json";
    let doc = with(public_doc(), "client_id", json!(url));
    let h = Harness::with_vars(&[
        ("PUBLIC_BASE_URL", "http://127.0.0.1:8787"),
        ("CIMD_ALLOW_LOOPBACK", "true"),
    ]);
    let (_, agent) = h.overseer_with_agent("BASIC");
    h.web.serve_json(url, &doc);
    code_of(&authorize_as(&h, &agent, url));
    // Other private addresses stay refused, and are not fetched.
    for other in [
        "http://10.0.0.1:8765/client.json",
        "http://[::ffff:127.0.0.1]:8765/c.json",
    ] {
        h.web
            .serve_json(other, &with(public_doc(), "client_id", json!(other)));
        let r = authorize_as(&h, &agent, other);
        assert_eq!(
            (r.status, err(&r)),
            (400, "invalid_client_metadata"),
            "{other}"
        );
        assert_eq!(h.web.hits(other), 0);
    }
    // Without the setting, loopback is refused.
    let (h, agent) = setup();
    h.web.serve_json(url, &doc);
    let r = authorize_as(&h, &agent, url);
    assert_eq!((r.status, err(&r)), (400, "invalid_client_metadata"));
    assert_eq!(h.web.hits(url), 0);
    // On a service that is not itself on loopback, the setting is a configuration error.
    let h = Harness::with_vars(&[("CIMD_ALLOW_LOOPBACK", "true")]);
    let r = h.send(Req::get("/.well-known/oauth-authorization-server"));
    assert_eq!(r.status, 503, "{}", r.body);
}

/// The OAuth `error` code of a response.
fn err(r: &Resp) -> &str {
    r.body["error"].as_str().unwrap_or("")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
