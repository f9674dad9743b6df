//! The JWK rules of the contract (security.md P6, api.md 9.1 and 9.7) as a DPoP proof's `jwk` meets
//! them at agent login. These are the rules a JWK library would have to express for us to use it:
//! a refused key writes nothing, and every encoding the contract tolerates is the same key.

mod common;

use common::*;
use serde_json::{json, Value};

const LOGIN: &str = "/v1/agents/login";
/// RFC 8037 §A.2 public key; its `_` gives it a distinct standard-alphabet spelling.
const KA_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

fn spec(h: &Harness) -> ProofSpec {
    ProofSpec::new("POST", &format!("{ISSUER}{LOGIN}"), h.now_s())
}

fn login_with_jwk(h: &Harness, key: &TestKey, jwk: Value, jti: Option<&str>) -> Resp {
    let mut spec = spec(h).header("jwk", jwk);
    if let Some(jti) = jti {
        spec.jti = jti.to_owned();
    }
    h.send(Req::post(LOGIN).header("dpop", &key.proof(&spec)))
}

fn writes(h: &Harness) -> (i64, i64) {
    (
        h.count("SELECT COUNT(*) AS n FROM jti_markers"),
        h.count("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'agent.login'"),
    )
}

#[test]
fn a_jwk_that_is_not_a_canonical_public_ed25519_key_is_refused_before_any_write() {
    let h = Harness::new();
    let key = TestKey::from_b64_seed(KA_SEED_B64);
    h.register(&key, "KA");
    let okp = |extra: Value| {
        let mut jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": KA_X});
        for (k, v) in extra.as_object().unwrap() {
            jwk[k] = v.clone();
        }
        jwk
    };
    let mut cases: Vec<(String, Value)> = vec![
        // y >= p: decodes, but is not the canonical encoding of its point.
        (
            "non-canonical point".into(),
            okp(json!({"x": "7f_______________________________________38"})),
        ),
        // Non-zero trailing bits: a second spelling of the same 32 bytes.
        (
            "non-canonical base64".into(),
            okp(json!({"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp"})),
        ),
        (
            "small-order point".into(),
            okp(json!({"x": "xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o"})),
        ),
        ("crv X25519".into(), okp(json!({"crv": "X25519"}))),
        ("crv Ed448".into(), okp(json!({"crv": "Ed448"}))),
        ("crv in lower case".into(), okp(json!({"crv": "ed25519"}))),
        ("crv P-256 on OKP".into(), okp(json!({"crv": "P-256"}))),
        ("kty in lower case".into(), okp(json!({"kty": "okp"}))),
        ("kty EC with crv Ed25519".into(), okp(json!({"kty": "EC"}))),
        (
            "kty RSA".into(),
            json!({"kty": "RSA", "n": KA_X, "e": "AQAB"}),
        ),
    ];
    // Every private or symmetric member, not only the one the key type defines (`d` for OKP).
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        cases.push((
            format!("private member {member}"),
            okp(json!({ member: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A" })),
        ));
    }
    // Every case is tried, so a failure lists all the rules a change broke.
    let accepted: Vec<String> = cases
        .into_iter()
        .filter_map(|(name, jwk)| {
            let before = writes(&h);
            let r = login_with_jwk(&h, &key, jwk, None);
            let refused = (r.status, r.code()) == (401, "invalid_dpop_proof");
            (!refused || writes(&h) != before).then(|| format!("{name}: {} {}", r.status, r.body))
        })
        .collect();
    assert!(accepted.is_empty(), "not refused cleanly: {accepted:#?}");
}

#[test]
fn every_encoding_the_contract_tolerates_is_the_same_key() {
    let h = Harness::new();
    let key = TestKey::from_b64_seed(KA_SEED_B64);
    assert_eq!(key.x(), KA_X);
    let agent = h.register(&key, "KA");
    let standard = format!("{}=", KA_X.replace('-', "+").replace('_', "/"));
    let (padded, jti) = (format!("{KA_X}="), "one-jti-for-every-spelling");

    // api.md 9.1: padding and the standard alphabet are tolerated in jwk.x; members beyond the
    // key (RFC 9864's `alg: Ed25519`, `use`, `kid`, `key_ops`) are ignored (P6 lists what is refused).
    let r = login_with_jwk(
        &h,
        &key,
        json!({"kty": "OKP", "crv": "Ed25519", "x": padded, "alg": "Ed25519", "use": "sig",
               "kid": "k1", "key_ops": ["verify"]}),
        Some(jti),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["agent_id"], agent.id.as_str());

    // The key is canonicalised before it is hashed: the same jti under another spelling of the
    // same key is a replay (api.md 9.7, 9.11), not a new proof.
    let replay = login_with_jwk(
        &h,
        &key,
        json!({"kty": "OKP", "crv": "Ed25519", "x": standard}),
        Some(jti),
    );
    replay.assert_error(401, "invalid_dpop_proof");
    assert!(replay.body["error"]
        .as_str()
        .unwrap()
        .contains("already been used"));

    let r = login_with_jwk(
        &h,
        &key,
        json!({"kty": "OKP", "crv": "Ed25519", "x": standard}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["agent_id"], agent.id.as_str());
}
