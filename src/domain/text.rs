//! Validation of free-text fields (api.md 1.2, 2.2): trimmed, counted in characters, stored
//! verbatim — no escaping, no normalisation.

/// Why a text field was refused; routes answer `missing_field` or `invalid_field`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextError {
    /// Empty after trimming.
    Missing(&'static str),
    /// Longer than `max` characters.
    TooLong(&'static str, usize),
    /// Holds a control character it may not.
    ControlCharacters(&'static str),
}

impl TextError {
    /// The field the error is about.
    pub const fn field(self) -> &'static str {
        match self {
            TextError::Missing(f) | TextError::TooLong(f, _) | TextError::ControlCharacters(f) => f,
        }
    }
}

/// A name: 1..=128 characters after trimming, no control characters.
pub fn name(field: &'static str, raw: &str) -> Result<String, TextError> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(TextError::Missing(field));
    }
    if v.chars().count() > 128 {
        return Err(TextError::TooLong(field, 128));
    }
    if v.chars().any(char::is_control) {
        return Err(TextError::ControlCharacters(field));
    }
    Ok(v.to_owned())
}

/// A description: 0..=1024 characters after trimming; `\n` and `\t` are the only control
/// characters allowed. Empty means "not set".
pub fn description(field: &'static str, raw: Option<&str>) -> Result<Option<String>, TextError> {
    let Some(v) = raw.map(str::trim) else {
        return Ok(None);
    };
    if v.chars().count() > 1024 {
        return Err(TextError::TooLong(field, 1024));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(TextError::ControlCharacters(field));
    }
    Ok((!v.is_empty()).then(|| v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_count_characters_and_refuse_controls() {
        assert_eq!(name("name", "  Demo  ").unwrap(), "Demo");
        assert_eq!(
            name("name", &"😀".repeat(128)).unwrap().chars().count(),
            128
        );
        assert_eq!(
            name("name", &"a".repeat(129)),
            Err(TextError::TooLong("name", 128))
        );
        assert_eq!(name("name", "   "), Err(TextError::Missing("name")));
        assert_eq!(
            name("name", "a\u{7}b"),
            Err(TextError::ControlCharacters("name"))
        );
        assert_eq!(
            name("name", "a\u{85}b"),
            Err(TextError::ControlCharacters("name"))
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
