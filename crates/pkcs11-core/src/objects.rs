//! The objects a JPKI token shows (fact sheet §1.3, §2.4): for each key a
//! private key, its certificate and public key with the same `CKA_ID`, and
//! the CA certificates; their attributes and template matching.

use cryptoki_sys::*;
use der::{Decode, Encode};

/// Which of the card's two key pairs (and PINs) a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 利用者証明用: the authentication key, its 4-digit PIN.
    Auth,
    /// 署名用: the signature key, its password; every signature needs the
    /// password (`CKA_ALWAYS_AUTHENTICATE`).
    Sign,
}

impl Role {
    /// The token label (OpenSC's, so existing configurations keep working).
    pub fn token_label(self) -> &'static str {
        match self {
            Role::Auth => "JPKI (User Authentication PIN)",
            Role::Sign => "JPKI (Digital Signature PIN)",
        }
    }

    /// The card's key.
    pub fn key(self) -> jpki::KeyType {
        match self {
            Role::Auth => jpki::KeyType::Auth,
            Role::Sign => jpki::KeyType::Sign,
        }
    }

    /// The PIN that logs in to this token.
    pub fn pin(self) -> jpki::PinId {
        match self {
            Role::Auth => jpki::PinId::Auth,
            Role::Sign => jpki::PinId::Sign,
        }
    }

    /// The PIN's length limits (`ulMinPinLen`, `ulMaxPinLen`).
    pub fn pin_len(self) -> (usize, usize) {
        match self {
            Role::Auth => (4, 4),
            Role::Sign => (6, 16),
        }
    }
}

/// What an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The token's private key.
    PrivateKey,
    /// The token's own certificate.
    Certificate,
    /// The public key, from the certificate.
    PublicKey,
    /// A CA certificate from the card (`CKA_TRUSTED`).
    CaCertificate(jpki::CertType),
}

/// The objects of a token, in handle order; the index is part of the handle.
pub fn layout(role: Role) -> &'static [Kind] {
    match role {
        Role::Auth => &[
            Kind::PrivateKey,
            Kind::Certificate,
            Kind::PublicKey,
            Kind::CaCertificate(jpki::CertType::AuthCa),
            Kind::CaCertificate(jpki::CertType::SignCa),
        ],
        Role::Sign => {
            &[Kind::PrivateKey, Kind::Certificate, Kind::PublicKey, Kind::CaCertificate(jpki::CertType::SignCa)]
        }
    }
}

/// An attribute's value as the object holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Bytes (labels, DER, big integers).
    Bytes(Vec<u8>),
    /// `CK_BBOOL`.
    Bool(bool),
    /// `CK_ULONG` (classes, types, sizes).
    Ulong(CK_ULONG),
    /// Exists but is never revealed (private key material).
    Sensitive,
}

impl Value {
    /// The bytes `C_GetAttributeValue` copies out, `None` when sensitive.
    pub fn encode(&self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) => Some(b.clone()),
            Value::Bool(b) => Some(vec![CK_BBOOL::from(*b)]),
            Value::Ulong(u) => Some(u.to_ne_bytes().to_vec()),
            Value::Sensitive => None,
        }
    }
}

/// An object's attributes, built from the card's certificates.
#[derive(Debug, Clone)]
pub struct Object {
    /// What it is.
    pub kind: Kind,
    /// Whether it is hidden until the token's PIN is verified.
    pub private: bool,
    attributes: Vec<(CK_ATTRIBUTE_TYPE, Value)>,
}

impl Object {
    /// The value of attribute `ty`, `None` when the object has no such
    /// attribute.
    pub fn get(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&Value> {
        self.attributes.iter().find(|(t, _)| *t == ty).map(|(_, v)| v)
    }

    /// Whether every `(type, bytes)` of a search template matches exactly
    /// (P11 "C_FindObjectsInit"); a sensitive attribute never matches.
    pub fn matches(&self, template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> bool {
        template.iter().all(|(ty, want)| self.get(*ty).and_then(Value::encode).is_some_and(|have| &have == want))
    }
}

/// The certificate's facts the objects repeat.
#[derive(Debug, Clone)]
pub struct CertFacts {
    der: Vec<u8>,
    /// The public key, parsed once, to check the card's signatures.
    pub key: pki::rsa::RsaPublicKey,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    serial: Vec<u8>,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl CertFacts {
    /// Parses a DER certificate with an RSA key.
    pub fn parse(der: &[u8]) -> Result<Self, String> {
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| format!("certificate: {e}"))?;
        let tbs = &cert.tbs_certificate;
        fn enc(v: &impl Encode) -> Result<Vec<u8>, String> {
            v.to_der().map_err(|e| e.to_string())
        }
        let spki = enc(&tbs.subject_public_key_info)?;
        let (modulus, exponent) = pki::rsa::public_numbers(&spki).map_err(|e| format!("RSA public key: {e}"))?;
        Ok(Self {
            der: der.to_vec(),
            key: pki::rsa::RsaPublicKey::from_spki(&spki).map_err(|e| format!("RSA public key: {e}"))?,
            subject: enc(&tbs.subject)?,
            issuer: enc(&tbs.issuer)?,
            serial: enc(&tbs.serial_number)?,
            modulus,
            exponent,
        })
    }

    /// The modulus length in bytes (the signature length).
    pub fn modulus_len(&self) -> usize {
        self.modulus.len()
    }
}

/// `CKA_ID` of the objects of a token, as OpenSC's emulation numbers them.
fn id_of(role: Role, kind: Kind) -> Vec<u8> {
    match kind {
        Kind::CaCertificate(jpki::CertType::AuthCa) => vec![0x03],
        Kind::CaCertificate(_) => vec![0x04],
        _ if role == Role::Auth => vec![0x01],
        _ => vec![0x02],
    }
}

fn label_of(role: Role, kind: Kind) -> &'static str {
    match (role, kind) {
        (Role::Auth, Kind::PrivateKey) => "User Authentication Key",
        (Role::Auth, Kind::Certificate) => "User Authentication Certificate",
        (Role::Auth, Kind::PublicKey) => "User Authentication Public Key",
        (Role::Sign, Kind::PrivateKey) => "Digital Signature Key",
        (Role::Sign, Kind::Certificate) => "Digital Signature Certificate",
        (Role::Sign, Kind::PublicKey) => "Digital Signature Public Key",
        (_, Kind::CaCertificate(jpki::CertType::AuthCa)) => "User Authentication Certificate CA",
        (_, Kind::CaCertificate(_)) => "Digital Signature Certificate CA",
    }
}

/// Builds an object. `private` says whether it is hidden before login;
/// `facts` is the certificate it comes from (its own for CA
/// certificates, the token's for the key objects).
pub fn build(role: Role, kind: Kind, private: bool, facts: &CertFacts) -> Object {
    use Value::*;
    let mut a: Vec<(CK_ATTRIBUTE_TYPE, Value)> = vec![
        (CKA_TOKEN, Bool(true)),
        (CKA_PRIVATE, Bool(private)),
        (CKA_MODIFIABLE, Bool(false)),
        (CKA_COPYABLE, Bool(false)),
        (CKA_DESTROYABLE, Bool(false)),
        (CKA_LABEL, Bytes(label_of(role, kind).as_bytes().to_vec())),
        (CKA_ID, Bytes(id_of(role, kind))),
    ];
    match kind {
        Kind::Certificate | Kind::CaCertificate(_) => {
            let ca = matches!(kind, Kind::CaCertificate(_));
            a.extend([
                (CKA_CLASS, Ulong(CKO_CERTIFICATE)),
                (CKA_CERTIFICATE_TYPE, Ulong(CKC_X_509)),
                (CKA_TRUSTED, Bool(ca)),
                (CKA_CERTIFICATE_CATEGORY, Ulong(if ca { 2 } else { 1 })),
                (CKA_VALUE, Bytes(facts.der.clone())),
                (CKA_SUBJECT, Bytes(facts.subject.clone())),
                (CKA_ISSUER, Bytes(facts.issuer.clone())),
                (CKA_SERIAL_NUMBER, Bytes(facts.serial.clone())),
            ]);
        }
        Kind::PublicKey => a.extend([
            (CKA_CLASS, Ulong(CKO_PUBLIC_KEY)),
            (CKA_KEY_TYPE, Ulong(CKK_RSA)),
            (CKA_SUBJECT, Bytes(facts.subject.clone())),
            (CKA_MODULUS, Bytes(facts.modulus.clone())),
            (CKA_MODULUS_BITS, Ulong(8 * facts.modulus.len() as CK_ULONG)),
            (CKA_PUBLIC_EXPONENT, Bytes(facts.exponent.clone())),
            (CKA_LOCAL, Bool(true)),
            (CKA_VERIFY, Bool(true)),
            (CKA_ENCRYPT, Bool(false)),
            (CKA_WRAP, Bool(false)),
            (CKA_VERIFY_RECOVER, Bool(false)),
            (CKA_DERIVE, Bool(false)),
        ]),
        Kind::PrivateKey => a.extend([
            (CKA_CLASS, Ulong(CKO_PRIVATE_KEY)),
            (CKA_KEY_TYPE, Ulong(CKK_RSA)),
            (CKA_SUBJECT, Bytes(facts.subject.clone())),
            (CKA_MODULUS, Bytes(facts.modulus.clone())),
            (CKA_MODULUS_BITS, Ulong(8 * facts.modulus.len() as CK_ULONG)),
            (CKA_PUBLIC_EXPONENT, Bytes(facts.exponent.clone())),
            (CKA_LOCAL, Bool(true)),
            (CKA_SIGN, Bool(true)),
            (CKA_SIGN_RECOVER, Bool(false)),
            (CKA_DECRYPT, Bool(false)),
            (CKA_UNWRAP, Bool(false)),
            (CKA_DERIVE, Bool(false)),
            (CKA_SENSITIVE, Bool(true)),
            (CKA_ALWAYS_SENSITIVE, Bool(true)),
            (CKA_EXTRACTABLE, Bool(false)),
            (CKA_NEVER_EXTRACTABLE, Bool(true)),
            (CKA_ALWAYS_AUTHENTICATE, Bool(role == Role::Sign)),
            (CKA_KEY_GEN_MECHANISM, Ulong(CK_UNAVAILABLE_INFORMATION)),
            (CKA_PRIVATE_EXPONENT, Sensitive),
            (CKA_PRIME_1, Sensitive),
            (CKA_PRIME_2, Sensitive),
            (CKA_EXPONENT_1, Sensitive),
            (CKA_EXPONENT_2, Sensitive),
            (CKA_COEFFICIENT, Sensitive),
        ]),
    }
    Object { kind, private, attributes: a }
}

/// One entry of a `C_GetAttributeValue` template after the core looked at
/// it: what the C layer copies out and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The value's bytes.
    Found(Vec<u8>),
    /// The attribute is sensitive (`CKR_ATTRIBUTE_SENSITIVE`).
    Sensitive,
    /// The object has no such attribute (`CKR_ATTRIBUTE_TYPE_INVALID`).
    Invalid,
}

impl Object {
    /// Looks one attribute up for `C_GetAttributeValue`.
    pub fn lookup(&self, ty: CK_ATTRIBUTE_TYPE) -> Lookup {
        match self.get(ty) {
            None => Lookup::Invalid,
            Some(v) => v.encode().map_or(Lookup::Sensitive, Lookup::Found),
        }
    }
}
