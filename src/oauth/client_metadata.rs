//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00): the rules
//! for a URL used as `client_id` (and for a `jwks_uri`), the validation of a fetched document
//! into a typed [`ClientMetadata`], the client's keys ([`ClientJwk`]) and how long a document
//! is cached. Pure: fetching lives in `crate::cimd`.
//!
//! The URL is parsed by hand, like redirect URIs (`super::redirect`): the `client_id` is
//! compared as an exact string, and the host rules below must see the host as written.

use std::fmt;

use serde_json::{Map, Value};

use crate::domain::text;
use crate::jose::b64;
use crate::jose::ed25519::Ed25519PublicKey;
use crate::jose::jwk::PublicJwk;
use crate::jose::rsa_key::RsaPublicKey;

use super::redirect;

/// Longest accepted `client_id` / `jwks_uri` URL.
pub const MAX_URL_LEN: usize = 2048;
/// Largest metadata document read (the draft recommends 5 KB).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// Largest JWK set read from a `jwks_uri` (room for a few RSA-4096 keys).
pub const MAX_JWKS_BYTES: usize = 16 * 1024;
/// At most this many redirect URIs (as for registered clients).
const MAX_REDIRECT_URIS: usize = 10;
/// At most this many keys in a set.
const MAX_KEYS: usize = 10;
const MAX_KID_CHARS: usize = 128;

/// Cache lifetimes: at least a minute (bounds the outbound fetches a client can cause), at most
/// a day (a changed document is seen within a day), an hour without caching headers.
pub const MIN_CACHE_SECS: i64 = 60;
pub const MAX_CACHE_SECS: i64 = 86_400;
pub const DEFAULT_CACHE_SECS: i64 = 3_600;

/// Host suffixes that only name machines on a private network.
const LOCAL_SUFFIXES: [&str; 4] = ["localhost", "local", "internal", "home.arpa"];

/// Why a URL may not be fetched (as a `client_id` or a `jwks_uri`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Empty or longer than 2,048 characters.
    Length,
    /// Characters a URL cannot contain, or a bad percent-escape.
    Characters,
    /// Not `https` (loopback `http` only with `CIMD_ALLOW_LOOPBACK`).
    Scheme,
    /// A `#` fragment.
    Fragment,
    /// `userinfo@` in the authority.
    UserInfo,
    /// A malformed host or port, an upper-case host, or a port (only loopback in tests has one).
    Host,
    /// An IP address (any IPv4 spelling, IPv6, IPv4-mapped) instead of a DNS name.
    IpLiteral,
    /// `localhost`, `*.localhost`, `*.local`, `*.internal`, `*.home.arpa` or a single label.
    LocalName,
    /// No path, or only `/`.
    Path,
    /// A `.` or `..` path segment (also percent-encoded).
    DotSegment,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Length => "client metadata URL must be 1 to 2048 characters",
            UrlError::Characters => "client metadata URL contains characters not allowed in a URL",
            UrlError::Scheme => "client metadata URL must use https",
            UrlError::Fragment => "client metadata URL must not contain a fragment",
            UrlError::UserInfo => "client metadata URL must not contain user information",
            UrlError::Host => "client metadata URL host is invalid or has a port",
            UrlError::IpLiteral => "client metadata URL host must be a DNS name, not an IP address",
            UrlError::LocalName => "client metadata URL host is a local name",
            UrlError::Path => "client metadata URL must have a path",
            UrlError::DotSegment => "client metadata URL must not contain dot segments",
        })
    }
}

impl std::error::Error for UrlError {}

/// A URL that passed [`FetchUrl::parse`]: safe to hand to the outbound fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchUrl(String);

impl FetchUrl {
    /// Checks `url` against the fetch rules: `https`, a lower-case DNS name of two labels or
    /// more that is not a local name, no IP literal, no port, no userinfo, no fragment, a path
    /// other than `/` without dot segments. With `allow_loopback` (development and tests only),
    /// `http` or `https` on exactly `127.0.0.1` or `[::1]` with any port is accepted too; every
    /// other IP literal stays refused.
    pub fn parse(url: &str, allow_loopback: bool) -> Result<Self, UrlError> {
        if url.is_empty() || url.len() > MAX_URL_LEN {
            return Err(UrlError::Length);
        }
        if url.contains('#') {
            return Err(UrlError::Fragment);
        }
        check_characters(url)?;
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            ("https", rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            ("http", rest)
        } else {
            return Err(UrlError::Scheme);
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        match host_kind(authority)? {
            HostKind::Name if scheme != "https" => return Err(UrlError::Scheme),
            HostKind::Name => {}
            HostKind::Loopback if allow_loopback => {}
            HostKind::Loopback | HostKind::Ip => return Err(UrlError::IpLiteral),
        }
        let path = path_query.split('?').next().unwrap_or_default();
        if path.is_empty() || path == "/" {
            return Err(UrlError::Path);
        }
        if path.split('/').any(is_dot_segment) {
            return Err(UrlError::DotSegment);
        }
        Ok(FetchUrl(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `client_id` is meant as a metadata-document URL (rather than a registered client's
/// UUID): the syntax decides which lookup applies; [`FetchUrl::parse`] then decides whether
/// it may be fetched.
pub fn is_url_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

fn check_characters(url: &str) -> Result<(), UrlError> {
    let bytes = url.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let allowed = b.is_ascii_alphanumeric() || b"-._~:/?[]@!$&'()*+,;=%".contains(&b);
        if !allowed {
            return Err(UrlError::Characters);
        }
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(UrlError::Characters);
            }
        }
    }
    Ok(())
}

fn is_dot_segment(segment: &str) -> bool {
    let s = segment.to_ascii_lowercase().replace("%2e", ".");
    s == "." || s == ".."
}

enum HostKind {
    /// A DNS name that is not a local name.
    Name,
    /// `127.0.0.1` or `[::1]` with a port.
    Loopback,
    /// Any other IP literal.
    Ip,
}

/// Classifies the authority. A port is allowed only on the two loopback literals (the test
/// setting); IPv4 is recognised in every form a resolver accepts (a last label that is a
/// number, decimal, octal or hex, as the WHATWG URL parser does), IPv6 by its brackets.
fn host_kind(authority: &str) -> Result<HostKind, UrlError> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (literal, after) = v6.split_once(']').ok_or(UrlError::Host)?;
        if literal.is_empty()
            || !literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b))
        {
            return Err(UrlError::Host);
        }
        return Ok(if literal == "::1" && valid_port(after) {
            HostKind::Loopback
        } else {
            HostKind::Ip
        });
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() || host.contains(['[', ']']) {
        return Err(UrlError::Host);
    }
    let labels: Vec<&str> = host.split('.').collect();
    let last = labels.last().copied().unwrap_or_default();
    if is_ipv4_number(last) {
        return Ok(
            if host == "127.0.0.1" && port.is_some_and(|p| valid_port(&format!(":{p}"))) {
                HostKind::Loopback
            } else {
                HostKind::Ip
            },
        );
    }
    if port.is_some() {
        return Err(UrlError::Host);
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if host.len() > 253 || !labels.iter().all(label_ok) {
        return Err(UrlError::Host);
    }
    let local = labels.len() < 2
        || LOCAL_SUFFIXES
            .iter()
            .any(|s| host == *s || host.ends_with(&format!(".{s}")));
    if local {
        return Err(UrlError::LocalName);
    }
    Ok(HostKind::Name)
}

/// `:port` with 1..=65535.
fn valid_port(after: &str) -> bool {
    after
        .strip_prefix(':')
        .filter(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|p| p.parse::<u16>().ok())
        .is_some_and(|p| p > 0)
}

/// A label a URL parser would read as (part of) an IPv4 address: decimal, `0`-prefixed octal
/// or `0x` hex digits (the last label decides, as in the WHATWG host parser).
fn is_ipv4_number(label: &str) -> bool {
    let l = label.to_ascii_lowercase();
    if let Some(hex) = l.strip_prefix("0x") {
        return hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())
}

/// A key of a metadata-document client, with its `kid` when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientJwk {
    pub kid: Option<String>,
    pub key: ClientKey,
}

/// The key types a metadata-document client may authenticate with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientKey {
    /// `OKP`/`Ed25519`: `EdDSA` (or `Ed25519`) assertions.
    Ed25519(Ed25519PublicKey),
    /// `EC`/`P-256`: `ES256` assertions.
    P256(p256::ecdsa::VerifyingKey),
    /// `RSA`, 2,048 bits or more: `RS256` assertions.
    Rsa(RsaPublicKey),
}

/// How a metadata-document client authenticates at the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// A public client (`none`): PKCE protects its codes.
    None,
    /// `private_key_jwt` with the keys in the document.
    Jwks(Vec<ClientJwk>),
    /// `private_key_jwt` with the keys at a URL (fetched with the same rules).
    JwksUri(FetchUrl),
}

impl ClientAuth {
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Jwks(_) | ClientAuth::JwksUri(_) => "private_key_jwt",
        }
    }
}

/// A validated metadata document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMetadata {
    pub client_id: String,
    /// `client_name`, or the URL's host when the document has none.
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub auth: ClientAuth,
    /// `native` when the document says so, else `web`.
    pub native: bool,
}

/// Why a document (or a JWK set) was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataError {
    /// Not a JSON object (or duplicate members).
    NotObject,
    /// `client_id` is not exactly the URL it was fetched from.
    ClientIdMismatch,
    /// `client_secret` or `client_secret_expires_at`: this client would hold a shared secret.
    ClientSecret,
    /// A member with the wrong type or value; names the member.
    Invalid(&'static str),
    /// `redirect_uris` missing, empty, too long, or one of them not https / loopback http.
    RedirectUris,
    /// `token_endpoint_auth_method` other than `none` or `private_key_jwt`.
    AuthMethod,
    /// `private_key_jwt` without exactly one of `jwks` and `jwks_uri`.
    KeySource,
    /// A key with private members, or a set without one usable key.
    Keys(&'static str),
    /// `grant_types` / `response_types` beyond what this server supports.
    Unsupported(&'static str),
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::NotObject => f.write_str("client metadata is not a JSON object"),
            MetadataError::ClientIdMismatch => {
                f.write_str("client metadata client_id is not the URL of the document")
            }
            MetadataError::ClientSecret => {
                f.write_str("client metadata must not contain a client secret")
            }
            MetadataError::Invalid(m) => write!(f, "client metadata member `{m}` is invalid"),
            MetadataError::RedirectUris => f.write_str(
                "client metadata redirect_uris must be 1 to 10 https or loopback http URIs",
            ),
            MetadataError::AuthMethod => f.write_str(
                "client metadata token_endpoint_auth_method must be none or private_key_jwt",
            ),
            MetadataError::KeySource => f.write_str(
                "client metadata with private_key_jwt needs exactly one of jwks and jwks_uri",
            ),
            MetadataError::Keys(why) => write!(f, "client metadata keys: {why}"),
            MetadataError::Unsupported(m) => {
                write!(
                    f,
                    "client metadata `{m}` asks for what this server does not support"
                )
            }
        }
    }
}

impl std::error::Error for MetadataError {}

/// Validates `body`, fetched from `url` (already checked by [`FetchUrl::parse`]). Unknown members
/// are ignored.
pub fn validate(
    url: &FetchUrl,
    body: &[u8],
    allow_loopback: bool,
) -> Result<ClientMetadata, MetadataError> {
    let doc = parse_object(body)?;
    match doc.get("client_id") {
        Some(Value::String(id)) if id == url.as_str() => {}
        _ => return Err(MetadataError::ClientIdMismatch),
    }
    if doc.contains_key("client_secret") || doc.contains_key("client_secret_expires_at") {
        return Err(MetadataError::ClientSecret);
    }
    let client_name = match doc.get("client_name") {
        None => host_of(url.as_str()).to_owned(),
        Some(Value::String(s)) => {
            text::name("client_name", s).map_err(|_| MetadataError::Invalid("client_name"))?
        }
        Some(_) => return Err(MetadataError::Invalid("client_name")),
    };
    let redirect_uris = redirect_uris(doc.get("redirect_uris"))?;
    within(
        &doc,
        "grant_types",
        &["authorization_code", "refresh_token"],
    )?;
    within(&doc, "response_types", &["code"])?;
    let native = match doc.get("application_type") {
        None => false,
        Some(Value::String(t)) if t == "web" => false,
        Some(Value::String(t)) if t == "native" => true,
        Some(_) => return Err(MetadataError::Invalid("application_type")),
    };
    let auth = match doc.get("token_endpoint_auth_method") {
        // RFC 7591's default (client_secret_basic) is a shared secret, which a document cannot
        // carry; a document without the member is read as a public client.
        None => ClientAuth::None,
        Some(Value::String(m)) if m == "none" => ClientAuth::None,
        Some(Value::String(m)) if m == "private_key_jwt" => {
            match (doc.get("jwks"), doc.get("jwks_uri")) {
                (Some(set), None) => ClientAuth::Jwks(parse_jwk_set(set)?),
                (None, Some(Value::String(uri))) => ClientAuth::JwksUri(
                    FetchUrl::parse(uri, allow_loopback)
                        .map_err(|_| MetadataError::Invalid("jwks_uri"))?,
                ),
                (None, Some(_)) => return Err(MetadataError::Invalid("jwks_uri")),
                _ => return Err(MetadataError::KeySource),
            }
        }
        Some(_) => return Err(MetadataError::AuthMethod),
    };
    Ok(ClientMetadata {
        client_id: url.as_str().to_owned(),
        client_name,
        redirect_uris,
        auth,
        native,
    })
}

/// A JWK set fetched from a `jwks_uri`.
pub fn validate_jwks(body: &[u8]) -> Result<Vec<ClientJwk>, MetadataError> {
    let set = parse_object(body)?;
    parse_jwk_set(&Value::Object(set))
}

/// The keys of a stored set (written by this module, so it parses; `None` if it does not).
pub fn stored_keys(jwks: &str) -> Option<Vec<ClientJwk>> {
    serde_json::from_str::<Value>(jwks)
        .ok()
        .and_then(|v| parse_jwk_set(&v).ok())
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, MetadataError> {
    crate::jose::json::parse_object(body).map_err(|_| MetadataError::NotObject)
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

fn redirect_uris(v: Option<&Value>) -> Result<Vec<String>, MetadataError> {
    let Some(Value::Array(items)) = v else {
        return Err(MetadataError::RedirectUris);
    };
    if items.is_empty() || items.len() > MAX_REDIRECT_URIS {
        return Err(MetadataError::RedirectUris);
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(uri) = item else {
            return Err(MetadataError::RedirectUris);
        };
        let web = uri.starts_with("https://") || uri.starts_with("http://");
        if !web || redirect::validate_registration(uri).is_err() {
            return Err(MetadataError::RedirectUris);
        }
        if !out.contains(uri) {
            out.push(uri.clone());
        }
    }
    Ok(out)
}

/// `member`, when present, is an array of strings within `supported`.
fn within(
    doc: &Map<String, Value>,
    member: &'static str,
    supported: &[&str],
) -> Result<(), MetadataError> {
    match doc.get(member) {
        None => Ok(()),
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some(s) if supported.contains(&s) => {}
                    Some(_) => return Err(MetadataError::Unsupported(member)),
                    None => return Err(MetadataError::Invalid(member)),
                }
            }
            Ok(())
        }
        Some(_) => Err(MetadataError::Invalid(member)),
    }
}

/// `{"keys": [...]}` with 1..=10 keys. A key with private members refuses the whole set (the
/// client published a secret); keys of other types or for encryption are skipped; at least one
/// usable key must remain.
fn parse_jwk_set(set: &Value) -> Result<Vec<ClientJwk>, MetadataError> {
    let Some(Value::Array(keys)) = set.get("keys") else {
        return Err(MetadataError::Keys(
            "jwks must be an object with a keys array",
        ));
    };
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(MetadataError::Keys("jwks must hold 1 to 10 keys"));
    }
    let mut out = Vec::new();
    for key in keys {
        if let Some(jwk) = parse_jwk(key)? {
            out.push(jwk);
        }
    }
    if out.is_empty() {
        return Err(MetadataError::Keys(
            "no Ed25519, P-256 or RSA (2048 bits or more) signing key",
        ));
    }
    Ok(out)
}

/// One key: `Some` when usable for signatures, `None` when of another type or use.
fn parse_jwk(v: &Value) -> Result<Option<ClientJwk>, MetadataError> {
    let Some(obj) = v.as_object() else {
        return Err(MetadataError::Keys("a key is not a JSON object"));
    };
    const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    if PRIVATE.iter().any(|m| obj.contains_key(*m)) {
        return Err(MetadataError::Keys("a key contains private key members"));
    }
    if obj.get("use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let kid = match obj.get("kid") {
        None => None,
        Some(Value::String(k)) if !k.is_empty() && k.chars().count() <= MAX_KID_CHARS => {
            Some(k.clone())
        }
        Some(_) => {
            return Err(MetadataError::Keys(
                "a kid is not a string of 1 to 128 characters",
            ))
        }
    };
    let alg = obj.get("alg").and_then(Value::as_str);
    let key = match obj.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let member = |m: &str| obj.get(m).and_then(Value::as_str).unwrap_or_default();
            let key = RsaPublicKey::from_jwk(member("n"), member("e")).map_err(|_| {
                MetadataError::Keys("an RSA key is malformed or shorter than 2048 bits")
            })?;
            ClientKey::Rsa(key)
        }
        Some("OKP" | "EC") => match PublicJwk::from_json(v) {
            Ok(PublicJwk::Ed25519(k)) => ClientKey::Ed25519(k),
            Ok(PublicJwk::P256 { key, .. }) => ClientKey::P256(key),
            Err(crate::jose::jwk::JwkError::Unsupported) => return Ok(None),
            Err(_) => return Err(MetadataError::Keys("an OKP or EC key is malformed")),
        },
        _ => return Ok(None),
    };
    let alg_fits = match (&key, alg) {
        (_, None) => true,
        (ClientKey::Ed25519(_), Some(a)) => a == "EdDSA" || a == "Ed25519",
        (ClientKey::P256(_), Some(a)) => a == "ES256",
        (ClientKey::Rsa(_), Some(a)) => a == "RS256",
    };
    Ok(alg_fits.then_some(ClientJwk { kid, key }))
}

/// When a document fetched at `now_s` must be fetched again, from its `Cache-Control` and
/// `Expires` headers: `no-store`/`no-cache` and `max-age` below a minute give a minute,
/// anything above a day gives a day, no usable header an hour. `max-age` wins over `Expires`.
pub fn cache_expiry_s(cache_control: Option<&str>, expires: Option<&str>, now_s: i64) -> i64 {
    let lifetime = cache_lifetime(cache_control, expires, now_s).unwrap_or(DEFAULT_CACHE_SECS);
    now_s + lifetime.clamp(MIN_CACHE_SECS, MAX_CACHE_SECS)
}

fn cache_lifetime(cache_control: Option<&str>, expires: Option<&str>, now_s: i64) -> Option<i64> {
    if let Some(cc) = cache_control {
        let mut max_age = None;
        for directive in cc.split(',').map(|d| d.trim().to_ascii_lowercase()) {
            if directive == "no-store" || directive == "no-cache" {
                return Some(0);
            }
            if let Some(v) = directive.strip_prefix("max-age=") {
                max_age = v.trim_matches('"').parse::<i64>().ok().or(Some(0));
            }
        }
        if max_age.is_some() {
            return max_age;
        }
    }
    expires.map(|e| http_date_s(e).map_or(0, |t| t - now_s))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) as Unix seconds; other
/// formats are `None` (an invalid `Expires` means "already expired").
fn http_date_s(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: i64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as i64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The media type is JSON: `application/json` or `application/*+json`, parameters ignored.
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json") && sub.len() > "+json".len())
}

/// The stored form of a key set: a JWK set of the public members only (the document's other
/// members are not kept with the keys).
pub fn stored_jwks(keys: &[ClientJwk]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut o = match &k.key {
                ClientKey::Ed25519(key) => serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": b64::encode(key.as_bytes())
                }),
                ClientKey::P256(key) => {
                    let point = key.to_encoded_point(false);
                    serde_json::json!({
                        "kty": "EC", "crv": "P-256",
                        "x": b64::encode(&point.x().map(|x| x.to_vec()).unwrap_or_default()),
                        "y": b64::encode(&point.y().map(|y| y.to_vec()).unwrap_or_default()),
                    })
                }
                ClientKey::Rsa(key) => {
                    let (n, e) = key.jwk_members();
                    serde_json::json!({"kty": "RSA", "n": n, "e": e})
                }
            };
            if let Some(kid) = &k.kid {
                o["kid"] = Value::from(kid.as_str());
            }
            o
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

#[cfg(test)]
mod tests;
