//! API errors: one enum of machine codes (api.md 1.5.1) rendered as
//! `{"success": false, "error": "...", "code": "..."}`.

use std::borrow::Cow;

use http::StatusCode;

use crate::clock::RandomError;
use crate::config::ConfigError;
use crate::store::StoreError;

/// The machine-readable `code` of a non-OAuth error response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    MissingField,
    InvalidField,
    InvalidPublicKey,
    InvalidEmail,
    InvalidOwnerType,
    InvalidRedirectUri,
    InvalidScope,
    PasswordTooShort,
    PasswordTooLong,
    AmbiguousAuthentication,
    InvalidTier,
    NoSubscription,
    MissingSignature,
    InvalidPayload,
    AuthenticationRequired,
    InvalidSession,
    InvalidDpopProof,
    UseDpopNonce,
    InvalidSignature,
    InvalidCredentials,
    InvalidWebhookSignature,
    Forbidden,
    CsrfCheckFailed,
    ChallengeMismatch,
    OverseerMismatch,
    TierLimitReached,
    NotFound,
    AgentNotFound,
    ChallengeNotFound,
    NoActiveOversight,
    ClientNotFound,
    BlockNotFound,
    /// No live grant of that id for the agent (unknown, another agent's, or already ended).
    GrantNotFound,
    MethodNotAllowed,
    DuplicatePublicKey,
    EmailTaken,
    AlreadyClaimed,
    AlreadyBlocked,
    AlreadySubscribed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    /// An e-mailed one-time link that is unknown, used, expired, superseded or malformed.
    TokenInvalid,
    /// `REQUIRE_VERIFIED_EMAIL` is on and the overseer's address is not verified.
    EmailNotVerified,
    EmailAlreadyVerified,
    // Account settings (issue 12)
    WrongPassword,
    SessionNotFound,
    InternalError,
    ConfigurationError,
    /// The overseer has no Paddle customer yet, so there is no portal to open (issue 12).
    NoBillingCustomer,
    /// Paddle could not be reached in time (issue 12: the portal call waits for Paddle).
    PaddleUnavailable,
    /// Paddle answered with an error or an unusable answer.
    PaddleError,
    // Web Bot Auth (issue 14): the verification endpoint's refusals, one per rule, and the
    // key directory's removal of an unknown key.
    MalformedSignature,
    InvalidSignatureTag,
    MissingSignatureParameter,
    UnsupportedSignatureAlgorithm,
    SignatureExpired,
    SignatureNotYetValid,
    InvalidSignatureValidity,
    AuthorityNotCovered,
    SignatureAgentNotCovered,
    MissingComponent,
    UnknownSignatureAgent,
    SignatureMismatch,
    UnknownKey,
    KeyNotFound,
    // Public clients (issue 10): a key sent with `token_endpoint_auth_method: "none"`, and the
    // rotation of a key that a public client does not have.
    PublicKeyNotAllowed,
    PublicClientHasNoKey,
    // Protected resources (issue 10)
    /// A resource identifier that is not an absolute https URI in canonical-able form.
    InvalidResourceUri,
    /// Another resource (anyone's) already has this identifier.
    ResourceExists,
    /// No resource of that id for the overseer (unknown or another overseer's).
    ResourceNotFound,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::InvalidPublicKey => "invalid_public_key",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidOwnerType => "invalid_owner_type",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::PasswordTooShort => "password_too_short",
            ErrorCode::PasswordTooLong => "password_too_long",
            ErrorCode::AmbiguousAuthentication => "ambiguous_authentication",
            ErrorCode::InvalidTier => "invalid_tier",
            ErrorCode::NoSubscription => "no_subscription",
            ErrorCode::MissingSignature => "missing_signature",
            ErrorCode::InvalidPayload => "invalid_payload",
            ErrorCode::InvalidWebhookSignature => "invalid_webhook_signature",
            ErrorCode::AlreadySubscribed => "already_subscribed",
            ErrorCode::AuthenticationRequired => "authentication_required",
            ErrorCode::InvalidSession => "invalid_session",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::CsrfCheckFailed => "csrf_check_failed",
            ErrorCode::ChallengeMismatch => "challenge_mismatch",
            ErrorCode::OverseerMismatch => "overseer_mismatch",
            ErrorCode::TierLimitReached => "tier_limit_reached",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AgentNotFound => "agent_not_found",
            ErrorCode::ChallengeNotFound => "challenge_not_found",
            ErrorCode::NoActiveOversight => "no_active_oversight",
            ErrorCode::ClientNotFound => "client_not_found",
            ErrorCode::BlockNotFound => "block_not_found",
            ErrorCode::GrantNotFound => "grant_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::DuplicatePublicKey => "duplicate_public_key",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::AlreadyClaimed => "already_claimed",
            ErrorCode::AlreadyBlocked => "already_blocked",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::EmailNotVerified => "email_not_verified",
            ErrorCode::EmailAlreadyVerified => "email_already_verified",
            // Account settings (issue 12)
            ErrorCode::WrongPassword => "wrong_password",
            ErrorCode::SessionNotFound => "session_not_found",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::ConfigurationError => "configuration_error",
            ErrorCode::NoBillingCustomer => "no_billing_customer",
            ErrorCode::PaddleUnavailable => "paddle_unavailable",
            ErrorCode::PaddleError => "paddle_error",
            ErrorCode::MalformedSignature => "malformed_signature",
            ErrorCode::InvalidSignatureTag => "invalid_signature_tag",
            ErrorCode::MissingSignatureParameter => "missing_signature_parameter",
            ErrorCode::UnsupportedSignatureAlgorithm => "unsupported_signature_algorithm",
            ErrorCode::SignatureExpired => "signature_expired",
            ErrorCode::SignatureNotYetValid => "signature_not_yet_valid",
            ErrorCode::InvalidSignatureValidity => "invalid_signature_validity",
            ErrorCode::AuthorityNotCovered => "authority_not_covered",
            ErrorCode::SignatureAgentNotCovered => "signature_agent_not_covered",
            ErrorCode::MissingComponent => "missing_component",
            ErrorCode::UnknownSignatureAgent => "unknown_signature_agent",
            ErrorCode::SignatureMismatch => "signature_mismatch",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::KeyNotFound => "key_not_found",
            ErrorCode::PublicKeyNotAllowed => "public_key_not_allowed",
            ErrorCode::PublicClientHasNoKey => "public_client_has_no_key",
            ErrorCode::InvalidResourceUri => "invalid_resource_uri",
            ErrorCode::ResourceExists => "resource_exists",
            ErrorCode::ResourceNotFound => "resource_not_found",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidJson
            | ErrorCode::MissingField
            | ErrorCode::InvalidField
            | ErrorCode::InvalidPublicKey
            | ErrorCode::InvalidEmail
            | ErrorCode::InvalidOwnerType
            | ErrorCode::InvalidRedirectUri
            | ErrorCode::InvalidScope
            | ErrorCode::PasswordTooShort
            | ErrorCode::PasswordTooLong
            | ErrorCode::AmbiguousAuthentication
            | ErrorCode::InvalidTier
            | ErrorCode::NoSubscription
            | ErrorCode::NoBillingCustomer
            | ErrorCode::MissingSignature
            | ErrorCode::InvalidPayload
            | ErrorCode::TokenInvalid => StatusCode::BAD_REQUEST,
            ErrorCode::MalformedSignature
            | ErrorCode::InvalidSignatureTag
            | ErrorCode::MissingSignatureParameter
            | ErrorCode::UnsupportedSignatureAlgorithm
            | ErrorCode::SignatureExpired
            | ErrorCode::SignatureNotYetValid
            | ErrorCode::InvalidSignatureValidity
            | ErrorCode::AuthorityNotCovered
            | ErrorCode::SignatureAgentNotCovered
            | ErrorCode::MissingComponent
            | ErrorCode::UnknownSignatureAgent
            | ErrorCode::SignatureMismatch => StatusCode::BAD_REQUEST,
            ErrorCode::AuthenticationRequired
            | ErrorCode::InvalidSession
            | ErrorCode::InvalidDpopProof
            | ErrorCode::UseDpopNonce
            | ErrorCode::InvalidSignature
            | ErrorCode::InvalidCredentials
            | ErrorCode::InvalidWebhookSignature => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden
            | ErrorCode::CsrfCheckFailed
            | ErrorCode::ChallengeMismatch
            | ErrorCode::OverseerMismatch
            | ErrorCode::TierLimitReached
            | ErrorCode::EmailNotVerified => StatusCode::FORBIDDEN,
            ErrorCode::NotFound
            | ErrorCode::AgentNotFound
            | ErrorCode::ChallengeNotFound
            | ErrorCode::NoActiveOversight
            | ErrorCode::ClientNotFound
            | ErrorCode::BlockNotFound
            | ErrorCode::GrantNotFound
            | ErrorCode::UnknownKey
            | ErrorCode::KeyNotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::DuplicatePublicKey
            | ErrorCode::EmailTaken
            | ErrorCode::AlreadyClaimed
            | ErrorCode::AlreadyBlocked
            | ErrorCode::AlreadySubscribed
            | ErrorCode::EmailAlreadyVerified => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            // Account settings (issue 12)
            ErrorCode::WrongPassword => StatusCode::FORBIDDEN,
            ErrorCode::SessionNotFound => StatusCode::NOT_FOUND,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ConfigurationError | ErrorCode::PaddleUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::PaddleError => StatusCode::BAD_GATEWAY,
            // Public clients (issue 10)
            ErrorCode::PublicKeyNotAllowed => StatusCode::BAD_REQUEST,
            ErrorCode::PublicClientHasNoKey => StatusCode::CONFLICT,
            ErrorCode::InvalidResourceUri => StatusCode::BAD_REQUEST,
            ErrorCode::ResourceExists => StatusCode::CONFLICT,
            ErrorCode::ResourceNotFound => StatusCode::NOT_FOUND,
        }
    }
}

/// Which authentication challenge a 401 carries (api.md 1.7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm="agent-id"` (Bearer-only endpoints).
    Bearer,
    /// `DPoP realm="agent-id", algs="EdDSA Ed25519"` (DPoP-only endpoints).
    Dpop,
    /// Both (dual-mode endpoints).
    BearerAndDpop,
}

/// An error response, carrying what the renderer needs and nothing internal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    /// Set on 401s: the challenge scheme(s) to announce.
    pub challenge: Option<Challenge>,
    /// What few errors need; boxed so that `Result<_, ApiError>` stays small.
    extra: Option<Box<Extra>>,
}

/// The rarer parts of an error response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extra {
    /// `Retry-After` seconds on 429.
    pub retry_after: Option<u64>,
    /// An `Allow` header on 405.
    pub allow: Option<String>,
    /// A fresh `DPoP-Nonce` on `use_dpop_nonce`.
    pub dpop_nonce: Option<String>,
    /// Internal detail for the log only (never rendered).
    pub log_detail: Option<String>,
    /// At OAuth endpoints: the RFC 6749/6750/9449 `error` and its status, when they differ
    /// from what `code` maps to.
    pub oauth: Option<(StatusCode, &'static str)>,
    /// A complete `WWW-Authenticate` value, replacing the one `challenge` would give
    /// (the resource server's DPoP challenge at userinfo).
    pub www_authenticate: Option<String>,
}

const NO_EXTRA: &Extra = &Extra {
    retry_after: None,
    allow: None,
    dpop_nonce: None,
    log_detail: None,
    oauth: None,
    www_authenticate: None,
};

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            challenge: None,
            extra: None,
        }
    }

    pub fn extra(&self) -> &Extra {
        self.extra.as_deref().unwrap_or(NO_EXTRA)
    }

    pub fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// An OAuth-format error: `{"error": error, "error_description": description}`.
    pub fn oauth(
        status: StatusCode,
        error: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        let mut e = Self::new(ErrorCode::InvalidField, description);
        e.extra_mut().oauth = Some((status, error));
        e
    }

    /// The status and RFC error code this error has at an OAuth endpoint.
    pub fn oauth_parts(&self) -> (StatusCode, &'static str) {
        if let Some(parts) = self.extra().oauth {
            return parts;
        }
        let error = match self.code {
            ErrorCode::InternalError => "server_error",
            ErrorCode::ConfigurationError | ErrorCode::RateLimited => "temporarily_unavailable",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            _ => "invalid_request",
        };
        (self.status(), error)
    }

    pub fn with_challenge(mut self, c: Challenge) -> Self {
        self.challenge = Some(c);
        self
    }

    pub fn missing_field(field: &str) -> Self {
        Self::new(
            ErrorCode::MissingField,
            format!("Missing required field: {field}"),
        )
    }

    pub fn invalid_field(field: &str, why: &str) -> Self {
        Self::new(
            ErrorCode::InvalidField,
            format!("Invalid field `{field}`: {why}"),
        )
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "Not found")
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let mut e = Self::new(ErrorCode::InternalError, "Internal server error");
        e.extra_mut().log_detail = Some(detail.to_string());
        e
    }

    pub fn configuration(err: &ConfigError) -> Self {
        let mut e = Self::new(ErrorCode::ConfigurationError, "Service unavailable");
        e.extra_mut().log_detail = Some(err.to_string());
        e
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(ErrorCode::RateLimited, "Too many requests");
        e.extra_mut().retry_after = Some(retry_after);
        e
    }

    pub fn status(&self) -> StatusCode {
        self.extra()
            .oauth
            .map_or(self.code.status(), |(status, _)| status)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<RandomError> for ApiError {
    fn from(e: RandomError) -> Self {
        ApiError::internal(e)
    }
}

impl From<&ConfigError> for ApiError {
    fn from(e: &ConfigError) -> Self {
        ApiError::configuration(e)
    }
}

/// Refusals shared by the agent-key flows (registration, rotation, claims).
impl ApiError {
    /// An unknown, malformed, expired, used or other-kind challenge: all look alike.
    pub fn challenge_not_found() -> Self {
        Self::new(
            ErrorCode::ChallengeNotFound,
            "Challenge not found or expired",
        )
    }

    /// Another agent already holds the key.
    pub fn duplicate_public_key() -> Self {
        Self::new(
            ErrorCode::DuplicatePublicKey,
            "An agent already uses this public key",
        )
    }

    pub fn invalid_public_key(message: &'static str) -> Self {
        Self::new(ErrorCode::InvalidPublicKey, message)
    }
}

impl From<crate::domain::text::TextError> for ApiError {
    fn from(e: crate::domain::text::TextError) -> Self {
        use crate::domain::text::TextError;
        match e {
            TextError::Missing(field) => ApiError::missing_field(field),
            TextError::TooLong(field, max) => {
                ApiError::invalid_field(field, &format!("must be at most {max} characters"))
            }
            TextError::ControlCharacters(field) => {
                ApiError::invalid_field(field, "must not contain control characters")
            }
        }
    }
}
