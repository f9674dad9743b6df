//! Software nobody here wrote checks our Web Bot Auth: Cloudflare's `web-bot-auth` crate parses
//! a request signed by our SDK, follows its `Signature-Agent` to the agent's card, fetches the
//! key directory the card names, and verifies the signature with the keys it found there.
//!
//! In process against the App here; against the real wasm in workerd by scripts/test.sh's e2e
//! stage (`AGENT_ID_BASE_URL`, the ignored test below).

// The shared server harness has more than this test uses.
#![allow(dead_code)]

#[path = "../../../tests/common/mod.rs"]
mod common;
mod server;

use agent_id_client::signing::card_url;
use agent_id_client::{AgentKey, Client, RequestSigner, ServerUrl, Transport};
use serde_json::Value;
use server::{run, setup, ISSUER};
use sfv::SerializeValue;
use web_bot_auth::components::{
    CoveredComponent, DerivedComponent, HTTPField, HTTPFieldParameters,
};
use web_bot_auth::keyring::{JSONWebKeySet, KeyRing};
use web_bot_auth::message_signatures::SignedMessage;
use web_bot_auth::{SignatureAgentLink, WebBotAuthVerifier};

/// A request as the site received it.
struct SiteRequest {
    authority: String,
    headers: Vec<(String, String)>,
}

impl SignedMessage for SiteRequest {
    fn lookup_component(&self, name: &CoveredComponent) -> Vec<String> {
        match name {
            CoveredComponent::HTTP(HTTPField { name, parameters }) => {
                let values = self
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone());
                // The trait leaves component parameters to the message: `;key` selects a
                // dictionary member (RFC 9421 §2.1.2), serialised by `sfv`.
                let key = parameters.0.iter().find_map(|p| match p {
                    HTTPFieldParameters::Key(k) => Some(k.clone()),
                    _ => None,
                });
                match key {
                    None => values.collect(),
                    Some(key) => values
                        .filter_map(|v| sfv::Parser::new(&v).parse_dictionary().ok())
                        .filter_map(|d| match d.get(key.as_str())? {
                            sfv::ListEntry::Item(item) => Some(item.serialize_value()),
                            sfv::ListEntry::InnerList(_) => None,
                        })
                        .collect(),
                }
            }
            CoveredComponent::Derived(DerivedComponent::Authority { .. }) => {
                vec![self.authority.clone()]
            }
            _ => vec![],
        }
    }
}

async fn get(transport: &dyn Transport, url: &str) -> (String, Value) {
    let req = http::Request::get(url).body(Vec::new()).unwrap();
    let res = transport.send(req).await.unwrap();
    assert_eq!(res.status(), 200, "GET {url}");
    let media = res.headers()["content-type"].to_str().unwrap().to_owned();
    (media, serde_json::from_slice(res.body()).unwrap())
}

/// Signs a request for a site with the SDK and has Cloudflare's verifier check it, with keys
/// discovered from the `Signature-Agent` over `transport`.
async fn cloudflare_verifies(
    transport: &dyn Transport,
    server: &ServerUrl,
    key: &AgentKey,
    agent_id: &str,
    now: i64,
) {
    let signed = RequestSigner::for_agent(key, server, agent_id)
        .headers("GET", "https://shop.example/basket", &[], now)
        .unwrap();
    let headers: Vec<(String, String)> = signed
        .pairs()
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let request = SiteRequest {
        authority: "shop.example".into(),
        headers: headers.clone(),
    };
    let verifier = WebBotAuthVerifier::parse(&request).unwrap();
    let card = card_url(server, agent_id);
    assert_eq!(
        verifier.get_signature_agents(),
        &vec![SignatureAgentLink::External(card.clone())]
    );
    let (_, card_doc) = get(transport, &card).await;
    assert_eq!(card_doc["client_id"], card.as_str());
    let jwks_uri = card_doc["jwks_uri"].as_str().unwrap();
    let (media, directory) = get(transport, jwks_uri).await;
    assert_eq!(media, "application/http-message-signatures-directory+json");
    let jwks: JSONWebKeySet = serde_json::from_value(directory).unwrap();
    let mut keyring = KeyRing::default();
    assert!(keyring.import_jwks(jwks).iter().all(Option::is_none));
    verifier.verify(&keyring, None).unwrap();

    // The same signature presented at another site does not verify.
    let elsewhere = SiteRequest {
        authority: "elsewhere.example".into(),
        headers,
    };
    assert!(WebBotAuthVerifier::parse(&elsewhere)
        .unwrap()
        .verify(&keyring, None)
        .is_err());
}

#[test]
fn cloudflares_verifier_accepts_the_sdks_signatures_with_our_directory() {
    let (h, transport, client) = setup(&[]);
    let key = AgentKey::generate().unwrap();
    let registered = run(client.register(&key, "Interop", None)).unwrap();
    let server = ServerUrl::parse(ISSUER).unwrap();
    run(cloudflare_verifies(
        transport.as_ref(),
        &server,
        &key,
        &registered.agent.id,
        h.now_s(),
    ));
}

/// The same against the real wasm in workerd, over HTTP on loopback.
#[test]
#[ignore = "needs AGENT_ID_BASE_URL (a running server): run by scripts/test.sh's e2e stage"]
fn cloudflares_verifier_accepts_the_sdks_signatures_from_workerd() {
    use agent_id_client::clock::{Clock, SystemClock};
    let base = std::env::var("AGENT_ID_BASE_URL").expect("AGENT_ID_BASE_URL");
    let server = ServerUrl::parse(&base).unwrap();
    let transport = agent_id_client::transport::default_transport().unwrap();
    let client = Client::with_transport(server.clone(), transport.clone());
    let key = AgentKey::generate().unwrap();
    let registered = run(client.register(&key, "Interop (workerd)", None)).unwrap();
    run(cloudflare_verifies(
        transport.as_ref(),
        &server,
        &key,
        &registered.agent.id,
        SystemClock.now_s(),
    ));
}
