//! Validation of free-text fields (api.md 1.2, 2.2): trimmed, counted in characters, stored
//! verbatim — no escaping, no normalisation.

use crate::http::ApiError;

/// A name: 1..=128 characters after trimming, no control characters.
pub fn name(field: &str, raw: &str) -> Result<String, ApiError> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(ApiError::missing_field(field));
    }
    if v.chars().count() > 128 {
        return Err(ApiError::invalid_field(
            field,
            "must be at most 128 characters",
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

/// A description: 0..=1024 characters after trimming; `\n` and `\t` are the only control
/// characters allowed. Empty means "not set".
pub fn description(field: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(v) = raw.map(str::trim) else {
        return Ok(None);
    };
    if v.chars().count() > 1024 {
        return Err(ApiError::invalid_field(
            field,
            "must be at most 1024 characters",
        ));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok((!v.is_empty()).then(|| v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ErrorCode;

    #[test]
    fn names_count_characters_and_refuse_controls() {
        assert_eq!(name("name", "  Demo  ").unwrap(), "Demo");
        assert_eq!(
            name("name", &"😀".repeat(128)).unwrap().chars().count(),
            128
        );
        assert_eq!(
            name("name", &"a".repeat(129)).unwrap_err().code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            name("name", "   ").unwrap_err().code,
            ErrorCode::MissingField
        );
        assert_eq!(
            name("name", "a\u{7}b").unwrap_err().code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            name("name", "a\u{85}b").unwrap_err().code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn descriptions_allow_newlines_and_tabs_only() {
        assert_eq!(
            description("d", Some("a\n\tb")).unwrap().as_deref(),
            Some("a\n\tb")
        );
        assert_eq!(description("d", Some("  ")).unwrap(), None);
        assert_eq!(description("d", None).unwrap(), None);
        assert!(description("d", Some("a\u{0}b")).is_err());
        assert!(description("d", Some(&"x".repeat(1025))).is_err());
        assert!(description("d", Some(&"x".repeat(1024))).is_ok());
    }
}
