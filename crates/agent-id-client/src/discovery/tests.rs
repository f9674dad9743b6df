use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[test]
fn parses_dpop_challenge_with_quoted_and_token_params() {
    let c = parse_www_authenticate(
        r#"DPoP error="use_dpop_nonce", resource_metadata="https://rs.example/.well-known/oauth-protected-resource/mcp", algs=ES256"#,
    )
    .unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].scheme, "DPoP");
    assert_eq!(c[0].param("ERROR"), Some("use_dpop_nonce"));
    assert_eq!(c[0].param("algs"), Some("ES256"));
    assert_eq!(
        c[0].param("resource_metadata"),
        Some("https://rs.example/.well-known/oauth-protected-resource/mcp")
    );
}

#[test]
fn parses_several_challenges_token68_and_escapes() {
    let c = parse_www_authenticate(
        r#"Basic YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer realm="a \"quoted\" realm", scope="read write", DPoP"#,
    )
    .unwrap();
    let schemes: Vec<_> = c.iter().map(|c| c.scheme.as_str()).collect();
    assert_eq!(schemes, ["Basic", "Bearer", "DPoP"]);
    assert_eq!(c[0].token68.as_deref(), Some("YWxhZGRpbjpvcGVuc2VzYW1l=="));
    assert_eq!(c[1].param("realm"), Some(r#"a "quoted" realm"#));
    assert_eq!(c[1].param("scope"), Some("read write"));
    assert!(c[2].params.is_empty());
}

#[test]
fn refuses_malformed_challenges() {
    for bad in [
        "",
        "  ,  ",
        r#"DPoP realm="unterminated"#,
        "DPoP realm=\"a\u{1}b\"",
        "DPoP a=b c",
    ] {
        assert!(
            matches!(
                parse_www_authenticate(bad),
                Err(DiscoveryError::MalformedChallenge(_))
            ),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn resource_challenge_prefers_dpop_and_checks_the_metadata_url() {
    let rc = resource_challenge(
        r#"Bearer resource_metadata="https://a.example/b", DPoP resource_metadata="http://127.0.0.1:9/prm", scope="mcp""#,
    )
    .unwrap()
    .unwrap();
    assert_eq!(rc.resource_metadata, Some(url("http://127.0.0.1:9/prm")));
    assert_eq!(rc.scope.as_deref(), Some("mcp"));
    assert_eq!(resource_challenge("Basic realm=x").unwrap(), None);
    assert!(matches!(
        resource_challenge(r#"Bearer resource_metadata="http://evil.example/prm""#),
        Err(DiscoveryError::InsecureUrl {
            field: "resource_metadata",
            ..
        })
    ));
}

#[test]
fn secure_urls_are_https_or_loopback_http() {
    for ok in [
        "https://as.example/",
        "http://127.0.0.1:8080/x",
        "http://localhost/",
        "http://[::1]:1/",
    ] {
        assert!(require_secure_url("x", ok).is_ok(), "{ok} refused");
    }
    for bad in [
        "http://as.example/",
        "http://127.0.0.1.evil.example/",
        "ftp://as.example/",
        "/relative",
        "https://user:pw@as.example/",
        "https://as.example/#frag",
        "javascript:alert(1)",
    ] {
        assert!(require_secure_url("x", bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn well_known_urls_insert_the_path() {
    let r = resource_metadata_urls(&url("https://rs.example/mcp?x=1"));
    assert_eq!(
        r,
        [
            url("https://rs.example/.well-known/oauth-protected-resource/mcp"),
            url("https://rs.example/.well-known/oauth-protected-resource"),
        ]
    );
    let a = auth_server_metadata_urls(&url("https://as.example/tenant1"));
    assert_eq!(
        a,
        [
            url("https://as.example/.well-known/oauth-authorization-server/tenant1"),
            url("https://as.example/.well-known/openid-configuration/tenant1"),
            url("https://as.example/tenant1/.well-known/openid-configuration"),
        ]
    );
    let root = auth_server_metadata_urls(&url("https://as.example"));
    assert_eq!(
        root,
        [
            url("https://as.example/.well-known/oauth-authorization-server"),
            url("https://as.example/.well-known/openid-configuration"),
        ]
    );
}

#[test]
fn resource_metadata_must_name_the_requested_resource() {
    let requested = url("http://127.0.0.1:4000/mcp");
    let doc = r#"{"resource":"http://127.0.0.1:4000/mcp","authorization_servers":["http://127.0.0.1:4001"]}"#;
    let m = ResourceMetadata::parse(doc, &requested).unwrap();
    assert_eq!(m.authorization_servers, [url("http://127.0.0.1:4001")]);
    // A pathless identifier is kept exactly as published (`Url` would add a `/`), since it is
    // what the client sends as `resource`.
    let pathless =
        r#"{"resource":"http://127.0.0.1:4000","authorization_servers":["http://127.0.0.1:4001"]}"#;
    let m = ResourceMetadata::parse(pathless, &requested).unwrap();
    assert_eq!(m.resource_id, "http://127.0.0.1:4000");
    // A parent resource on the same origin is the same protection space.
    let parent = r#"{"resource":"http://127.0.0.1:4000/","authorization_servers":["http://127.0.0.1:4001"]}"#;
    assert!(ResourceMetadata::parse(parent, &requested).is_ok());
    for (doc, why) in [
        (
            r#"{"resource":"http://127.0.0.1:4999/mcp","authorization_servers":["http://127.0.0.1:4001"]}"#,
            "other origin",
        ),
        (
            r#"{"resource":"http://127.0.0.1:4000/other","authorization_servers":["http://127.0.0.1:4001"]}"#,
            "other path",
        ),
        (
            r#"{"resource":"http://127.0.0.1:4000/mcpx","authorization_servers":["http://127.0.0.1:4001"]}"#,
            "prefix not on a segment",
        ),
    ] {
        assert!(
            matches!(
                ResourceMetadata::parse(doc, &requested),
                Err(DiscoveryError::ResourceMismatch { .. })
            ),
            "{why}"
        );
    }
    for doc in [
        r#"{"resource":"http://127.0.0.1:4000/mcp","authorization_servers":[]}"#,
        r#"{"resource":"http://127.0.0.1:4000/mcp"}"#,
        r#"{"authorization_servers":["http://127.0.0.1:4001"]}"#,
        r#"{"resource":"http://127.0.0.1:4000/mcp","authorization_servers":["http://as.example"]}"#,
        r#"{"resource":"http://127.0.0.1:4000/mcp","authorization_servers":"http://127.0.0.1:4001"}"#,
        r#"[]"#,
        "not json",
    ] {
        assert!(
            ResourceMetadata::parse(doc, &requested).is_err(),
            "{doc} accepted"
        );
    }
}

const AS_DOC: &str = r#"{
  "issuer": "http://127.0.0.1:4001",
  "authorization_endpoint": "http://127.0.0.1:4001/authorize",
  "token_endpoint": "http://127.0.0.1:4001/token",
  "code_challenge_methods_supported": ["S256"],
  "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
  "client_id_metadata_document_supported": true,
  "authorization_response_iss_parameter_supported": true
}"#;

#[test]
fn auth_server_metadata_is_validated() {
    let m = AuthServerMetadata::parse(AS_DOC, &url("http://127.0.0.1:4001")).unwrap();
    assert_eq!(m.token_endpoint, url("http://127.0.0.1:4001/token"));
    assert_eq!(m.issuer_str, "http://127.0.0.1:4001");
    assert!(m.client_id_metadata_document_supported);
    assert!(m.authorization_response_iss_parameter_supported);
    assert_eq!(m.dpop_signing_alg_values_supported, ["ES256", "EdDSA"]);
    assert!(m.registration_endpoint.is_none());

    assert!(matches!(
        AuthServerMetadata::parse(AS_DOC, &url("http://127.0.0.1:4002")),
        Err(DiscoveryError::IssuerMismatch { .. })
    ));
    let no_s256 = AS_DOC.replace(r#"["S256"]"#, r#"["plain"]"#);
    assert_eq!(
        AuthServerMetadata::parse(&no_s256, &url("http://127.0.0.1:4001")),
        Err(DiscoveryError::NoPkceS256)
    );
    let insecure = AS_DOC.replace("http://127.0.0.1:4001/token", "http://as.example/token");
    assert!(matches!(
        AuthServerMetadata::parse(&insecure, &url("http://127.0.0.1:4001")),
        Err(DiscoveryError::InsecureUrl {
            field: "token_endpoint",
            ..
        })
    ));
    let bad_type = AS_DOC.replace(
        r#""client_id_metadata_document_supported": true"#,
        r#""client_id_metadata_document_supported": "yes""#,
    );
    assert!(matches!(
        AuthServerMetadata::parse(&bad_type, &url("http://127.0.0.1:4001")),
        Err(DiscoveryError::MalformedMetadata(_))
    ));
}
