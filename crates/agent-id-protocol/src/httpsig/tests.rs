//! Known answers from software nobody here wrote: RFC 9421 Appendix B.2.6 and the Web Bot Auth
//! architecture draft's Ed25519 test vectors (the `web_bot_auth_architecture_v2` set, with the
//! dictionary `Signature-Agent` of directory draft -04), then each Web Bot Auth refusal.

use ed25519_dalek::SigningKey;
use futures::executor::block_on;

use super::base::{signature_base, Component, SignatureParams};
use super::message::HttpRequest;
use super::signature::{parse_fields, sign_ed25519, verify_ed25519};
use super::webbot::{self, Refusal, Window};
use crate::b64;
use crate::ed25519::Ed25519PublicKey;

/// RFC 9421 B.1.4 `test-key-ed25519` (the seed is the last 32 bytes of its PKCS#8 form).
const TEST_SEED: &str = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU";
const TEST_X: &str = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";

fn test_key() -> SigningKey {
    SigningKey::from_bytes(&b64::decode_strict(TEST_SEED).unwrap().try_into().unwrap())
}

fn test_public() -> Ed25519PublicKey {
    Ed25519PublicKey::parse(TEST_X).unwrap()
}

/// RFC 9421 B.2's test request (`POST /foo?param=Value&Pet=dog`).
const B2_HEADERS: &[(&str, &str)] = &[
    ("Host", "example.com"),
    ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
    ("Content-Type", "application/json"),
    (
        "Content-Digest",
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    ),
    ("Content-Length", "18"),
];

fn b2_request() -> HttpRequest<'static> {
    HttpRequest {
        method: "POST",
        url: "https://example.com/foo?param=Value&Pet=dog",
        headers: B2_HEADERS,
    }
}

#[test]
fn rfc9421_b26_is_reproduced_byte_for_byte() {
    let params = SignatureParams::new(
        [
            "date",
            "@method",
            "@path",
            "@authority",
            "content-type",
            "content-length",
        ]
        .map(Component::new)
        .to_vec(),
    )
    .created(1618884473)
    .keyid("test-key-ed25519");
    assert_eq!(
        signature_base(&params, &b2_request()).unwrap(),
        "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\
         \"@method\": POST\n\
         \"@path\": /foo\n\
         \"@authority\": example.com\n\
         \"content-type\": application/json\n\
         \"content-length\": 18\n\
         \"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \
         \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
    );
    let signed = sign_ed25519("sig-b26", &params, &b2_request(), &test_key()).unwrap();
    assert_eq!(
        signed.signature_input,
        "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \
         \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
    );
    assert_eq!(
        signed.signature,
        "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
    );
    // And the published fields verify through the strict verifier.
    let sigs = parse_fields(&signed.signature_input, &signed.signature).unwrap();
    assert!(block_on(verify_ed25519(&sigs[0], &b2_request(), &test_public())).unwrap());
    let mut tampered = sigs[0].clone();
    tampered.bytes[0] ^= 1;
    assert!(!block_on(verify_ed25519(&tampered, &b2_request(), &test_public())).unwrap());
}

/// One Ed25519 vector of the architecture draft.
struct Vector {
    signature_input: &'static str,
    signature: &'static str,
    signature_agent: Option<&'static str>,
}

const CREATED: i64 = 1735689600;

const VECTORS: [Vector; 2] = [
    Vector {
        signature_input: "sig1=(\"@authority\");created=1735689600;keyid=\"poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U\";alg=\"ed25519\";expires=4889289600;nonce=\"zIW8+cdmA3vdYagbxojpONwa/l0EKJ/O3/wD486VvsQjO/RxPaSt6ZxvQaMcQzNnqKN/mQ6hpGiFro2L2qkz5A==\";tag=\"web-bot-auth\"",
        signature: "sig1=:QKN4fTdIYfh82fvoZCQiQA1weuozfCS/Led2zTMbewMMqH8PI2Wsy/5c4ao6B6D09nraNQdBNOADg8aM1MqfCg==:",
        signature_agent: None,
    },
    Vector {
        signature_input: "sig2=(\"@authority\" \"signature-agent\";key=\"agent2\");created=1735689600;keyid=\"poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U\";alg=\"ed25519\";expires=4889289600;nonce=\"n9p433xm+NJ3ph3upfBIGmsuwHw387YV7Q/F+6BSpGCVjYCqQw6rznNA8PVVLySrAWsv0hQtFioQb6E1YsauiA==\";tag=\"web-bot-auth\"",
        signature: "sig2=:RdNFx5Bj6au3YgAMQL/RzmUlZE8QZLIaXGRpw985hWnwPfMxT228NMk6ehRS1PSl4e8PhbNZACSanGdhEwYCCg==:",
        signature_agent: Some("agent2=\"https://signature-agent.test\""),
    },
];

fn vector_window() -> Window {
    Window {
        now: CREATED,
        max_skew_secs: 60,
        max_lifetime_secs: None,
    }
}

#[test]
fn the_drafts_ed25519_vectors_verify_and_are_reproduced() {
    for v in &VECTORS {
        let headers: Vec<(&str, &str)> = v
            .signature_agent
            .iter()
            .map(|sa| ("Signature-Agent", *sa))
            .collect();
        let req = HttpRequest {
            method: "GET",
            url: "https://example.com/path/to/resource",
            headers: &headers,
        };
        let sigs = parse_fields(v.signature_input, v.signature).unwrap();
        let sig = webbot::select(&sigs).unwrap();
        webbot::check_params(&sig.params, v.signature_agent.is_some(), &vector_window()).unwrap();
        assert_eq!(
            sig.params.keyid.as_deref(),
            Some(test_public().thumbprint().as_str())
        );
        block_on(webbot::verify(sig, &req, &test_public())).unwrap();
        // Ed25519 is deterministic: re-signing the parsed parameters gives the vector's bytes,
        // so our signature base is the draft's.
        let again = sign_ed25519(&sig.label, &sig.params, &req, &test_key()).unwrap();
        assert_eq!(again.signature_input, v.signature_input);
        assert_eq!(again.signature, v.signature);
        if let Some(sa) = v.signature_agent {
            assert_eq!(
                webbot::signature_agent_url(&sig.params, sa)
                    .unwrap()
                    .as_deref(),
                Some("https://signature-agent.test")
            );
        }
    }
}

/// A fresh Web Bot Auth signature by the SDK's parameters, checked at `now`.
fn signed(created: i64, expires: i64) -> (Vec<(&'static str, String)>, HttpRequest<'static>) {
    const AGENT: &str = "agent1=\"https://id.example.com/v1/agents/x/card\"";
    let params = webbot::signer_params(
        &webbot::SignerParams {
            label: "sig1",
            created,
            expires,
            signature_agent: Some(("agent1", "https://id.example.com/v1/agents/x/card")),
            nonce: None,
        },
        &test_public(),
    );
    let req = HttpRequest {
        method: "GET",
        url: "https://shop.example/item",
        headers: &[("Signature-Agent", AGENT)],
    };
    let s = sign_ed25519("sig1", &params, &req, &test_key()).unwrap();
    (
        vec![
            ("signature-input", s.signature_input),
            ("signature", s.signature),
            ("signature-agent", AGENT.to_owned()),
        ],
        req,
    )
}

fn check(input: &str, signature: &str, at: i64, key: &Ed25519PublicKey) -> Result<(), Refusal> {
    let req = HttpRequest {
        method: "GET",
        url: "https://shop.example/item",
        headers: &[(
            "Signature-Agent",
            "agent1=\"https://id.example.com/v1/agents/x/card\"",
        )],
    };
    let sigs = parse_fields(input, signature).expect("well-formed");
    let sig = webbot::select(&sigs)?;
    let window = Window {
        now: at,
        max_skew_secs: 60,
        max_lifetime_secs: Some(86_400),
    };
    webbot::check_params(&sig.params, true, &window)?;
    block_on(webbot::verify(sig, &req, key))
}

#[test]
fn each_web_bot_auth_rule_refuses_on_its_own() {
    let now = 1_800_000_000;
    let (h, _) = signed(now, now + 300);
    let (input, sig) = (h[0].1.as_str(), h[1].1.as_str());
    let key = test_public();
    assert!(input.contains(";tag=\"web-bot-auth\""), "{input}");
    check(input, sig, now, &key).unwrap();
    check(input, sig, now + 299, &key).unwrap();
    assert_eq!(check(input, sig, now + 300, &key), Err(Refusal::Expired));
    assert_eq!(check(input, sig, now - 61, &key), Err(Refusal::NotYetValid));
    check(input, sig, now - 60, &key).unwrap();

    let other = Ed25519PublicKey::parse("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
    assert_eq!(check(input, sig, now, &other), Err(Refusal::KeyidMismatch));
    let wrong_tag = input.replace("web-bot-auth", "web-bot-other");
    assert_eq!(check(&wrong_tag, sig, now, &key), Err(Refusal::WrongTag));
    let no_authority = input.replace("\"@authority\" ", "");
    assert_eq!(
        check(&no_authority, sig, now, &key),
        Err(Refusal::AuthorityNotCovered)
    );
    let no_agent = input.replace(" \"signature-agent\";key=\"agent1\"", "");
    assert_eq!(
        check(&no_agent, sig, now, &key),
        Err(Refusal::SignatureAgentNotCovered)
    );
    let long = input.replace(
        &format!("expires={}", now + 300),
        &format!("expires={}", now + 86_401),
    );
    assert_eq!(check(&long, sig, now, &key), Err(Refusal::BadValidity));
    let no_keyid = input.replace(&format!(";keyid=\"{}\"", key.thumbprint()), "");
    assert_eq!(
        check(&no_keyid, sig, now, &key),
        Err(Refusal::MissingParameter("keyid"))
    );
    let rsa = input.replace("alg=\"ed25519\"", "alg=\"rsa-pss-sha512\"");
    assert_eq!(
        check(&rsa, sig, now, &key),
        Err(Refusal::UnsupportedAlgorithm("rsa-pss-sha512".into()))
    );
    // A changed covered parameter changes the base: the signature no longer verifies.
    let nonce = input.replace(";tag=", ";nonce=\"x\";tag=");
    assert_eq!(check(&nonce, sig, now, &key), Err(Refusal::BadSignature));
}

#[test]
fn malformed_signature_fields_are_refused() {
    let ok_input = "sig1=(\"@authority\");created=1;keyid=\"k\";tag=\"web-bot-auth\"";
    for (input, sig) in [
        ("sig1=(\"@authority\"", "sig1=:AA==:"),
        (ok_input, "sig1=AA=="),
        (ok_input, "sig2=:AA==:"),
        ("sig1=\"@authority\"", "sig1=:AA==:"),
        ("sig1=(\"@Authority\")", "sig1=:AA==:"),
        ("sig1=(\"@authority\" \"@authority\")", "sig1=:AA==:"),
        ("sig1=(\"@authority\");created=\"1\"", "sig1=:AA==:"),
        ("sig1=(\"date\";sf)", "sig1=:AA==:"),
        ("", ""),
    ] {
        assert!(parse_fields(input, sig).is_err(), "{input} / {sig}");
    }
}
