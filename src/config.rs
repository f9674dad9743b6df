//! Typed configuration from Worker vars and secrets (api.md §8).
//!
//! Loading fails as a whole only for settings every request depends on (environment, issuer,
//! numeric bounds). A missing or invalid *secret* is kept as a [`Setting`] error so that only
//! the requests needing it fail closed with `503 configuration_error`; no secret has a default.

use std::cell::OnceCell;
use std::collections::HashMap;

use zeroize::Zeroize;

use crate::auth::dpop::nonce;
use crate::domain::rate_limit::{Bucket, Limit, RateLimits};
use crate::jose::b64;
use crate::jose::ed25519_signing::Ed25519SigningKey;
use crate::jose::es256::Es256SigningKey;
use crate::store::markers::ReplayBackend;

/// Where configuration values come from: Worker env bindings, or a map natively.
pub trait Vars {
    fn get(&self, name: &str) -> Option<String>;
}

impl Vars for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// A setting that is missing or invalid; the message names it but never shows its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: &'static str,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "configuration error: {} {}", self.name, self.problem)
    }
}

/// A secret that may be unusable; requests that need it fail closed.
pub type Setting<T> = Result<T, ConfigError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    pub const fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }
}

/// How a secret appears in `Debug` output: whether it is usable, never its value.
fn redacted<T>(s: &Setting<T>) -> Result<&'static str, &ConfigError> {
    s.as_ref().map(|_| "<redacted>")
}

/// Written by hand so that logging the settings never prints the webhook secret or API key.
/// The destructuring makes a new field a compile error here until it is classified.
impl std::fmt::Debug for Paddle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Paddle {
            webhook_secret,
            api_key,
            api_url,
            environment,
            client_token,
            price_basic,
            price_pro,
            price_premium,
            price_shadow,
            webhook_tolerance_secs,
        } = self;
        f.debug_struct("Paddle")
            .field("webhook_secret", &redacted(webhook_secret))
            .field("api_key", &redacted(api_key))
            .field("api_url", api_url)
            .field("environment", environment)
            .field("client_token", client_token)
            .field("price_basic", price_basic)
            .field("price_pro", price_pro)
            .field("price_premium", price_premium)
            .field("price_shadow", price_shadow)
            .field("webhook_tolerance_secs", webhook_tolerance_secs)
            .finish()
    }
}

/// A key derived from a secret on first use. The secret is validated when the configuration
/// loads, so a missing or malformed one is reported exactly as before, on the same requests;
/// the derivation itself (an Ed25519 public key is a scalar multiplication, ~80 µs in wasm) runs
/// only on the paths that use the key, once per isolate.
#[derive(Clone)]
pub struct Derived<S, T> {
    source: Setting<S>,
    derive: fn(&S) -> T,
    value: OnceCell<T>,
}

impl<S, T> Derived<S, T> {
    fn new(source: Setting<S>, derive: fn(&S) -> T) -> Self {
        Self {
            source,
            derive,
            value: OnceCell::new(),
        }
    }

    /// The key, derived now if this is its first use; the setting's error if it is unusable.
    /// Named like `Result::as_ref` so callers read it as they read any other [`Setting`].
    pub fn as_ref(&self) -> Result<&T, &ConfigError> {
        let source = self.source.as_ref()?;
        Ok(self.value.get_or_init(|| (self.derive)(source)))
    }

    /// Whether the key has been derived yet (tests pin which paths derive it).
    pub fn is_derived(&self) -> bool {
        self.value.get().is_some()
    }
}

/// Whether the key is usable, never its value.
impl<S, T> std::fmt::Debug for Derived<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Ok(_) => f.write_str("Ok(\"<redacted>\")"),
            Err(e) => f.debug_tuple("Err").field(e).finish(),
        }
    }
}

/// The 32-byte Ed25519 seeds of `OAUTH_SIGNING_KEY` and `OAUTH_SIGNING_KEY_PREVIOUS`, wiped on
/// drop as `SigningKey` wipes its own copy.
#[derive(Clone)]
pub struct SigningSeeds {
    current: [u8; 32],
    previous: Option<[u8; 32]>,
}

impl Drop for SigningSeeds {
    fn drop(&mut self) {
        self.current.zeroize();
        self.previous.zeroize();
    }
}

impl SigningSeeds {
    fn keys(&self) -> SigningKeys {
        SigningKeys {
            current: Ed25519SigningKey::from_seed(&self.current),
            previous: self.previous.as_ref().map(Ed25519SigningKey::from_seed),
        }
    }
}

/// Where the DPoP nonce key comes from: `DPOP_NONCE_SECRET`, or derived from the signing seed.
#[derive(Clone)]
pub enum NonceSource {
    Secret(Vec<u8>),
    Seed([u8; 32]),
}

impl Drop for NonceSource {
    fn drop(&mut self) {
        match self {
            NonceSource::Secret(s) => s.zeroize(),
            NonceSource::Seed(seed) => seed.zeroize(),
        }
    }
}

impl NonceSource {
    fn key(&self) -> Vec<u8> {
        match self {
            NonceSource::Secret(s) => s.clone(),
            NonceSource::Seed(seed) => nonce::nonce_key(seed).to_vec(),
        }
    }
}

/// The server's Ed25519 token-signing keys (current and, during rotation, previous).
#[derive(Clone)]
pub struct SigningKeys {
    pub current: Ed25519SigningKey,
    pub previous: Option<Ed25519SigningKey>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeys(<redacted>)")
    }
}

/// The P-256 keys of ES256 access tokens (`OAUTH_ES256_SIGNING_KEY`, and during rotation
/// `OAUTH_ES256_SIGNING_KEY_PREVIOUS`), for resources that accept only ES256. Their `Debug`
/// shows key ids, never a private scalar.
#[derive(Clone, Debug)]
pub struct Es256Keys {
    pub current: Es256SigningKey,
    pub previous: Option<Es256SigningKey>,
}

/// Paddle Billing settings (api.md §7, §8.2).
#[derive(Clone)]
pub struct Paddle {
    pub webhook_secret: Setting<String>,
    pub api_key: Setting<String>,
    pub api_url: String,
    /// Passed to Paddle.js: `sandbox` or `production`.
    pub environment: String,
    /// Paddle.js client-side token (public by design).
    pub client_token: Setting<String>,
    pub price_basic: Setting<String>,
    pub price_pro: Setting<String>,
    pub price_premium: Setting<String>,
    pub price_shadow: Setting<String>,
    pub webhook_tolerance_secs: i64,
}

impl Paddle {
    /// The configured price id of a purchasable or shadow tier.
    pub fn price_for(&self, tier: &str) -> Option<&Setting<String>> {
        match tier {
            "BASIC" => Some(&self.price_basic),
            "PRO" => Some(&self.price_pro),
            "PREMIUM" => Some(&self.price_premium),
            "SHADOW" => Some(&self.price_shadow),
            _ => None,
        }
    }

    /// The tier a price id stands for, among the configured ones.
    pub fn tier_of(&self, price_id: &str) -> Option<&'static str> {
        [
            ("BASIC", &self.price_basic),
            ("PRO", &self.price_pro),
            ("PREMIUM", &self.price_premium),
            ("SHADOW", &self.price_shadow),
        ]
        .into_iter()
        .find(|(_, p)| p.as_deref() == Ok(price_id))
        .map(|(t, _)| t)
    }
}

/// Which mail provider delivers (`MAIL_PROVIDER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailProvider {
    /// Resend's REST API (`MAIL_API_URL`, `MAIL_API_KEY`, `MAIL_FROM`).
    Resend,
    /// The Worker log (development only: it shows the one-time links).
    Log,
}

/// Outgoing e-mail and address verification (issue 12).
#[derive(Clone)]
pub struct Mail {
    pub provider: MailProvider,
    /// `MAIL_API_KEY`: required by `resend`, never defaulted.
    pub api_key: Setting<String>,
    /// `MAIL_FROM`: the sender, `name@domain` or `Name <name@domain>`.
    pub from: Setting<String>,
    /// `MAIL_API_URL`: Resend's base URL (e2e points it at a loopback recorder).
    pub api_url: String,
    /// `REQUIRE_VERIFIED_EMAIL`: unverified overseers may not claim or subscribe.
    pub require_verified_email: bool,
}

/// Written by hand so that logging the settings never prints the API key.
impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Mail {
            provider,
            api_key,
            from,
            api_url,
            require_verified_email,
        } = self;
        f.debug_struct("Mail")
            .field("provider", provider)
            .field("api_key", &redacted(api_key))
            .field("from", from)
            .field("api_url", api_url)
            .field("require_verified_email", require_verified_email)
            .finish()
    }
}

/// Validated configuration.
#[derive(Clone)]
pub struct Config {
    pub environment: Environment,
    /// `PUBLIC_BASE_URL`; `None` only in development (then the request origin is the issuer).
    pub public_base_url: Option<String>,
    /// Derived on first use: only the paths that sign (token, JWKS) pay for it.
    pub signing_keys: Derived<SigningSeeds, SigningKeys>,
    /// Key for stateless DPoP nonces (api.md 9.10), derived on first use.
    pub dpop_nonce_key: Derived<NonceSource, Vec<u8>>,
    /// ES256 token keys; `Ok(None)` when unset: then no resource may ask for ES256 tokens.
    pub es256_keys: Setting<Option<Es256Keys>>,
    /// Key for shadow overseer ids (api.md 9.9).
    pub shadow_secret: Setting<String>,
    /// Key for `custom_data` link signatures (api.md 7.3).
    pub link_key: Setting<Vec<u8>>,
    pub paddle: Paddle,
    pub mail: Mail,
    pub shadow_validity_days: i64,
    pub auth_code_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub client_assertion_max_lifetime_secs: i64,
    pub session_ttl_secs: i64,
    pub registration_challenge_ttl_secs: i64,
    pub rotation_challenge_ttl_secs: i64,
    pub claim_challenge_ttl_secs: i64,
    /// How long an agent's previous key stays in its Web Bot Auth key directory after a
    /// rotation, so signatures made just before it still verify (`KEY_DIRECTORY_OVERLAP_SECS`).
    pub key_directory_overlap_secs: i64,
    pub shadow_challenge_ttl_secs: i64,
    /// How long after the agent confirmed a shadow claim its signed checkout link may be paid
    /// (judged at the payment's `occurred_at`); never shorter than the challenge itself.
    pub shadow_link_ttl_secs: i64,
    pub dpop_iat_past_secs: i64,
    pub dpop_iat_future_secs: i64,
    pub dpop_require_nonce: bool,
    pub clock_skew_secs: i64,
    pub rate_limits: Option<RateLimits>,
    pub cors_allowed_origins: Vec<String>,
    pub audit_retention_days: i64,
    /// Days a dead grant family (revoked, or unused with no live refresh token) is kept before
    /// the cron job deletes it with its refresh tokens.
    pub grant_retention_days: i64,
    /// Days of OAuth request history (`oauth_requests`) kept; at least a month, because the
    /// monthly grant count of the FREE tier reads it.
    pub oauth_history_retention_days: i64,
    /// bcrypt cost for overseer passwords (production: at least 10).
    pub bcrypt_cost: u32,
    pub build_version: String,
    /// Where DPoP and client-assertion `jti` markers live (`REPLAY_STORE`, default `d1`).
    pub replay_store: ReplayBackend,
    /// Refresh grace (issue 10, `REFRESH_GRACE_SECS`): how long after its rotation a refresh
    /// token may be presented again, while its successor is unused, and get a fresh answer
    /// instead of revoking its family. 0 disables it.
    pub refresh_grace_secs: i64,
    // --- Client ID Metadata Documents (issue 10, cimd) ---
    /// `CIMD_ALLOW_LOOPBACK` (development and tests only): metadata documents and JWK sets may
    /// be fetched from `127.0.0.1` / `[::1]` with a port, over http too.
    pub cimd_allow_loopback: bool,
}

/// Written by hand so that logging the configuration never prints a key or secret. The
/// destructuring makes a new field a compile error here until it is classified.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config {
            environment,
            public_base_url,
            signing_keys,
            dpop_nonce_key,
            es256_keys,
            shadow_secret,
            link_key,
            paddle,
            mail,
            shadow_validity_days,
            auth_code_ttl_secs,
            access_token_ttl_secs,
            refresh_token_ttl_secs,
            client_assertion_max_lifetime_secs,
            session_ttl_secs,
            registration_challenge_ttl_secs,
            rotation_challenge_ttl_secs,
            claim_challenge_ttl_secs,
            key_directory_overlap_secs,
            shadow_challenge_ttl_secs,
            shadow_link_ttl_secs,
            dpop_iat_past_secs,
            dpop_iat_future_secs,
            dpop_require_nonce,
            clock_skew_secs,
            rate_limits,
            cors_allowed_origins,
            audit_retention_days,
            grant_retention_days,
            oauth_history_retention_days,
            bcrypt_cost,
            build_version,
            replay_store,
            refresh_grace_secs,
            cimd_allow_loopback,
        } = self;
        f.debug_struct("Config")
            .field("environment", environment)
            .field("public_base_url", public_base_url)
            .field("signing_keys", signing_keys)
            .field("dpop_nonce_key", dpop_nonce_key)
            .field("es256_keys", es256_keys)
            .field("shadow_secret", &redacted(shadow_secret))
            .field("link_key", &redacted(link_key))
            .field("paddle", paddle)
            .field("mail", mail)
            .field("shadow_validity_days", shadow_validity_days)
            .field("auth_code_ttl_secs", auth_code_ttl_secs)
            .field("access_token_ttl_secs", access_token_ttl_secs)
            .field("refresh_token_ttl_secs", refresh_token_ttl_secs)
            .field(
                "client_assertion_max_lifetime_secs",
                client_assertion_max_lifetime_secs,
            )
            .field("session_ttl_secs", session_ttl_secs)
            .field(
                "registration_challenge_ttl_secs",
                registration_challenge_ttl_secs,
            )
            .field("rotation_challenge_ttl_secs", rotation_challenge_ttl_secs)
            .field("key_directory_overlap_secs", key_directory_overlap_secs)
            .field("claim_challenge_ttl_secs", claim_challenge_ttl_secs)
            .field("shadow_challenge_ttl_secs", shadow_challenge_ttl_secs)
            .field("shadow_link_ttl_secs", shadow_link_ttl_secs)
            .field("dpop_iat_past_secs", dpop_iat_past_secs)
            .field("dpop_iat_future_secs", dpop_iat_future_secs)
            .field("dpop_require_nonce", dpop_require_nonce)
            .field("clock_skew_secs", clock_skew_secs)
            .field("rate_limits", rate_limits)
            .field("cors_allowed_origins", cors_allowed_origins)
            .field("audit_retention_days", audit_retention_days)
            .field("grant_retention_days", grant_retention_days)
            .field("oauth_history_retention_days", oauth_history_retention_days)
            .field("bcrypt_cost", bcrypt_cost)
            .field("build_version", build_version)
            .field("replay_store", replay_store)
            .field("refresh_grace_secs", refresh_grace_secs)
            .field("cimd_allow_loopback", cimd_allow_loopback)
            .finish()
    }
}

impl Config {
    pub fn issuer_for(&self, request_origin: &str) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| request_origin.to_owned())
    }

    /// Loads and validates everything; `Err` makes every request answer 503.
    pub fn load(vars: &dyn Vars) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let environment = match get("ENVIRONMENT").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(_) => return Err(err("ENVIRONMENT", "must be `development` or `production`")),
        };
        let production = environment == Environment::Production;

        let public_base_url = match get("PUBLIC_BASE_URL") {
            Some(url) => Some(parse_origin(&url, production)?),
            None if production => return Err(err("PUBLIC_BASE_URL", "is required in production")),
            None => None,
        };

        let signing_seeds = parse_signing_seeds(vars);
        let nonce_source = match get("DPOP_NONCE_SECRET") {
            Some(s) if s.len() >= 32 => Ok(NonceSource::Secret(s.into_bytes())),
            Some(_) => Err(err("DPOP_NONCE_SECRET", "must be at least 32 bytes")),
            None => signing_seeds
                .as_ref()
                .map(|s| NonceSource::Seed(s.current))
                .map_err(Clone::clone),
        };
        let signing_keys = Derived::new(signing_seeds, SigningSeeds::keys);
        let dpop_nonce_key = Derived::new(nonce_source, NonceSource::key);
        let es256_keys = parse_es256_keys(vars);

        let secret = |name: &'static str, min_len: usize| -> Setting<String> {
            match get(name) {
                None => Err(err(name, "is not set")),
                Some(v) if v.len() < min_len => Err(err(name, "is too short")),
                Some(v) => Ok(v),
            }
        };
        let shadow_secret = secret("SHADOW_SECRET", 32);
        let link_key = match get("WEBHOOK_LINK_SECRET") {
            Some(v) if v.len() >= 32 => Ok(v.into_bytes()),
            Some(_) => Err(err("WEBHOOK_LINK_SECRET", "must be at least 32 bytes")),
            None => shadow_secret
                .as_ref()
                .map(|s| crate::paddle::link::link_key(None, s))
                .map_err(Clone::clone),
        };
        let num =
            |name: &'static str, default: i64, min: i64, max: i64| -> Result<i64, ConfigError> {
                match get(name) {
                    None => Ok(default),
                    Some(v) => match v.parse::<i64>() {
                        Ok(n) if (min..=max).contains(&n) => Ok(n),
                        _ => Err(err(name, "is not an integer within its bounds")),
                    },
                }
            };
        let flag = |name: &'static str, default: bool| -> Result<bool, ConfigError> {
            match get(name).as_deref() {
                None => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(_) => Err(err(name, "must be `true` or `false`")),
            }
        };
        const DAY: i64 = 86_400;

        let rate_limit_enabled = flag("RATE_LIMIT_ENABLED", true)? || production;
        let rate_limits = if rate_limit_enabled {
            Some(parse_rate_limits(get("RATE_LIMIT_CONFIG").as_deref())?)
        } else {
            None
        };

        let cors_allowed_origins = match get("CORS_ALLOWED_ORIGINS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|o| {
                    parse_origin(o, false)
                        .map_err(|_| err("CORS_ALLOWED_ORIGINS", "contains an invalid origin"))
                })
                .collect::<Result<_, _>>()?,
        };

        let shadow_challenge_ttl_secs = num("SHADOW_CHALLENGE_TTL_SECS", 3600, 60, 7 * DAY)?;
        // Default: the challenge's lifetime plus an hour for a checkout opened just before the
        // challenge expired (card entry, 3-D Secure) to complete.
        let shadow_link_ttl_secs = num(
            "SHADOW_LINK_TTL_SECS",
            shadow_challenge_ttl_secs + 3600,
            60,
            8 * DAY,
        )?;
        if shadow_link_ttl_secs < shadow_challenge_ttl_secs {
            return Err(err(
                "SHADOW_LINK_TTL_SECS",
                "must be at least SHADOW_CHALLENGE_TTL_SECS",
            ));
        }

        let mail = parse_mail(&get, production, flag("REQUIRE_VERIFIED_EMAIL", false)?)?;

        // Client ID Metadata Documents: fetching loopback is for a service that itself runs on
        // loopback (wrangler dev, tests); anywhere else it would open the SSRF rules.
        let cimd_allow_loopback = flag("CIMD_ALLOW_LOOPBACK", false)?;
        if cimd_allow_loopback
            && (production || !public_base_url.as_deref().is_some_and(is_loopback_origin))
        {
            return Err(err(
                "CIMD_ALLOW_LOOPBACK",
                "is allowed only in development with a loopback PUBLIC_BASE_URL",
            ));
        }

        Ok(Config {
            environment,
            public_base_url,
            signing_keys,
            dpop_nonce_key,
            es256_keys,
            session_ttl_secs: num("SESSION_TTL_SECS", 1800, 60, 30 * DAY)?,
            registration_challenge_ttl_secs: num("REGISTRATION_CHALLENGE_TTL_SECS", 300, 60, DAY)?,
            rotation_challenge_ttl_secs: num("ROTATION_CHALLENGE_TTL_SECS", 300, 60, DAY)?,
            claim_challenge_ttl_secs: num("CLAIM_CHALLENGE_TTL_SECS", 900, 60, DAY)?,
            key_directory_overlap_secs: num("KEY_DIRECTORY_OVERLAP_SECS", 3600, 0, 7 * DAY)?,
            shadow_challenge_ttl_secs,
            shadow_link_ttl_secs,
            dpop_iat_past_secs: num("DPOP_IAT_PAST_SECS", 300, 1, 3600)?,
            dpop_iat_future_secs: num("DPOP_IAT_FUTURE_SECS", 60, 0, 3600)?,
            dpop_require_nonce: flag("DPOP_REQUIRE_NONCE", false)?,
            clock_skew_secs: num("CLOCK_SKEW_SECS", 60, 0, 600)?,
            shadow_secret,
            link_key,
            shadow_validity_days: num("SHADOW_VALIDITY_DAYS", 30, 1, 366)?,
            auth_code_ttl_secs: num("AUTH_CODE_TTL_SECS", 600, 60, 600)?,
            access_token_ttl_secs: num("ACCESS_TOKEN_TTL_SECS", 300, 60, 3600)?,
            refresh_token_ttl_secs: num("REFRESH_TOKEN_TTL_SECS", 2_592_000, 3600, 400 * DAY)?,
            client_assertion_max_lifetime_secs: num(
                "CLIENT_ASSERTION_MAX_LIFETIME_SECS",
                300,
                1,
                3600,
            )?,
            paddle: Paddle {
                webhook_secret: secret("PADDLE_WEBHOOK_SECRET", 1),
                api_key: secret("PADDLE_API_KEY", 1),
                api_url: get("PADDLE_API_URL").unwrap_or_else(|| {
                    if production {
                        "https://api.paddle.com"
                    } else {
                        "https://sandbox-api.paddle.com"
                    }
                    .to_owned()
                }),
                environment: get("PADDLE_ENVIRONMENT").unwrap_or_else(|| {
                    if production { "production" } else { "sandbox" }.to_owned()
                }),
                client_token: secret("PADDLE_CLIENT_TOKEN", 1),
                price_basic: secret("PADDLE_PRICE_ID_BASIC", 1),
                price_pro: secret("PADDLE_PRICE_ID_PRO", 1),
                price_premium: secret("PADDLE_PRICE_ID_PREMIUM", 1),
                price_shadow: secret("PADDLE_PRICE_ID_SHADOW", 1),
                webhook_tolerance_secs: num("PADDLE_WEBHOOK_TOLERANCE_SECS", 300, 1, 3600)?,
            },
            mail,
            rate_limits,
            cors_allowed_origins,
            audit_retention_days: num("AUDIT_RETENTION_DAYS", 400, 1, 36_500)?,
            grant_retention_days: num("GRANT_RETENTION_DAYS", 30, 1, 3650)?,
            oauth_history_retention_days: num("OAUTH_HISTORY_RETENTION_DAYS", 400, 32, 36_500)?,
            bcrypt_cost: u32::try_from(num(
                "BCRYPT_COST",
                10,
                if production { 10 } else { 4 },
                14,
            )?)
            .map_err(|_| err("BCRYPT_COST", "is out of range"))?,
            build_version: get("BUILD_VERSION").unwrap_or_else(default_build_version),
            replay_store: match get("REPLAY_STORE") {
                None => ReplayBackend::default(),
                Some(v) => ReplayBackend::from_setting(&v)
                    .ok_or(err("REPLAY_STORE", "must be `d1` or `durable_object`"))?,
            },
            // Public clients and refresh (issue 10): at most five minutes, so a retried token
            // stays a short-lived exception to RFC 9700 §4.14.2's reuse detection.
            refresh_grace_secs: num("REFRESH_GRACE_SECS", 30, 0, 300)?,
            cimd_allow_loopback,
        })
    }
}

/// `MAIL_PROVIDER` (default `log` in development, `resend` in production; `log` is refused in
/// production because it writes one-time links to the log), `MAIL_API_KEY`, `MAIL_FROM`,
/// `MAIL_API_URL`. A malformed value fails the configuration; a missing key or sender only
/// fails the sends (the outbox keeps the messages).
fn parse_mail(
    get: &dyn Fn(&str) -> Option<String>,
    production: bool,
    require_verified_email: bool,
) -> Result<Mail, ConfigError> {
    let provider = match get("MAIL_PROVIDER").as_deref() {
        None if production => MailProvider::Resend,
        None => MailProvider::Log,
        Some("resend") => MailProvider::Resend,
        Some("log") if production => {
            return Err(err("MAIL_PROVIDER", "must not be `log` in production"))
        }
        Some("log") => MailProvider::Log,
        Some(_) => return Err(err("MAIL_PROVIDER", "must be `resend` or `log`")),
    };
    let from = match get("MAIL_FROM") {
        Some(v) if sender_is_valid(&v) => Ok(v),
        Some(_) => {
            return Err(err(
                "MAIL_FROM",
                "must be `name@domain` or `Name <name@domain>`",
            ))
        }
        None => Err(err("MAIL_FROM", "is not set")),
    };
    let api_url = match get("MAIL_API_URL") {
        None => crate::mail::resend::DEFAULT_API_URL.to_owned(),
        Some(u) if u.starts_with("https://") || (!production && u.starts_with("http://")) => u,
        Some(_) => {
            return Err(err(
                "MAIL_API_URL",
                "must be an https URL (http only outside production)",
            ))
        }
    };
    Ok(Mail {
        provider,
        api_key: match get("MAIL_API_KEY") {
            Some(k) => Ok(k),
            None => Err(err("MAIL_API_KEY", "is not set")),
        },
        from,
        api_url,
        require_verified_email,
    })
}

/// `name@domain` or `Name <name@domain>`, one line, no control characters.
fn sender_is_valid(v: &str) -> bool {
    if v.chars().any(char::is_control) || v.len() > 320 {
        return false;
    }
    let address = match v.rsplit_once('<') {
        Some((name, rest)) => {
            let Some(addr) = rest.strip_suffix('>') else {
                return false;
            };
            if name.trim().is_empty() || name.contains(['<', '>']) {
                return false;
            }
            addr
        }
        None => v,
    };
    address.trim() == address && crate::domain::overseer::email(address).is_ok()
}

/// The version baked in at build time (`BUILD_VERSION` env of the build), else the crate's.
pub fn default_build_version() -> String {
    option_env!("BUILD_VERSION")
        .unwrap_or(env!("CARGO_PKG_VERSION"))
        .to_owned()
}

const fn err(name: &'static str, problem: &'static str) -> ConfigError {
    ConfigError { name, problem }
}

/// Accepts exactly `scheme://host[:port]` (no path, query, fragment, user info or trailing slash).
/// `http(s)://127.0.0.1[:port]` or `http(s)://[::1][:port]`.
fn is_loopback_origin(origin: &str) -> bool {
    let rest = origin.split_once("://").map_or("", |(_, rest)| rest);
    ["127.0.0.1", "[::1]"].iter().any(|host| {
        rest.strip_prefix(host).is_some_and(|port| {
            port.is_empty()
                || port
                    .strip_prefix(':')
                    .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
    })
}

fn parse_origin(url: &str, require_https: bool) -> Result<String, ConfigError> {
    let bad = err(
        "PUBLIC_BASE_URL",
        "must be an origin like https://id.example.com",
    );
    let (scheme, rest) = url.split_once("://").ok_or(bad.clone())?;
    let scheme = scheme.to_ascii_lowercase();
    if !(scheme == "https" || (scheme == "http" && !require_https)) {
        return Err(if require_https {
            err("PUBLIC_BASE_URL", "must use https in production")
        } else {
            bad
        });
    }
    let valid_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if rest.is_empty() || !rest.chars().all(valid_char) {
        return Err(bad);
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

fn parse_seed(vars: &dyn Vars, name: &'static str) -> Option<Setting<[u8; 32]>> {
    let raw = vars
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())?;
    Some(
        b64::decode_lenient(&raw)
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or(err(name, "must be a base64 32-byte Ed25519 seed")),
    )
}

/// Validates the seeds (every error is reported at load); the keys are derived on first use.
fn parse_signing_seeds(vars: &dyn Vars) -> Setting<SigningSeeds> {
    let current = parse_seed(vars, "OAUTH_SIGNING_KEY")
        .unwrap_or(Err(err("OAUTH_SIGNING_KEY", "is not set")))?;
    let previous = parse_seed(vars, "OAUTH_SIGNING_KEY_PREVIOUS").transpose()?;
    Ok(SigningSeeds { current, previous })
}

/// `OAUTH_ES256_SIGNING_KEY` and `OAUTH_ES256_SIGNING_KEY_PREVIOUS`: private P-256 JWKs. Both
/// optional, but a previous key without a current one is a mistake, not a rotation.
fn parse_es256_keys(vars: &dyn Vars) -> Setting<Option<Es256Keys>> {
    let parse = |name: &'static str| -> Option<Setting<Es256SigningKey>> {
        let raw = vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())?;
        Some(
            Es256SigningKey::from_jwk(&raw)
                .map_err(|_| err(name, "must be a private EC P-256 JWK (kty, crv, x, y, d)")),
        )
    };
    let previous = parse("OAUTH_ES256_SIGNING_KEY_PREVIOUS").transpose()?;
    match parse("OAUTH_ES256_SIGNING_KEY").transpose()? {
        Some(current) => Ok(Some(Es256Keys { current, previous })),
        None if previous.is_some() => Err(err(
            "OAUTH_ES256_SIGNING_KEY_PREVIOUS",
            "is set without OAUTH_ES256_SIGNING_KEY",
        )),
        None => Ok(None),
    }
}

fn parse_rate_limits(json: Option<&str>) -> Result<RateLimits, ConfigError> {
    let mut limits = RateLimits::default();
    let Some(json) = json else {
        return Ok(limits);
    };
    let bad = err(
        "RATE_LIMIT_CONFIG",
        "must be a JSON object of \"bucket\": \"count/window_seconds\"",
    );
    let map: HashMap<String, String> = serde_json::from_str(json).map_err(|_| bad.clone())?;
    for (name, spec) in map {
        let bucket = Bucket::from_name(&name).ok_or(bad.clone())?;
        let (count, window) = spec.split_once('/').ok_or(bad.clone())?;
        let limit = Limit {
            count: count.trim().parse().map_err(|_| bad.clone())?,
            window_secs: window.trim().parse().map_err(|_| bad.clone())?,
        };
        if limit.count == 0 || limit.window_secs == 0 {
            return Err(bad);
        }
        limits.set(bucket, limit);
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn development_defaults_and_missing_secrets_fail_closed_individually() {
        let c = Config::load(&vars(&[])).unwrap();
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.public_base_url, None);
        assert_eq!(c.session_ttl_secs, 1800);
        assert_eq!(
            c.signing_keys.as_ref().unwrap_err().name,
            "OAUTH_SIGNING_KEY"
        );
        assert_eq!(
            c.dpop_nonce_key.as_ref().unwrap_err().name,
            "OAUTH_SIGNING_KEY"
        );
        assert!(c.rate_limits.is_some());
    }

    #[test]
    fn production_requires_an_https_issuer() {
        assert_eq!(
            Config::load(&vars(&[("ENVIRONMENT", "production")]))
                .unwrap_err()
                .name,
            "PUBLIC_BASE_URL"
        );
        let e = Config::load(&vars(&[
            ("ENVIRONMENT", "production"),
            ("PUBLIC_BASE_URL", "http://id.example.com"),
        ]));
        assert_eq!(e.unwrap_err().problem, "must use https in production");
        let c = Config::load(&vars(&[
            ("ENVIRONMENT", "production"),
            ("PUBLIC_BASE_URL", "https://ID.example.com"),
            ("RATE_LIMIT_ENABLED", "false"),
        ]))
        .unwrap();
        assert_eq!(c.public_base_url.as_deref(), Some("https://id.example.com"));
        assert!(
            c.rate_limits.is_some(),
            "rate limits cannot be disabled in production"
        );
    }

    #[test]
    fn issuer_must_be_a_bare_origin() {
        for bad in [
            "https://id.example.com/",
            "https://id.example.com/v1",
            "https://u@id.example.com",
            "id.example.com",
            "ftp://x.y",
            "https://id.example.com?x",
        ] {
            assert!(
                Config::load(&vars(&[("PUBLIC_BASE_URL", bad)])).is_err(),
                "{bad}"
            );
        }
        assert!(Config::load(&vars(&[("PUBLIC_BASE_URL", "http://127.0.0.1:8787")])).is_ok());
    }

    #[test]
    fn refresh_grace_defaults_to_30_and_is_bounded() {
        assert_eq!(Config::load(&vars(&[])).unwrap().refresh_grace_secs, 30);
        let grace = |v| Config::load(&vars(&[("REFRESH_GRACE_SECS", v)]));
        assert_eq!(grace("0").unwrap().refresh_grace_secs, 0);
        assert_eq!(grace("300").unwrap().refresh_grace_secs, 300);
        for bad in ["301", "-1", "30s"] {
            assert_eq!(
                grace(bad).unwrap_err().name,
                "REFRESH_GRACE_SECS",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn numbers_out_of_bounds_are_configuration_errors() {
        assert_eq!(
            Config::load(&vars(&[("SESSION_TTL_SECS", "59")]))
                .unwrap_err()
                .name,
            "SESSION_TTL_SECS"
        );
        assert_eq!(
            Config::load(&vars(&[("SESSION_TTL_SECS", "abc")]))
                .unwrap_err()
                .name,
            "SESSION_TTL_SECS"
        );
        assert_eq!(
            Config::load(&vars(&[("DPOP_REQUIRE_NONCE", "yes")]))
                .unwrap_err()
                .name,
            "DPOP_REQUIRE_NONCE"
        );
        assert_eq!(
            Config::load(&vars(&[("RATE_LIMIT_CONFIG", "{\"nope\":\"1/1\"}")]))
                .unwrap_err()
                .name,
            "RATE_LIMIT_CONFIG"
        );
    }

    #[test]
    fn secrets_have_no_defaults_and_link_key_derives_from_the_shadow_secret() {
        let c = Config::load(&vars(&[])).unwrap();
        assert_eq!(c.shadow_secret.unwrap_err().name, "SHADOW_SECRET");
        assert_eq!(c.link_key.unwrap_err().name, "SHADOW_SECRET");
        assert_eq!(
            c.paddle.webhook_secret.as_ref().unwrap_err().name,
            "PADDLE_WEBHOOK_SECRET"
        );
        assert_eq!(
            c.paddle
                .price_for("BASIC")
                .unwrap()
                .as_ref()
                .unwrap_err()
                .name,
            "PADDLE_PRICE_ID_BASIC"
        );
        assert_eq!(c.paddle.api_url, "https://sandbox-api.paddle.com");
        let short = Config::load(&vars(&[("SHADOW_SECRET", "too-short")])).unwrap();
        assert_eq!(short.shadow_secret.unwrap_err().problem, "is too short");
        // vectors.md 5.8: link key derived from SHADOW_SECRET
        let c = Config::load(&vars(&[(
            "SHADOW_SECRET",
            "test-shadow-secret-do-not-use-0123",
        )]))
        .unwrap();
        assert_eq!(c.link_key.unwrap().len(), 32);
        let c = Config::load(&vars(&[
            ("PADDLE_PRICE_ID_PRO", "pri_pro"),
            ("PADDLE_PRICE_ID_SHADOW", "pri_shadow"),
        ]))
        .unwrap();
        assert_eq!(c.paddle.tier_of("pri_pro"), Some("PRO"));
        assert_eq!(c.paddle.tier_of("pri_shadow"), Some("SHADOW"));
        assert_eq!(c.paddle.tier_of("pri_other"), None);
    }

    /// A P-256 key generated with Python's `cryptography`, and its private scalar.
    const ES256_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"EcETHKKbxEYG7RmJk9prjM9OuPRIrCc7ujiU-A5CjAg","y":"t0sZQeYAhWGSqF3jzOrBCCd118JzaqPKF6HlRZRkeuM","d":"flf6UWGfUTrTXNkxnuAntG4i85CBPtORANKgjHs7Wao"}"#;
    const ES256_D: &str = "flf6UWGfUTrTXNkxnuAntG4i85CBPtORANKgjHs7Wao";

    #[test]
    fn es256_keys_are_optional_but_never_half_configured() {
        let load = |pairs: &[(&str, &str)]| Config::load(&vars(pairs)).unwrap().es256_keys;
        assert!(matches!(load(&[]), Ok(None)));
        assert!(matches!(
            load(&[("OAUTH_ES256_SIGNING_KEY", "  ")]),
            Ok(None)
        ));
        let keys = load(&[
            ("OAUTH_ES256_SIGNING_KEY", ES256_JWK),
            ("OAUTH_ES256_SIGNING_KEY_PREVIOUS", ES256_JWK),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(keys.current.kid(), keys.previous.unwrap().kid());
        let name = |pairs: &[(&str, &str)]| load(pairs).unwrap_err().name;
        assert_eq!(
            name(&[("OAUTH_ES256_SIGNING_KEY_PREVIOUS", ES256_JWK)]),
            "OAUTH_ES256_SIGNING_KEY_PREVIOUS"
        );
        assert_eq!(
            name(&[(
                "OAUTH_ES256_SIGNING_KEY",
                &ES256_JWK.replace("P-256", "P-384")
            )]),
            "OAUTH_ES256_SIGNING_KEY"
        );
        assert_eq!(
            name(&[
                ("OAUTH_ES256_SIGNING_KEY", ES256_JWK),
                ("OAUTH_ES256_SIGNING_KEY_PREVIOUS", "{}"),
            ]),
            "OAUTH_ES256_SIGNING_KEY_PREVIOUS"
        );
        // The message names the setting, never its value.
        let e = load(&[(
            "OAUTH_ES256_SIGNING_KEY",
            &ES256_JWK.replace("\"EC\"", "\"OKP\""),
        )])
        .unwrap_err();
        assert!(!e.to_string().contains(ES256_D), "{e}");
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        const SEED_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let secrets = [
            ("SHADOW_SECRET", "shadow-secret-value-0123456789-abcdefgh"),
            (
                "WEBHOOK_LINK_SECRET",
                "link-secret-value-0123456789-abcdefghij",
            ),
            (
                "DPOP_NONCE_SECRET",
                "nonce-secret-value-0123456789-abcdefghi",
            ),
            (
                "PADDLE_WEBHOOK_SECRET",
                "pdl_ntfset_webhook_secret_value_xyz",
            ),
            ("PADDLE_API_KEY", "pdl_live_apikey_secret_value_xyz"),
        ];
        let mut all = secrets.to_vec();
        all.extend([
            ("OAUTH_SIGNING_KEY", SEED_B64),
            ("OAUTH_SIGNING_KEY_PREVIOUS", SEED_B64),
            ("OAUTH_ES256_SIGNING_KEY", ES256_JWK),
            ("PADDLE_PRICE_ID_PRO", "pri_visible_pro"),
        ]);
        let c = Config::load(&vars(&all)).unwrap();
        assert!(c.shadow_secret.is_ok() && c.paddle.api_key.is_ok() && c.link_key.is_ok());
        assert!(matches!(c.es256_keys, Ok(Some(_))));
        for text in [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", c.paddle),
        ] {
            for (name, value) in secrets {
                assert!(!text.contains(value), "{name} leaked: {text}");
            }
            let seed = b64::decode_lenient(SEED_B64).unwrap();
            for needle in [
                SEED_B64.to_owned(),
                crate::crypto::hex::encode(&seed),
                format!("{:?}", &seed[..8]).trim_end_matches(']').to_owned(),
                format!("{:?}", c.dpop_nonce_key.as_ref().unwrap()[..8].to_vec())
                    .trim_end_matches(']')
                    .to_owned(),
                format!("{:?}", c.link_key.as_ref().unwrap()[..8].to_vec())
                    .trim_end_matches(']')
                    .to_owned(),
            ] {
                assert!(!text.contains(&needle), "key material leaked: {text}");
            }
            assert!(!text.contains(ES256_D), "ES256 key leaked: {text}");
            // Still useful: which settings are usable, and the public values.
            assert!(text.contains("pri_visible_pro") && text.contains("<redacted>"));
        }
        let missing = Config::load(&vars(&[])).unwrap();
        assert!(format!("{missing:?}").contains("PADDLE_API_KEY"));
    }

    #[test]
    fn cimd_loopback_only_on_a_loopback_development_origin() {
        assert!(!Config::load(&vars(&[])).unwrap().cimd_allow_loopback);
        for origin in [
            "http://127.0.0.1:8787",
            "http://[::1]:9000",
            "http://127.0.0.1",
        ] {
            let c = Config::load(&vars(&[
                ("PUBLIC_BASE_URL", origin),
                ("CIMD_ALLOW_LOOPBACK", "true"),
            ]));
            assert!(c.unwrap().cimd_allow_loopback, "{origin}");
        }
        for origin in [
            "https://id.example.com",
            "http://127.0.0.1.example.com",
            "http://localhost:8787",
        ] {
            let e = Config::load(&vars(&[
                ("PUBLIC_BASE_URL", origin),
                ("CIMD_ALLOW_LOOPBACK", "true"),
            ]))
            .unwrap_err();
            assert_eq!(e.name, "CIMD_ALLOW_LOOPBACK", "{origin}");
        }
        let e = Config::load(&vars(&[("CIMD_ALLOW_LOOPBACK", "true")])).unwrap_err();
        assert_eq!(e.name, "CIMD_ALLOW_LOOPBACK");
        let e = Config::load(&vars(&[("CIMD_ALLOW_LOOPBACK", "yes")])).unwrap_err();
        assert_eq!(e.name, "CIMD_ALLOW_LOOPBACK");
    }

    #[test]
    fn replay_store_is_d1_unless_set_to_a_known_backend() {
        assert_eq!(
            Config::load(&vars(&[])).unwrap().replay_store,
            ReplayBackend::D1
        );
        let c = Config::load(&vars(&[("REPLAY_STORE", "durable_object")])).unwrap();
        assert_eq!(c.replay_store, ReplayBackend::DurableObject);
        for bad in [
            "DurableObject",
            "D1",
            "kv",
            "durable-object",
            "d1,durable_object",
        ] {
            let e = Config::load(&vars(&[("REPLAY_STORE", bad)])).unwrap_err();
            assert_eq!(e.name, "REPLAY_STORE", "{bad}");
        }
    }

    #[test]
    fn nonce_key_derivation_vector() {
        // vectors.md 5.9: server seed 00..1f
        let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
        let c = Config::load(&vars(&[("OAUTH_SIGNING_KEY", &b64::encode(&seed))])).unwrap();
        assert_eq!(
            crate::crypto::hex::encode(c.dpop_nonce_key.as_ref().unwrap()),
            "ab8dfd1e5941f2c5ff24a047aecf0d809c0fc2acb11208e872390bb5551d18cf"
        );
        let bad = Config::load(&vars(&[("OAUTH_SIGNING_KEY", "c2hvcnQ")])).unwrap();
        assert!(bad.signing_keys.as_ref().is_err());
    }

    #[test]
    fn keys_are_validated_at_load_and_derived_on_first_use_only() {
        let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
        let c = Config::load(&vars(&[("OAUTH_SIGNING_KEY", &b64::encode(&seed))])).unwrap();
        assert!(!c.signing_keys.is_derived() && !c.dpop_nonce_key.is_derived());
        let keys = c.signing_keys.as_ref().unwrap();
        assert_eq!(keys.current.seed(), &seed);
        assert!(keys.previous.is_none());
        assert!(
            c.signing_keys.is_derived() && !c.dpop_nonce_key.is_derived(),
            "the nonce key needs only the seed, not the signing key"
        );
        assert!(
            std::ptr::eq(keys, c.signing_keys.as_ref().unwrap()),
            "derived once"
        );
        // A malformed previous key is still an error of the whole setting, named, at load.
        let bad = Config::load(&vars(&[
            ("OAUTH_SIGNING_KEY", &b64::encode(&seed)),
            ("OAUTH_SIGNING_KEY_PREVIOUS", "c2hvcnQ"),
        ]))
        .unwrap();
        assert_eq!(
            bad.signing_keys.as_ref().unwrap_err(),
            &err(
                "OAUTH_SIGNING_KEY_PREVIOUS",
                "must be a base64 32-byte Ed25519 seed"
            )
        );
        assert_eq!(
            format!("{:?}", bad.dpop_nonce_key),
            "Err(ConfigError { name: \"OAUTH_SIGNING_KEY_PREVIOUS\", problem: \"must be a base64 32-byte Ed25519 seed\" })"
        );
    }
}
