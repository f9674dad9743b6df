//! The library as a wasm32 module over the `fetch` transport, for `e2e/test_sdk_wasm.py`, which
//! builds it (`--target wasm32-unknown-unknown --release`, then `wasm-bindgen --target nodejs`)
//! and runs `lifecycle(base_url)` in Node against the real Worker in workerd: register → login →
//! me → rotate → old key refused → login with the new key → logout → session refused. Natively
//! this example is empty.

#[cfg(target_arch = "wasm32")]
mod wasm {
    use agent_id_client::{AgentKey, Client, Error, ServerUrl};
    use serde_json::json;
    use wasm_bindgen::prelude::*;

    fn js(e: Error) -> JsValue {
        JsValue::from_str(&e.to_string())
    }

    fn code<T>(r: Result<T, Error>) -> Option<String> {
        r.err().and_then(|e| e.server_code().map(str::to_owned))
    }

    /// Runs the lifecycle and returns a JSON summary (no secrets in it).
    #[wasm_bindgen]
    pub async fn lifecycle(base_url: String) -> Result<String, JsValue> {
        let server = ServerUrl::parse(&base_url).map_err(|e| js(e.into()))?;
        let client = Client::new(server.clone()).map_err(js)?;
        let key = AgentKey::generate().map_err(|e| js(e.into()))?;
        let registered = client
            .register(&key, "wasm fetch agent", Some("agent-id-client on wasm32"))
            .await
            .map_err(js)?;
        let id = registered.agent.id.clone();
        let session = client.login(&key, Some(&id)).await.map_err(js)?;
        let me = client.me(&session).await.map_err(js)?;
        let new = AgentKey::generate().map_err(|e| js(e.into()))?;
        let rotated = client.rotate_key(&session, &key, &new).await.map_err(js)?;
        let old_login = code(client.login(&key, None).await);
        let again = client.login(&new, Some(&id)).await.map_err(js)?;
        client.logout(&again).await.map_err(js)?;
        let after_logout = code(client.me(&again).await);
        Ok(json!({
            "agent_id": id,
            "me_name": me.agent.name,
            "old_public_key": key.public_b64(),
            "new_public_key": new.public_b64(),
            "rotated_public_key": rotated.agent.public_key,
            "old_key_login": old_login,
            "after_logout": after_logout,
            "nonce_cached": client.dpop().nonce(server.origin()).is_some(),
        })
        .to_string())
    }
}
