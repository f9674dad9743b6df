//! The one path from a request's `DPoP` header to a checked proof, shared by agent
//! authentication and the OAuth client endpoints (token, userinfo): read the single header,
//! check P1–P13 against this request and the configuration, hand out a fresh nonce when one
//! is required, and consume the proof's `jti` (P15). Each caller phrases the outcome in its
//! own error format and does its own key binding (P14).

use crate::auth::dpop::{self, ProofContext, ProofError, VerifiedProof};
use crate::auth::replay::{self, MarkerKind};
use crate::ctx::Ctx;
use crate::http::{ApiError, Credential, Sent};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::jose::jws::Alg;

/// What the endpoint accepts.
#[derive(Clone, Copy)]
pub struct Expect<'a> {
    pub algs: &'a [Alg],
    /// Compatible userinfo mode: a proof without `jwk` is verified with this key.
    pub fallback_key: Option<&'a Ed25519PublicKey>,
    /// The access token presented with the proof (its `ath` is then required).
    pub access_token: Option<&'a str>,
}

/// What the request's `DPoP` header amounted to.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per request and matched at once; boxing would only add an allocation"
)]
pub enum HeaderProof {
    /// No `DPoP` header.
    Absent,
    /// P1–P13 hold; P14 and P15 are the caller's.
    Verified(VerifiedProof),
    /// `invalid_dpop_proof`, with a short reason safe to send.
    Invalid(&'static str),
    /// `use_dpop_nonce`, with the fresh nonce to send.
    UseNonce(String),
}

/// Checks the request's single `DPoP` header against `expect`. Errors are configuration
/// errors only: a nonce is required (or must be handed out) but no nonce key is configured.
pub async fn check(ctx: &Ctx<'_>, expect: Expect<'_>) -> Result<HeaderProof, ApiError> {
    let value = match ctx.req.credential(Credential::Dpop) {
        Sent::Absent => return Ok(HeaderProof::Absent),
        Sent::Repeated => return Ok(HeaderProof::Invalid("more than one DPoP header")),
        Sent::Once(v) => match v.to_str() {
            Ok(v) => v,
            Err(_) => return Ok(HeaderProof::Invalid("DPoP header is not a compact JWS")),
        },
    };
    let nonce_key = ctx
        .config
        .dpop_nonce_key
        .as_ref()
        .map_err(ApiError::configuration);
    let key_bytes: &[u8] = match (&nonce_key, ctx.config.dpop_require_nonce) {
        (Ok(k), _) => k,
        (Err(e), true) => return Err(e.clone()),
        (Err(_), false) => &[],
    };
    let expected_url = format!("{}{}", ctx.issuer, ctx.req.path);
    let pctx = ProofContext {
        method: ctx.req.method.as_str(),
        expected_url: &expected_url,
        allowed_algs: expect.algs,
        jwk_required: expect.fallback_key.is_none(),
        fallback_key: expect.fallback_key,
        now_s: ctx.now_s(),
        iat_past_secs: ctx.config.dpop_iat_past_secs,
        iat_future_secs: ctx.config.dpop_iat_future_secs,
        nonce_key: key_bytes,
        require_nonce: ctx.config.dpop_require_nonce,
        access_token: expect.access_token,
    };
    match dpop::verify_proof(value, &pctx).await {
        Ok(proof) => Ok(HeaderProof::Verified(proof)),
        Err(ProofError::Invalid(reason)) => Ok(HeaderProof::Invalid(reason)),
        // A nonce can only be handed out with a nonce key; without one, fail closed.
        Err(ProofError::UseNonce) => Ok(HeaderProof::UseNonce(dpop::nonce::issue(
            nonce_key?,
            ctx.now_s(),
        ))),
    }
}

/// P15: the proof's `jti` is used once (a D1 primary key); the last check before acting.
/// `false` when the proof was already used.
pub async fn consume(ctx: &Ctx<'_>, proof: &VerifiedProof) -> Result<bool, ApiError> {
    replay::first_use(
        ctx,
        MarkerKind::Dpop,
        &proof.thumbprint,
        &proof.replay_hash,
        proof.accepted_through,
    )
    .await
}

/// Reason sent when [`consume`] finds the proof used.
pub const REPLAYED: &str = "DPoP proof has already been used";

/// The shared path with the vector proof of vectors.md §5.3 (really signed, nothing mocked):
/// what each caller receives for the header shapes and nonce configurations.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::collections::HashMap;
    use std::rc::Rc;

    use http::{HeaderMap, HeaderValue, Method};

    use super::*;
    use crate::clock::{ManualClock, OsEntropy};
    use crate::config::Config;
    use crate::ctx::Services;
    use crate::http::{Body, ErrorCode, Request};
    use crate::store::memory::MemoryKv;
    use crate::store::sqlite::SqliteDb;

    const T0: i64 = 1_767_225_600;
    const PROOF_5_3: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVkRFNBIiwiandrIjp7Imt0eSI6Ik9LUCIsImNydiI6IkVkMjU1MTkiLCJ4IjoiMTFxWUFZS3hDcmZWU183VHlXUUhPZzdoY3ZQYXBpTWxyd0lhYVBjSFVSbyJ9fQ.eyJqdGkiOiI1ZTBhOGMxZC03YjdlLTRlNDMtOWYzYS0yYjZjOGQwZTFmNDIiLCJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6Ly9pZC5leGFtcGxlLmNvbS92MS9hZ2VudHMvbG9naW4iLCJpYXQiOjE3NjcyMjU2MDB9.QVBRJLXemGDn6YrzR32XayFHCy-46KDgYaXocZMs9MB0p664uAy5hnBNC1_h15U71ohvly0dx7STJwJZutacDQ";
    const KA_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
    /// The seed bytes 0..=31 (vectors.md §5.9), standard base64.
    const SERVER_SEED_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const EXPECT: Expect<'static> = Expect {
        algs: &[Alg::EdDSA, Alg::Ed25519],
        fallback_key: None,
        access_token: None,
    };

    fn config(pairs: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load(&vars).unwrap()
    }

    /// `POST /v1/agents/login` at `T0` carrying `proofs` as its `DPoP` headers.
    fn check_with(config: &Config, proofs: &[&[u8]]) -> Result<HeaderProof, ApiError> {
        let clock = Rc::new(ManualClock::at_secs(T0));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let services = Services::new(
            clock.clone(),
            Rc::new(OsEntropy),
            Rc::new(SqliteDb::in_memory(&dir).unwrap()),
            Rc::new(MemoryKv::new(clock)),
        );
        let mut headers = HeaderMap::new();
        for p in proofs {
            headers.append("dpop", HeaderValue::from_bytes(p).unwrap());
        }
        let req = Request {
            method: Method::POST,
            path: "/v1/agents/login".into(),
            query: None,
            headers,
            body: Body::Bytes(Vec::new()),
            origin: "https://id.example.com".into(),
        };
        let ctx = Ctx {
            services: &services,
            config,
            req: &req,
            params: Default::default(),
            request_id: "r",
            issuer: "https://id.example.com".into(),
            now_ms: T0 * 1000,
        };
        futures::executor::block_on(check(&ctx, EXPECT))
    }

    #[test]
    fn header_shapes() {
        let c = config(&[("OAUTH_SIGNING_KEY", SERVER_SEED_B64)]);
        assert!(matches!(check_with(&c, &[]), Ok(HeaderProof::Absent)));
        let proof = PROOF_5_3.as_bytes();
        match check_with(&c, &[proof]) {
            Ok(HeaderProof::Verified(p)) => assert_eq!(p.thumbprint, KA_THUMBPRINT),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_with(&c, &[proof, proof]),
            Ok(HeaderProof::Invalid("more than one DPoP header"))
        ));
        assert!(matches!(
            check_with(&c, &[b"\xff"]),
            Ok(HeaderProof::Invalid("DPoP header is not a compact JWS"))
        ));
    }

    #[test]
    fn a_required_nonce_is_handed_out_or_fails_closed() {
        let c = config(&[
            ("OAUTH_SIGNING_KEY", SERVER_SEED_B64),
            ("DPOP_REQUIRE_NONCE", "true"),
        ]);
        match check_with(&c, &[PROOF_5_3.as_bytes()]) {
            Ok(HeaderProof::UseNonce(nonce)) => {
                let key = c.dpop_nonce_key.as_ref().unwrap();
                assert!(dpop::nonce::is_valid(key, &nonce, T0));
            }
            other => panic!("{other:?}"),
        }
        // No signing key, so no nonce key: a configuration error, never an unchecked proof.
        let without_key = config(&[("DPOP_REQUIRE_NONCE", "true")]);
        let e = check_with(&without_key, &[PROOF_5_3.as_bytes()]).unwrap_err();
        assert_eq!(e.code, ErrorCode::ConfigurationError);
        // Without a required nonce and without a key, a sound proof is still accepted.
        let optional = config(&[]);
        assert!(matches!(
            check_with(&optional, &[PROOF_5_3.as_bytes()]),
            Ok(HeaderProof::Verified(_))
        ));
    }
}
