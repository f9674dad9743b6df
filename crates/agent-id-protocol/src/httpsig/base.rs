//! RFC 9421 §2: covered components, signature parameters and the signature base both the
//! signer and the verifier compute.

use std::fmt;

use super::sf::{self, BareItem, InnerList, Item, Member, Params};

/// A covered component: a lowercase field name or a derived component (`@authority`, …) and
/// the one component parameter Web Bot Auth uses, `key` (a dictionary member, RFC 9421 §2.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub key: Option<String>,
}

impl Component {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            key: None,
        }
    }

    /// The member `key` of the dictionary field `name`.
    pub fn member(name: &str, key: &str) -> Self {
        Self {
            name: name.to_owned(),
            key: Some(key.to_owned()),
        }
    }

    /// A component identifier from `Signature-Input`: a lowercase string with at most a `key`.
    /// `sf`, `bs`, `req`, `tr` and `name` are refused: Web Bot Auth does not use them.
    fn from_item(item: &Item) -> Result<Self, BaseError> {
        let BareItem::String(name) = &item.bare else {
            return Err(BaseError::BadIdentifier(
                "a component identifier is a string",
            ));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(BaseError::BadIdentifier(
                "a component name is lowercase and not empty",
            ));
        }
        let mut key = None;
        for (k, v) in &item.params.0 {
            match (k.as_str(), v) {
                ("key", BareItem::String(member)) => key = Some(member.clone()),
                _ => return Err(BaseError::UnsupportedComponent(name.clone())),
            }
        }
        Ok(Self {
            name: name.clone(),
            key,
        })
    }

    fn to_item(&self) -> Item {
        let mut params = Params::default();
        if let Some(key) = &self.key {
            params.set("key", BareItem::String(key.clone()));
        }
        Item {
            bare: BareItem::String(self.name.clone()),
            params,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_item())
    }
}

/// One signature's parameters (RFC 9421 §2.3), kept with the inner list they came from so that
/// `@signature-params` is the exact serialisation the signer covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureParams {
    pub components: Vec<Component>,
    pub created: Option<i64>,
    pub expires: Option<i64>,
    pub keyid: Option<String>,
    pub alg: Option<String>,
    pub nonce: Option<String>,
    pub tag: Option<String>,
    list: InnerList,
}

impl SignatureParams {
    /// Builds parameters for signing, in the order `created`, `expires`, `keyid`, `alg`,
    /// `nonce`, `tag` (each only when given).
    pub fn new(components: Vec<Component>) -> Self {
        let list = InnerList {
            items: components.iter().map(Component::to_item).collect(),
            params: Params::default(),
        };
        Self {
            components,
            created: None,
            expires: None,
            keyid: None,
            alg: None,
            nonce: None,
            tag: None,
            list,
        }
    }

    pub fn created(mut self, at: i64) -> Self {
        self.created = Some(at);
        self.list.params.set("created", BareItem::Integer(at));
        self
    }

    pub fn expires(mut self, at: i64) -> Self {
        self.expires = Some(at);
        self.list.params.set("expires", BareItem::Integer(at));
        self
    }

    pub fn keyid(mut self, keyid: &str) -> Self {
        self.keyid = Some(keyid.to_owned());
        self.list
            .params
            .set("keyid", BareItem::String(keyid.to_owned()));
        self
    }

    pub fn alg(mut self, alg: &str) -> Self {
        self.alg = Some(alg.to_owned());
        self.list
            .params
            .set("alg", BareItem::String(alg.to_owned()));
        self
    }

    pub fn nonce(mut self, nonce: &str) -> Self {
        self.nonce = Some(nonce.to_owned());
        self.list
            .params
            .set("nonce", BareItem::String(nonce.to_owned()));
        self
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.to_owned());
        self.list
            .params
            .set("tag", BareItem::String(tag.to_owned()));
        self
    }

    /// Reads a `Signature-Input` member: an inner list of component identifiers with the
    /// parameters of §2.3, each of its type. Unknown parameters are kept (they are covered)
    /// but have no meaning here.
    pub fn from_member(member: &Member) -> Result<Self, BaseError> {
        let Member::InnerList(list) = member else {
            return Err(BaseError::BadParams(
                "a Signature-Input member is an inner list",
            ));
        };
        let mut components = Vec::with_capacity(list.items.len());
        for item in &list.items {
            let c = Component::from_item(item)?;
            if components.contains(&c) {
                return Err(BaseError::DuplicateComponent(c.to_string()));
            }
            components.push(c);
        }
        let mut p = Self {
            components,
            created: None,
            expires: None,
            keyid: None,
            alg: None,
            nonce: None,
            tag: None,
            list: list.clone(),
        };
        for (k, v) in &list.params.0 {
            match (k.as_str(), v) {
                ("created", BareItem::Integer(n)) => p.created = Some(*n),
                ("expires", BareItem::Integer(n)) => p.expires = Some(*n),
                ("keyid", BareItem::String(s)) => p.keyid = Some(s.clone()),
                ("alg", BareItem::String(s)) => p.alg = Some(s.clone()),
                ("nonce", BareItem::String(s)) => p.nonce = Some(s.clone()),
                ("tag", BareItem::String(s)) => p.tag = Some(s.clone()),
                ("created" | "expires", _) => {
                    return Err(BaseError::BadParams("created and expires are integers"))
                }
                ("keyid" | "alg" | "nonce" | "tag", _) => {
                    return Err(BaseError::BadParams(
                        "keyid, alg, nonce and tag are strings",
                    ))
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// The `@signature-params` value, also the `Signature-Input` member value.
    pub fn serialize(&self) -> String {
        self.list.to_string()
    }

    /// Whether the component identifier `name` (any `key`) is covered.
    pub fn covers(&self, name: &str) -> bool {
        self.components.iter().any(|c| c.name == name)
    }
}

/// Where component values come from: a whole request ([`super::message::HttpRequest`]) or the
/// values a site passed to the verification endpoint.
pub trait Components {
    /// The value of the derived component `name` (`@authority`, …), or `None` if unknown.
    fn derived(&self, name: &str) -> Result<Option<String>, BaseError>;
    /// The combined value of the field `name` (lowercase), or `None` if absent.
    fn field(&self, name: &str) -> Option<String>;
}

/// Why a signature base could not be computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseError {
    /// A component identifier is malformed.
    BadIdentifier(&'static str),
    /// A component parameter or derived component this implementation does not support.
    UnsupportedComponent(String),
    DuplicateComponent(String),
    /// A covered component has no value in the message.
    MissingComponent(String),
    /// A `key` names a field that is not a dictionary, or a member it does not have.
    BadDictionaryField(String),
    /// A signature parameter has the wrong type or the member is not an inner list.
    BadParams(&'static str),
    /// The target URI is not an absolute `scheme://authority/path?query` URI.
    BadUri,
}

impl fmt::Display for BaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaseError::BadIdentifier(why) | BaseError::BadParams(why) => f.write_str(why),
            BaseError::UnsupportedComponent(c) => write!(f, "unsupported component {c}"),
            BaseError::DuplicateComponent(c) => write!(f, "component {c} is covered twice"),
            BaseError::MissingComponent(c) => write!(f, "covered component {c} has no value"),
            BaseError::BadDictionaryField(c) => {
                write!(
                    f,
                    "covered component {c} is not a dictionary member of its field"
                )
            }
            BaseError::BadUri => f.write_str("target URI must be an absolute http(s) URI"),
        }
    }
}

impl std::error::Error for BaseError {}

/// RFC 9421 §2.5: one line per covered component, then `@signature-params`; lines end with
/// LF, the last one without.
pub fn signature_base(
    params: &SignatureParams,
    src: &(impl Components + ?Sized),
) -> Result<String, BaseError> {
    let mut base = String::new();
    for c in &params.components {
        let value = component_value(c, src)?;
        base.push_str(&c.to_string());
        base.push_str(": ");
        base.push_str(&value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(&params.serialize());
    Ok(base)
}

fn component_value(c: &Component, src: &(impl Components + ?Sized)) -> Result<String, BaseError> {
    let missing = || BaseError::MissingComponent(c.to_string());
    if c.name.starts_with('@') {
        if c.key.is_some() || c.name == "@signature-params" {
            return Err(BaseError::UnsupportedComponent(c.to_string()));
        }
        return src.derived(&c.name)?.ok_or_else(missing);
    }
    let value = src.field(&c.name).ok_or_else(missing)?;
    match &c.key {
        None => Ok(value),
        Some(key) => {
            let bad = || BaseError::BadDictionaryField(c.to_string());
            let dict = sf::parse_dictionary(&value).map_err(|_| bad())?;
            dict.get(key).map(ToString::to_string).ok_or_else(bad)
        }
    }
}
