//! Randomness from the operating system (the runtime's `crypto.getRandomValues` on wasm32).

use crate::error::LocalError;

/// Fills `buf` from the OS generator.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), LocalError> {
    getrandom::fill(buf).map_err(|_| LocalError::Random)
}

/// A random UUID v4 in canonical lowercase text: a proof's `jti`.
pub(crate) fn uuid_v4() -> Result<String, LocalError> {
    let mut b = [0u8; 16];
    fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = agent_id_protocol::hex::encode(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_v4_has_version_and_variant() {
        let a = super::uuid_v4().unwrap();
        let b = super::uuid_v4().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}
