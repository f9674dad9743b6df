//! The `Signature-Input` and `Signature` fields (RFC 9421 §4): reading the labelled signatures
//! a message carries, and producing them with an Ed25519 key.

use ed25519_dalek::{Signer, SigningKey};

use super::base::{signature_base, BaseError, Components, SignatureParams};
use super::sf::{self, BareItem, Member};
use crate::ed25519::Ed25519PublicKey;
use crate::verify;

/// One labelled signature of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledSignature {
    pub label: String,
    pub params: SignatureParams,
    pub bytes: Vec<u8>,
}

/// Why the signature fields could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// `Signature-Input` or `Signature` is not a structured dictionary.
    Syntax {
        field: &'static str,
        error: sf::ParseError,
    },
    /// A label of `Signature-Input` has no byte sequence in `Signature`.
    Unpaired(String),
    /// A `Signature-Input` member is not valid signature parameters.
    Params(BaseError),
    /// `Signature-Input` has no member.
    Empty,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldError::Syntax { field, error } => write!(f, "{field} is malformed: {error}"),
            FieldError::Unpaired(label) => {
                write!(f, "Signature has no byte sequence for label {label}")
            }
            FieldError::Params(e) => write!(f, "Signature-Input: {e}"),
            FieldError::Empty => f.write_str("Signature-Input has no signature"),
        }
    }
}

impl std::error::Error for FieldError {}

/// Pairs every `Signature-Input` label with its `Signature` byte sequence.
pub fn parse_fields(
    signature_input: &str,
    signature: &str,
) -> Result<Vec<LabelledSignature>, FieldError> {
    let inputs = sf::parse_dictionary(signature_input).map_err(|error| FieldError::Syntax {
        field: "Signature-Input",
        error,
    })?;
    let sigs = sf::parse_dictionary(signature).map_err(|error| FieldError::Syntax {
        field: "Signature",
        error,
    })?;
    if inputs.0.is_empty() {
        return Err(FieldError::Empty);
    }
    inputs
        .0
        .iter()
        .map(|(label, member)| {
            let params = SignatureParams::from_member(member).map_err(FieldError::Params)?;
            let bytes = match sigs.get(label) {
                Some(Member::Item(item)) => match &item.bare {
                    BareItem::ByteSeq(b) => b.clone(),
                    _ => return Err(FieldError::Unpaired(label.clone())),
                },
                _ => return Err(FieldError::Unpaired(label.clone())),
            };
            Ok(LabelledSignature {
                label: label.clone(),
                params,
                bytes,
            })
        })
        .collect()
}

/// The two field values of one signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedFields {
    pub signature_input: String,
    pub signature: String,
}

/// Signs the base of `params` over `src` with `key` (Ed25519 is deterministic, so RFC 9421's
/// examples are reproducible byte for byte).
pub fn sign_ed25519(
    label: &str,
    params: &SignatureParams,
    src: &(impl Components + ?Sized),
    key: &SigningKey,
) -> Result<SignedFields, BaseError> {
    let base = signature_base(params, src)?;
    let sig = key.sign(base.as_bytes()).to_bytes();
    Ok(SignedFields {
        signature_input: format!("{label}={}", params.serialize()),
        signature: format!("{label}={}", BareItem::ByteSeq(sig.to_vec())),
    })
}

/// Strict Ed25519 verification of `sig` over its base (`verify::ed25519`); `Ok(false)` when
/// the signature does not verify.
pub async fn verify_ed25519(
    sig: &LabelledSignature,
    src: &(impl Components + ?Sized),
    key: &Ed25519PublicKey,
) -> Result<bool, BaseError> {
    let base = signature_base(&sig.params, src)?;
    Ok(verify::ed25519(key, base.as_bytes(), &sig.bytes).await)
}
