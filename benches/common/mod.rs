//! Shared by the benches.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Natively the signature verifier's futures complete on their first poll (they are async only
/// for the wasm build's WebCrypto): poll once, so no executor is measured.
pub fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("native verification never waits"),
    }
}
