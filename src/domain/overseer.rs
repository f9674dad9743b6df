//! Human overseers: accounts, e-mail and password rules (api.md 2.6, security.md §11).

use serde::{Deserialize, Serialize};

use crate::domain::time::rfc3339_ms;
use crate::http::{ApiError, ErrorCode};

/// Columns selected by [`OverseerRow::COLUMNS`].
#[derive(Clone, Debug, Deserialize)]
pub struct OverseerRow {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub paddle_customer_id: Option<String>,
    pub current_subscription_id: Option<String>,
    pub session_epoch: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl OverseerRow {
    pub const COLUMNS: &'static str =
        "id, name, email, paddle_customer_id, current_subscription_id, \
         session_epoch, created_at, updated_at";

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

/// Trims, lowercases and checks an e-mail address; `invalid_email` otherwise.
pub fn email(raw: &str) -> Result<String, ApiError> {
    let v = raw.trim().to_lowercase();
    let invalid = || ApiError::new(ErrorCode::InvalidEmail, "Invalid email address");
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

pub fn too_long() -> ApiError {
    ApiError::new(
        ErrorCode::PasswordTooLong,
        "Password must be at most 72 bytes (UTF-8)",
    )
}

/// A new password: 8..=72 UTF-8 bytes, no NUL.
pub fn new_password(raw: &str) -> Result<&str, ApiError> {
    if raw.len() < PASSWORD_MIN_BYTES {
        return Err(ApiError::new(
            ErrorCode::PasswordTooShort,
            "Password must be at least 8 bytes (UTF-8)",
        ));
    }
    if raw.len() > PASSWORD_MAX_BYTES {
        return Err(too_long());
    }
    if raw.contains('\0') {
        return Err(ApiError::invalid_field(
            "password",
            "must not contain NUL characters",
        ));
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
            assert_eq!(
                email(bad).unwrap_err().code,
                ErrorCode::InvalidEmail,
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert!(email(&long).is_err());
    }

    #[test]
    fn password_rules_count_bytes() {
        assert_eq!(
            new_password("1234567").unwrap_err().code,
            ErrorCode::PasswordTooShort
        );
        assert!(new_password("12345678").is_ok());
        assert!(new_password(&"é".repeat(36)).is_ok()); // 72 bytes
        assert_eq!(
            new_password(&"é".repeat(37)).unwrap_err().code,
            ErrorCode::PasswordTooLong
        );
        assert_eq!(
            new_password("abcdefgh\0").unwrap_err().code,
            ErrorCode::InvalidField
        );
    }
}
