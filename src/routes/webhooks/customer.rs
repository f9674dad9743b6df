//! `customer.created` (`api.md` 7.4): a customer created by our own API call (7.5) carries a
//! signed `custom_data` naming the overseer; its id is stored when the overseer has none yet.

use serde_json::Value;

use super::Decision;
use crate::ctx::Ctx;
use crate::domain::ids::canonical_uuid;
use crate::http::ApiError;
use crate::paddle::event::{self, Envelope};
use crate::paddle::link;
use crate::stmt;

pub(super) async fn handle(ctx: &Ctx<'_>, env: &Envelope) -> Result<Decision, ApiError> {
    let Ok(customer) = event::customer(&env.data) else {
        return Ok(Decision::ignore("customer data incomplete"));
    };
    let Some(custom) = &customer.custom_data else {
        return Ok(Decision::ignore("customer without custom_data"));
    };
    let overseer_id = custom
        .get("overseer_id")
        .and_then(Value::as_str)
        .and_then(canonical_uuid);
    let sig = custom.get("link_sig").and_then(Value::as_str);
    let (Some(overseer_id), Some(sig)) = (overseer_id, sig) else {
        return Ok(Decision::ignore("customer custom_data incomplete"));
    };
    let key = ctx.config.link_key.as_ref()?;
    if !link::verify_sig(&link::customer_sig(key, &overseer_id), sig) {
        return Ok(Decision::ignore("customer link_sig does not verify"));
    }
    let unset = !ctx
        .services
        .db
        .run(stmt!(
            "SELECT 1 AS one FROM overseers WHERE id = ?1 AND kind = 'human' AND paddle_customer_id IS NULL",
            overseer_id.as_str()
        ))
        .await?
        .rows
        .is_empty();
    if !unset {
        return Ok(Decision::ignore(
            "overseer unknown or already has a customer",
        ));
    }
    Ok(Decision::Apply {
        stmts: vec![stmt!(
            "UPDATE overseers SET paddle_customer_id = ?2, updated_at = ?3 \
             WHERE id = ?1 AND paddle_customer_id IS NULL",
            overseer_id.as_str(),
            customer.id.as_str(),
            ctx.now_ms
        )],
        after: Vec::new(),
    })
}
