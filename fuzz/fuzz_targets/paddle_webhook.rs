//! `Paddle-Signature` headers and webhook event envelopes.
//!
//! Input: `flags` byte, then the rest.
//! - `flags & 1 == 0`: the rest is `Paddle-Signature value \n raw body`, verified at `T0` with the
//!   project secret. Invariant: only a header carrying the real MAC of this body is accepted.
//! - `flags & 1 == 1`: the rest is the raw body, signed here at `T0 + (flags >> 1)`. Invariants:
//!   the signature verifies, and fails for a changed body, another secret or a `ts` past the
//!   tolerance.
//!
//! Either way the body is then parsed as an event envelope and its `data` as the entity its type
//! names, as the webhook handler does after a valid signature.
#![no_main]

use agent_id::paddle::event::{self, EventKind};
use agent_id::paddle::signature::{self, SignatureError};
use agent_id_fuzz::*;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case<'a> {
    flags: u8,
    rest: &'a [u8],
}

/// `PADDLE_WEBHOOK_TOLERANCE_SECS` default.
const TOLERANCE: i64 = 300;

fuzz_target!(|case: Case| {
    let body = if case.flags & 1 == 0 {
        let (header, body) = split_line(case.rest);
        let header = String::from_utf8_lossy(header);
        if signature::verify(&header, body, PADDLE_SECRET, T0, TOLERANCE).is_ok() {
            let ts = header
                .split(';')
                .find_map(|p| p.trim().strip_prefix("ts="))
                .expect("an accepted header has ts")
                .parse::<i64>()
                .expect("numeric ts");
            let expected = signature::sign(PADDLE_SECRET, ts, body);
            let mac = expected.rsplit('=').next().unwrap();
            assert!(
                header.to_ascii_lowercase().contains(mac),
                "accepted a header without the body's MAC"
            );
        }
        body
    } else {
        let body = case.rest;
        let ts = T0 + i64::from(case.flags >> 1);
        let header = signature::sign(PADDLE_SECRET, ts, body);
        assert_eq!(
            signature::verify(&header, body, PADDLE_SECRET, T0, TOLERANCE),
            Ok(())
        );
        let mut changed = body.to_vec();
        changed.push(b' ');
        assert_eq!(
            signature::verify(&header, &changed, PADDLE_SECRET, T0, TOLERANCE),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            signature::verify(&header, body, "another-secret", T0, TOLERANCE),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            signature::verify(&header, body, PADDLE_SECRET, ts + TOLERANCE + 1, TOLERANCE),
            Err(SignatureError::Stale)
        );
        body
    };

    let Ok(envelope) = event::parse_envelope(body) else {
        return;
    };
    assert!(!envelope.event_id.is_empty());
    let kind = envelope.kind();
    assert_eq!(kind, EventKind::from_type(&envelope.event_type));
    if kind.is_subscription() {
        let _ = event::subscription(&envelope.data);
    }
    match kind {
        EventKind::TransactionCompleted => drop(event::transaction(&envelope.data)),
        EventKind::CustomerCreated => drop(event::customer(&envelope.data)),
        _ => {}
    }
});
