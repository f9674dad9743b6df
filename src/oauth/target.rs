//! Resource indicators (RFC 8707) and the scopes of resource grants: which resources a request
//! names, which of their scopes it may ask for, and which one resource a token is minted for.
//!
//! Pure protocol rules; the handlers read the registered resources and map [`TargetError`] to
//! `invalid_target` (and [`ResourceScopeError`] to `invalid_scope`).

use std::fmt;

use serde_json::Value;

use crate::domain::resource::canonical_resource_uri;

use crate::store::resources::ResourceRow;

/// Most resources one authorization request may name (each is read at authorize).
pub const MAX_RESOURCES: usize = 5;
/// The scope that asks for a refresh token (OpenID Connect Core §11). Refresh tokens are always
/// issued (as for v1 clients), so it is accepted with any resource and never reaches a token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Why a `resource` parameter is refused: `invalid_target` (RFC 8707 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// Not an absolute http(s) URI, or with a fragment.
    Malformed,
    /// More than [`MAX_RESOURCES`] resources.
    TooMany,
    /// No protected resource is registered under this URI.
    Unknown,
    /// At the token endpoint: a resource the grant does not cover (or any resource for a grant
    /// without resource indicators).
    NotGranted,
    /// At the token endpoint: several resources named, or none for a grant that has several.
    Ambiguous,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetError::Malformed => "resource must be an absolute https URI without fragment",
            TargetError::TooMany => "at most 5 resources may be requested",
            TargetError::Unknown => "resource is not a registered protected resource",
            TargetError::NotGranted => "resource was not authorized for this grant",
            TargetError::Ambiguous => "name exactly one resource for this access token",
        })
    }
}

impl std::error::Error for TargetError {}

/// The canonical form of a resource URI (`domain::resource`), or `None` when it is not one.
fn canonical(uri: &str, allow_loopback_http: bool) -> Option<String> {
    canonical_resource_uri(uri, allow_loopback_http).ok()
}

/// The resources one request names: canonical, without duplicates, 1 to [`MAX_RESOURCES`],
/// in request order. Stored as a JSON array (`resources` columns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resources(Vec<String>);

impl Resources {
    /// The `resource` values of a request; `None` when there are none (an identity request).
    /// `allow_loopback_http`: the issuer is on loopback (development), so `http` loopback
    /// resources exist.
    pub fn parse<S: AsRef<str>>(
        raw: &[S],
        allow_loopback_http: bool,
    ) -> Result<Option<Self>, TargetError> {
        if raw.is_empty() {
            return Ok(None);
        }
        let mut uris: Vec<String> = Vec::with_capacity(raw.len());
        for value in raw {
            let uri =
                canonical(value.as_ref(), allow_loopback_http).ok_or(TargetError::Malformed)?;
            if !uris.contains(&uri) {
                uris.push(uri);
            }
        }
        if uris.len() > MAX_RESOURCES {
            return Err(TargetError::TooMany);
        }
        Ok(Some(Self(uris)))
    }

    /// The resources of a grant or code as stored; `None` for an identity grant.
    pub fn from_stored(json: Option<&str>) -> Result<Option<Self>, serde_json::Error> {
        json.map(|j| serde_json::from_str::<Vec<String>>(j).map(Self))
            .transpose()
    }

    /// The JSON array text stored in the `resources` columns.
    pub fn to_json(&self) -> String {
        serde_json::Value::from(self.0.clone()).to_string()
    }

    pub fn uris(&self) -> &[String] {
        &self.0
    }

    /// The one resource a token is minted for: the `requested` one (at most one value, covered
    /// by this grant), or the grant's only resource when none is requested.
    pub fn audience<'a, S: AsRef<str>>(
        &'a self,
        requested: &[S],
        allow_loopback_http: bool,
    ) -> Result<&'a str, TargetError> {
        match requested {
            [] => match self.0.as_slice() {
                [only] => Ok(only),
                _ => Err(TargetError::Ambiguous),
            },
            [one] => {
                let uri =
                    canonical(one.as_ref(), allow_loopback_http).ok_or(TargetError::Malformed)?;
                self.0
                    .iter()
                    .find(|r| **r == uri)
                    .map(String::as_str)
                    .ok_or(TargetError::NotGranted)
            }
            _ => Err(TargetError::Ambiguous),
        }
    }
}

/// Why a scope of a resource request is refused (`invalid_scope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceScopeError {
    /// A token with characters RFC 6749 §3.3 does not allow.
    Syntax,
    /// A scope none of the requested resources declares (nor `offline_access`).
    NotOffered,
    /// At the token endpoint: a scope outside the grant's.
    NotGranted,
}

impl fmt::Display for ResourceScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceScopeError::Syntax => "scope contains an invalid token",
            ResourceScopeError::NotOffered => "scope is not offered by the requested resources",
            ResourceScopeError::NotGranted => "scope exceeds the scope of the grant",
        })
    }
}

impl std::error::Error for ResourceScopeError {}

/// The scope of a resource grant or token: a set of the resources' own scope names (and, for a
/// grant, `offline_access`). Written space-separated in lexical order. A sorted `Vec` rather
/// than a `BTreeSet`: a handful of names, and far less code in the Worker bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceScope(Vec<String>);

/// RFC 6749 §3.3 `scope-token = 1*NQCHAR`.
fn is_scope_token(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

impl ResourceScope {
    /// Parses a space-separated scope (empty: no scope).
    pub fn parse(s: &str) -> Result<Self, ResourceScopeError> {
        let mut tokens = Vec::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            if !is_scope_token(token) {
                return Err(ResourceScopeError::Syntax);
            }
            tokens.push(token.to_owned());
        }
        Ok(Self::of(tokens))
    }

    /// The set of `tokens`: sorted, without duplicates.
    fn of(mut tokens: Vec<String>) -> Self {
        tokens.sort_unstable();
        tokens.dedup();
        Self(tokens)
    }

    /// The scope names `row` declares (its `scopes` JSON).
    pub fn declared_by(row: &ResourceRow) -> Option<Self> {
        let declared: Value = serde_json::from_str(&row.scopes).ok()?;
        let names = declared
            .as_array()?
            .iter()
            .map(|d| d.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        Some(Self::of(names))
    }

    /// The union of two scopes.
    pub fn union(mut self, other: Self) -> Self {
        self.0.extend(other.0);
        Self::of(self.0)
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    pub fn is_subset_of(&self, other: &Self) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    /// The tokens also in `other` (the part of a grant's scope one resource understands).
    pub fn intersection(&self, other: &Self) -> Self {
        Self(
            self.0
                .iter()
                .filter(|t| other.contains(t))
                .cloned()
                .collect(),
        )
    }

    /// The scope granted at authorize for a request naming resources that together declare
    /// `offered`: the requested tokens, each offered or `offline_access`; absent or empty → all
    /// of `offered` (RFC 6749 §3.3 default scope).
    pub fn granted(requested: Option<&str>, offered: &Self) -> Result<Self, ResourceScopeError> {
        let requested = Self::parse(requested.unwrap_or(""))?;
        if requested.0.is_empty() {
            return Ok(offered.clone());
        }
        if requested
            .0
            .iter()
            .any(|t| t != OFFLINE_ACCESS && !offered.contains(t))
        {
            return Err(ResourceScopeError::NotOffered);
        }
        Ok(requested)
    }

    /// The scope of a token minted from a grant of scope `self` for a resource declaring
    /// `declared`, narrowed to `requested` when given (a subset of the grant's scope).
    pub fn for_token(
        &self,
        requested: Option<&str>,
        declared: &Self,
    ) -> Result<Self, ResourceScopeError> {
        let base = match requested {
            None => self.clone(),
            Some(r) => {
                let r = Self::parse(r)?;
                if !r.is_subset_of(self) {
                    return Err(ResourceScopeError::NotGranted);
                }
                if r.0.is_empty() {
                    self.clone()
                } else {
                    r
                }
            }
        };
        Ok(base.intersection(declared))
    }
}

impl fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, token) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(s: &str) -> ResourceScope {
        ResourceScope::parse(s).unwrap()
    }

    #[test]
    fn resource_uris_are_canonical_absolute_and_without_fragment() {
        let ok = |raw: &[&str]| Resources::parse(raw, true).unwrap().unwrap().0;
        assert_eq!(
            ok(&["HTTPS://MCP.Example.com/mcp"]),
            ["https://mcp.example.com/mcp"]
        );
        assert_eq!(
            ok(&[
                "https://a.example/x",
                "https://A.example/x",
                "http://127.0.0.1:8080/m"
            ]),
            ["https://a.example/x", "http://127.0.0.1:8080/m"]
        );
        assert_eq!(Resources::parse::<&str>(&[], false), Ok(None));
        assert_eq!(
            Resources::parse(&["http://127.0.0.1:8080/m"], false),
            Err(TargetError::Malformed)
        );
        for bad in [
            "https://a.example/mcp#frag",
            "https://a.example/#",
            "/mcp",
            "mcp.example.com",
            "urn:example:mcp",
            "http://a.example/mcp",
            "ftp://a.example/",
            "https://user@a.example/",
            "https://",
            "https://a.example/a b",
            "",
        ] {
            assert_eq!(
                Resources::parse(&[bad], true),
                Err(TargetError::Malformed),
                "{bad:?}"
            );
        }
        let six: Vec<String> = (0..6).map(|i| format!("https://r{i}.example/")).collect();
        assert_eq!(Resources::parse(&six, false), Err(TargetError::TooMany));
    }

    #[test]
    fn stored_form_round_trips() {
        let r = Resources::parse(&["https://a.example/", "https://b.example/x"], false)
            .unwrap()
            .unwrap();
        assert_eq!(
            r.to_json(),
            r#"["https://a.example/","https://b.example/x"]"#
        );
        assert_eq!(Resources::from_stored(Some(&r.to_json())).unwrap(), Some(r));
        assert_eq!(Resources::from_stored(None).unwrap(), None);
    }

    #[test]
    fn one_audience_per_token() {
        let one = Resources(vec!["https://a.example/".into()]);
        let two = Resources(vec![
            "https://a.example/".into(),
            "https://b.example/".into(),
        ]);
        assert_eq!(one.audience::<&str>(&[], false), Ok("https://a.example/"));
        assert_eq!(
            two.audience::<&str>(&[], false),
            Err(TargetError::Ambiguous)
        );
        assert_eq!(
            two.audience(&["https://B.example/"], false),
            Ok("https://b.example/")
        );
        assert_eq!(
            two.audience(&["https://c.example/"], false),
            Err(TargetError::NotGranted)
        );
        assert_eq!(
            two.audience(&["https://a.example/", "https://b.example/"], false),
            Err(TargetError::Ambiguous)
        );
        assert_eq!(two.audience(&["/a"], false), Err(TargetError::Malformed));
    }

    #[test]
    fn granted_scope_comes_from_the_resources() {
        let offered = scope("tools.read tools.write");
        assert_eq!(ResourceScope::granted(None, &offered), Ok(offered.clone()));
        assert_eq!(
            ResourceScope::granted(Some(" "), &offered),
            Ok(offered.clone())
        );
        assert_eq!(
            ResourceScope::granted(Some("tools.read offline_access"), &offered)
                .unwrap()
                .to_string(),
            "offline_access tools.read"
        );
        assert_eq!(
            ResourceScope::granted(Some("tools.read id"), &offered),
            Err(ResourceScopeError::NotOffered)
        );
        assert_eq!(
            ResourceScope::granted(Some("a\"b"), &offered),
            Err(ResourceScopeError::Syntax)
        );
    }

    #[test]
    fn token_scope_is_the_grant_narrowed_to_the_resource() {
        let grant = scope("a.read b.read offline_access");
        let a = scope("a.read a.write");
        assert_eq!(grant.for_token(None, &a), Ok(scope("a.read")));
        assert_eq!(grant.for_token(Some("a.read"), &a), Ok(scope("a.read")));
        assert_eq!(grant.for_token(Some("b.read"), &a), Ok(scope("")));
        assert_eq!(
            grant.for_token(Some("a.write"), &a),
            Err(ResourceScopeError::NotGranted)
        );
    }
}
