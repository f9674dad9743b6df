//! The OAuth scope registry (`api.md` 2.11) and the granted-scope rule.
//!
//! A [`Scope`] is a non-empty set of registry tokens. It is stored as a bit set, so duplicates
//! disappear and [`Display`](fmt::Display) always writes registry order: the normalised text is
//! what the database stores and what tokens and responses carry.

use std::fmt;

/// One token of the registry, in registry order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeToken {
    Id,
    Name,
    Description,
    PubKey,
    Subscription,
}

impl ScopeToken {
    /// Every token, in registry order (the order of `scopes_supported` in discovery).
    pub const ALL: [ScopeToken; 5] = [
        ScopeToken::Id,
        ScopeToken::Name,
        ScopeToken::Description,
        ScopeToken::PubKey,
        ScopeToken::Subscription,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeToken::Id => "id",
            ScopeToken::Name => "name",
            ScopeToken::Description => "description",
            ScopeToken::PubKey => "pub_key",
            ScopeToken::Subscription => "subscription",
        }
    }

    /// Exact, case-sensitive lookup (RFC 6749 §3.3: scope tokens are case-sensitive).
    pub fn parse(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == token)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A normalised, non-empty set of registry scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    bits: u8,
}

/// Why a scope string is refused (`invalid_scope` at the OAuth endpoints and at registration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeError {
    /// No token at all (empty or only spaces).
    Empty,
    /// A token outside the registry (including `openid`, commas, tabs or other case).
    Unknown,
    /// A valid scope that is not a subset of the client's (or the grant's) scope.
    NotAllowed,
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScopeError::Empty => "scope is empty",
            ScopeError::Unknown => "scope contains an unsupported value",
            ScopeError::NotAllowed => "scope exceeds the scope allowed for this client",
        })
    }
}

impl std::error::Error for ScopeError {}

impl Scope {
    /// Parses a space-separated scope (RFC 6749 §3.3). Runs of spaces and leading/trailing spaces
    /// are tolerated; any other separator (tab, comma) makes an unknown token. Duplicates are
    /// removed. A string without any token is [`ScopeError::Empty`]: whether "empty" means "no
    /// restriction" or "default" is the caller's decision (see [`Scope::parse_registration`] and
    /// [`granted`]), so it is never silently a scope here.
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        let mut bits = 0u8;
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            bits |= ScopeToken::parse(token).ok_or(ScopeError::Unknown)?.bit();
        }
        if bits == 0 {
            return Err(ScopeError::Empty);
        }
        Ok(Scope { bits })
    }

    /// The `scope` field of client registration (`api.md` 2.8): absent or empty → `None` (no
    /// restriction), otherwise a valid scope.
    pub fn parse_registration(s: Option<&str>) -> Result<Option<Scope>, ScopeError> {
        match s {
            None => Ok(None),
            Some(s) => match Scope::parse(s) {
                Ok(scope) => Ok(Some(scope)),
                Err(ScopeError::Empty) => Ok(None),
                Err(err) => Err(err),
            },
        }
    }

    /// The single scope `id`: the default when neither request nor client names one.
    pub fn id_only() -> Scope {
        Scope {
            bits: ScopeToken::Id.bit(),
        }
    }

    /// Whether `token` is granted (userinfo members, introspection `username`).
    pub fn contains(&self, token: ScopeToken) -> bool {
        self.bits & token.bit() != 0
    }

    /// Whether every token of `self` is also in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.bits & !other.bits == 0
    }

    /// The tokens in registry order.
    pub fn tokens(&self) -> impl Iterator<Item = ScopeToken> + '_ {
        ScopeToken::ALL.into_iter().filter(|t| self.contains(*t))
    }
}

impl fmt::Display for Scope {
    /// Registry order, single spaces: the normalised form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, token) in self.tokens().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(token.as_str())?;
        }
        Ok(())
    }
}

/// The granted scope (`api.md` 2.11): the requested scope, which must be a subset of
/// `client_scope` when the client registered one; requested absent → the client's scope, or `id`
/// when it has none.
///
/// A requested value without tokens (`scope=` or only spaces) counts as absent: form encoders
/// commonly send the empty parameter for "no scope", and it cannot widen anything.
///
/// The same rule narrows at refresh (`grant_type=refresh_token`): pass the grant's scope as
/// `client_scope`.
pub fn granted(requested: Option<&str>, client_scope: Option<&Scope>) -> Result<Scope, ScopeError> {
    let requested = match requested.map(Scope::parse) {
        None | Some(Err(ScopeError::Empty)) => None,
        Some(Ok(scope)) => Some(scope),
        Some(Err(err)) => return Err(err),
    };
    match (requested, client_scope) {
        (None, Some(client)) => Ok(*client),
        (None, None) => Ok(Scope::id_only()),
        (Some(req), Some(client)) if !req.is_subset_of(client) => Err(ScopeError::NotAllowed),
        (Some(req), _) => Ok(req),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(s: &str) -> Scope {
        Scope::parse(s).unwrap()
    }

    #[test]
    fn parses_and_normalises_to_registry_order() {
        assert_eq!(
            scope("subscription id description name").to_string(),
            "id name description subscription"
        );
        assert_eq!(scope("pub_key pub_key id id").to_string(), "id pub_key");
        assert_eq!(scope("  name   id ").to_string(), "id name");
        assert_eq!(
            scope("id name description pub_key subscription").to_string(),
            "id name description pub_key subscription"
        );
        assert_eq!(Scope::id_only().to_string(), "id");
    }

    #[test]
    fn rejects_unknown_tokens() {
        for bad in [
            "openid",
            "id openid",
            "id admin", // L14
            "id,name",  // L15
            "id\tname", // tab is not a separator
            "ID",       // case-sensitive
            "pub-key",
            "id\nname",
            "profile email",
        ] {
            assert_eq!(Scope::parse(bad), Err(ScopeError::Unknown), "{bad:?}");
        }
    }

    #[test]
    fn empty_is_an_error_for_parse_and_none_for_registration() {
        assert_eq!(Scope::parse(""), Err(ScopeError::Empty));
        assert_eq!(Scope::parse("   "), Err(ScopeError::Empty));
        assert_eq!(Scope::parse_registration(None), Ok(None));
        assert_eq!(Scope::parse_registration(Some("")), Ok(None));
        assert_eq!(Scope::parse_registration(Some(" ")), Ok(None));
        assert_eq!(
            Scope::parse_registration(Some("name id")),
            Ok(Some(scope("id name")))
        );
        assert_eq!(
            Scope::parse_registration(Some("id admin")),
            Err(ScopeError::Unknown)
        );
    }

    #[test]
    fn subset_and_contains() {
        let all = scope("id name description pub_key subscription");
        let c = scope("id name description subscription");
        assert!(scope("id").is_subset_of(&c));
        assert!(c.is_subset_of(&c));
        assert!(c.is_subset_of(&all));
        assert!(!all.is_subset_of(&c));
        assert!(!scope("pub_key").is_subset_of(&c));
        assert!(c.contains(ScopeToken::Subscription));
        assert!(!c.contains(ScopeToken::PubKey));
        assert_eq!(
            c.tokens().collect::<Vec<_>>(),
            [
                ScopeToken::Id,
                ScopeToken::Name,
                ScopeToken::Description,
                ScopeToken::Subscription
            ]
        );
    }

    #[test]
    fn granted_follows_the_registry_rules() {
        let c = scope("id name description subscription");
        // Absent → the client's scope, or `id`.
        assert_eq!(granted(None, Some(&c)), Ok(c));
        assert_eq!(granted(None, None), Ok(Scope::id_only()));
        assert_eq!(granted(Some(""), Some(&c)), Ok(c));
        assert_eq!(granted(Some(" "), None), Ok(Scope::id_only()));
        // Requested within the client's scope, normalised.
        assert_eq!(
            granted(Some("name id name"), Some(&c)).map(|s| s.to_string()),
            Ok("id name".to_owned())
        );
        // No client restriction: anything in the registry.
        assert_eq!(
            granted(Some("pub_key"), None).map(|s| s.to_string()),
            Ok("pub_key".to_owned())
        );
        // Z16: outside the client's scope.
        assert_eq!(
            granted(Some("pub_key"), Some(&c)),
            Err(ScopeError::NotAllowed)
        );
        // Z15: openid.
        assert_eq!(granted(Some("openid"), None), Err(ScopeError::Unknown));
        assert_eq!(
            granted(Some("id openid"), Some(&c)),
            Err(ScopeError::Unknown)
        );
        // T46: refresh narrowing uses the grant's scope.
        let grant = scope("id name");
        assert_eq!(
            granted(Some("id pub_key"), Some(&grant)),
            Err(ScopeError::NotAllowed)
        );
        assert_eq!(granted(Some("name"), Some(&grant)), Ok(scope("name")));
    }

    #[test]
    fn errors_have_short_reasons() {
        assert_eq!(
            ScopeError::Unknown.to_string(),
            "scope contains an unsupported value"
        );
        assert_eq!(ScopeError::Empty.to_string(), "scope is empty");
    }
}
