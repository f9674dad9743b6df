//! Prints one DPoP proof built by the library, for an independent verifier (`e2e/test_sdk_proofs.py`
//! checks it with `cryptography` and `jwskate`):
//!
//! ```sh
//! cargo run -p agent-id-client --example dpop_proof -- --alg EdDSA --htm POST \
//!     --htu 'https://id.example.com/v1/agents/login?x=1' [--nonce N] [--token-stdin]
//! ```
//!
//! Output: `{"proof": …, "jwk": <public JWK>, "thumbprint": …}`. The key is fresh and thrown away;
//! with `--token-stdin` the access token (for `ath`) is read from standard input, never argv.

use std::io::Read;
use std::process::ExitCode;
use std::rc::Rc;

use agent_id_client::clock::SystemClock;
use agent_id_client::transport::{HttpRequest, HttpResponse, Transport};
use agent_id_client::{AgentKey, DpopClient, ProofSigner, TransportError};
use serde_json::json;

/// Proofs are only built here, never sent.
struct Unused;

#[async_trait::async_trait(?Send)]
impl Transport for Unused {
    async fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
        Err(TransportError::new("this example sends nothing"))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(alg), Some(htm), Some(htu)) = (value("--alg"), value("--htm"), value("--htu")) else {
        eprintln!("usage: dpop_proof --alg EdDSA|ES256 --htm METHOD --htu URL [--nonce N] [--token-stdin]");
        return ExitCode::from(2);
    };
    let mut token = String::new();
    if args.iter().any(|a| a == "--token-stdin") {
        std::io::stdin().read_to_string(&mut token).expect("stdin");
        token = token.trim().to_owned();
    }
    let token = (!token.is_empty()).then_some(token.as_str());
    let dpop = DpopClient::new(Rc::new(Unused), Rc::new(SystemClock));
    let nonce = value("--nonce");
    let ed = AgentKey::generate().expect("random");
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("random");
    let p256 = p256::ecdsa::SigningKey::from_slice(&seed).expect("a P-256 scalar");
    let signer = match alg.as_str() {
        "EdDSA" => ProofSigner::Ed25519(ed.signing_key()),
        "ES256" => ProofSigner::Es256(&p256),
        other => {
            eprintln!("unknown --alg {other}");
            return ExitCode::from(2);
        }
    };
    if let Some(n) = &nonce {
        dpop.remember_nonce(&htu, n);
    }
    let proof = dpop.proof_for(signer, &htm, &htu, token).expect("proof");
    let header = agent_id_protocol::jws::parse(&proof)
        .expect("compact JWS")
        .header;
    println!(
        "{}",
        json!({"proof": proof, "jwk": header["jwk"], "thumbprint": signer.thumbprint()})
    );
    ExitCode::SUCCESS
}
