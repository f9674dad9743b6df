//! Human overseers: accounts, e-mail and password rules (api.md 2.6, security.md §11), and what
//! an overseer is shown of itself and of its agents. Free of HTTP: rules answer in
//! [`AccountError`], which the routes map to their error codes.

use serde::Serialize;

use crate::domain::time::rfc3339_ms;
use crate::store::oversights::OverseenAgentRow;

/// The account row lives with its SQL; re-exported for the callers that knew it here.
pub use crate::store::overseers::OverseerRow;

impl OverseerRow {
    pub fn view(&self) -> OverseerView<'_> {
        OverseerView {
            id: &self.id,
            name: self.name.as_deref().unwrap_or(""),
            email: self.email.as_deref().unwrap_or(""),
            created_at: rfc3339_ms(self.created_at),
            updated_at: rfc3339_ms(self.updated_at),
        }
    }
}

/// The Overseer object (self view) of api.md 1.9.
#[derive(Debug, Serialize)]
pub struct OverseerView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub created_at: String,
    pub updated_at: String,
}

/// An actively overseen agent as its overseer sees it.
#[derive(Debug, Serialize)]
pub struct OverseenAgent {
    id: String,
    name: String,
    description: Option<String>,
    public_key: String,
    created_at: String,
    claimed_at: String,
    marked_for_cancellation: bool,
    oauth_count: i64,
    clients_registered: i64,
}

impl From<OverseenAgentRow> for OverseenAgent {
    fn from(r: OverseenAgentRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            public_key: r.public_key,
            created_at: rfc3339_ms(r.created_at),
            claimed_at: rfc3339_ms(r.claimed_at),
            marked_for_cancellation: r.marked_for_cancellation,
            oauth_count: r.oauth_count,
            clients_registered: r.clients_registered,
        }
    }
}

/// Why an e-mail address or a password was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountError {
    InvalidEmail,
    PasswordTooShort,
    /// bcrypt would silently ignore everything past 72 bytes.
    PasswordTooLong,
    PasswordHasNul,
}

/// Trims, lowercases and checks an e-mail address.
pub fn email(raw: &str) -> Result<String, AccountError> {
    let v = raw.trim().to_lowercase();
    let invalid = || AccountError::InvalidEmail;
    if v.chars().count() > 254 {
        return Err(invalid());
    }
    let (local, domain) = v.split_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty() && !local.chars().any(|c| c.is_whitespace() || c.is_control());
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if local_ok && domain_ok {
        Ok(v)
    } else {
        Err(invalid())
    }
}

/// Bytes a bcrypt password may have: bcrypt ignores everything past 72, so longer passwords
/// are refused rather than silently truncated.
pub const PASSWORD_MIN_BYTES: usize = 8;
pub const PASSWORD_MAX_BYTES: usize = 72;

/// A new password: 8..=72 UTF-8 bytes, no NUL.
pub fn new_password(raw: &str) -> Result<&str, AccountError> {
    if raw.len() < PASSWORD_MIN_BYTES {
        return Err(AccountError::PasswordTooShort);
    }
    if raw.len() > PASSWORD_MAX_BYTES {
        return Err(AccountError::PasswordTooLong);
    }
    if raw.contains('\0') {
        return Err(AccountError::PasswordHasNul);
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        assert_eq!(
            email("  Overseer@Example.TEST ").unwrap(),
            "overseer@example.test"
        );
        assert_eq!(
            email("a.b+c@sub.xn--bcher-kva.example").unwrap(),
            "a.b+c@sub.xn--bcher-kva.example"
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@@example.com",
            "a@exa mple.com",
            "a@example..com",
            "a@exa_mple.com",
            "a@bücher.example",
        ] {
            assert_eq!(email(bad).unwrap_err(), AccountError::InvalidEmail, "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert!(email(&long).is_err());
    }

    #[test]
    fn password_rules_count_bytes() {
        assert_eq!(
            new_password("1234567").unwrap_err(),
            AccountError::PasswordTooShort
        );
        assert!(new_password("12345678").is_ok());
        assert!(new_password(&"é".repeat(36)).is_ok()); // 72 bytes
        assert_eq!(
            new_password(&"é".repeat(37)).unwrap_err(),
            AccountError::PasswordTooLong
        );
        assert_eq!(
            new_password("abcdefgh\0").unwrap_err(),
            AccountError::PasswordHasNul
        );
    }
}
