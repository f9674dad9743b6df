//! `customer.created` (`api.md` 7.4): a customer created by our own API call (7.5) carries a
//! signed `custom_data` naming the overseer; its id is stored when the overseer has none yet.

use serde_json::Value;

use super::Decision;
use crate::ctx::Ctx;
use crate::domain::ids::canonical_uuid;
use crate::http::ApiError;
use crate::paddle::event::{self, Envelope};
use crate::paddle::link;
use crate::store::batch::Batch;
use crate::store::overseers;

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
    if !overseers::lacks_customer(ctx.db(), &overseer_id).await? {
        return Ok(Decision::ignore(
            "overseer unknown or already has a customer",
        ));
    }
    let mut batch = Batch::new();
    batch.push(overseers::set_customer_if_unset(
        &overseer_id,
        &customer.id,
        ctx.now_ms,
    ));
    Ok(Decision::Apply {
        batch,
        after: Vec::new(),
    })
}
