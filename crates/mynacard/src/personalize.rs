//! Building a card's initial state from keys, certificates and the holder's
//! data (what a municipal office's issuing system writes into a new card).

use crate::pin::{PinId, PinState};
use crate::state::{CardState, JpkiState, TextState, FORMAT, TOKEN_CARD};
use crate::Secret;
use pki::{Holder, RsaPrivateKey};

/// What goes into a new card.
#[derive(Debug)]
pub struct CardContents<'a> {
    /// The holder's basic four attributes and my number.
    pub holder: &'a Holder,
    /// 12-digit my number.
    pub my_number: &'a str,
    /// User-authentication key (EF 0017).
    pub auth_key: &'a RsaPrivateKey,
    /// Signature key (EF 001A).
    pub sign_key: &'a RsaPrivateKey,
    /// DER certificates: auth, auth CA, sign, sign CA.
    pub auth_cert: Vec<u8>,
    /// Auth CA certificate (EF 000B).
    pub auth_ca_cert: Vec<u8>,
    /// Signature certificate (EF 0001).
    pub sign_cert: Vec<u8>,
    /// Signature CA certificate (EF 0002).
    pub sign_ca_cert: Vec<u8>,
    /// Initial PINs, already normalized.
    pub auth_pin: Secret,
    /// Signature password.
    pub sign_pin: Secret,
    /// Text-AP PIN.
    pub text_pin: Secret,
}

/// Builds a card state; checks the my number and the PIN formats.
pub fn card_state(c: CardContents<'_>) -> Result<CardState, String> {
    check_my_number(c.my_number)?;
    for (id, pin) in [(PinId::Auth, &c.auth_pin), (PinId::Sign, &c.sign_pin), (PinId::Text, &c.text_pin)] {
        let text = std::str::from_utf8(pin.expose()).map_err(|_| "PIN is not ASCII".to_string())?;
        id.normalize(text)?;
    }
    let key_id = pki::HashAlg::Sha256.digest(&c.auth_key.public_key_der())[..16].to_vec();
    Ok(CardState {
        format: FORMAT.into(),
        jpki: JpkiState {
            token: TOKEN_CARD.into(),
            auth_cert_needs_pin: false,
            auth_cert: c.auth_cert,
            auth_ca_cert: c.auth_ca_cert,
            sign_cert: c.sign_cert,
            sign_ca_cert: c.sign_ca_cert,
            auth_key: Secret::new(c.auth_key.to_pkcs8_der().to_vec()),
            sign_key: Secret::new(c.sign_key.to_pkcs8_der().to_vec()),
            auth_pin: PinState::new(PinId::Auth, c.auth_pin),
            sign_pin: PinState::new(PinId::Sign, c.sign_pin),
        },
        text: Some(TextState {
            my_number: Secret::new(c.my_number.as_bytes().to_vec()),
            name: c.holder.name.clone(),
            address: c.holder.address.clone(),
            birth: c.holder.birth.clone(),
            sex: c.holder.sex.code().to_string(),
            pin: PinState::new(PinId::Text, c.text_pin),
            ap_info: vec![0x01, 0x00, 0x00, 0x01],
            key_id,
        }),
    })
}

/// The check digit of an 11-digit my-number body (個人番号の検査用数字,
/// 総務省令第85号 §5): Σ Pn·Qn over the digits from the right, Qn = n + 1 for
/// n ≤ 6 and n − 5 above; 0 if the remainder mod 11 is ≤ 1, else 11 − it.
pub fn my_number_check_digit(body: &[u8; 11]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let n = i as u32 + 1;
            let q = if n <= 6 { n + 1 } else { n - 5 };
            u32::from(d - b'0') * q
        })
        .sum();
    let r = sum % 11;
    if r <= 1 {
        0
    } else {
        (11 - r) as u8
    }
}

/// Checks a my number: 12 digits with a valid check digit.
pub fn check_my_number(n: &str) -> Result<(), String> {
    let bytes = n.as_bytes();
    if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err("the my number must be 12 digits".into());
    }
    let body: [u8; 11] = bytes[..11].try_into().expect("11 digits");
    if my_number_check_digit(&body) != bytes[11] - b'0' {
        return Err("the my number's last digit is not its check digit".into());
    }
    Ok(())
}

/// Completes an 11-digit body with its check digit.
pub fn my_number_from_body(body: &[u8; 11]) -> String {
    let mut s = String::from_utf8_lossy(body).into_owned();
    s.push(char::from(b'0' + my_number_check_digit(body)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_examples() {
        // The Digital Agency's published sample number 1234 5678 9018.
        assert_eq!(my_number_check_digit(b"12345678901"), 8);
        assert!(check_my_number("123456789018").is_ok());
        assert!(check_my_number("123456789012").is_err());
        assert!(check_my_number("12345678901").is_err());
        assert_eq!(my_number_from_body(b"00000000000"), "000000000000");
    }
}

/// The PINs a new card is issued with.
#[derive(Debug, Clone)]
pub struct InitialPins {
    /// 4 digits.
    pub auth: Secret,
    /// 6–16 of A–Z, 0–9 (already upper-cased).
    pub sign: Secret,
    /// 4 digits.
    pub text: Secret,
}

impl InitialPins {
    /// The PINs of J-LIS test cards: auth `1234`, sign `ABC123`, text `1234`
    /// (jpki-profiles.md §2.1).
    pub fn test_card() -> Self {
        Self { auth: Secret::new(*b"1234"), sign: Secret::new(*b"ABC123"), text: Secret::new(*b"1234") }
    }
}

/// Why a card could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PersonalizeError {
    /// A field is invalid; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// Key generation failed.
    #[error(transparent)]
    Rsa(#[from] pki::RsaError),
    /// The CA failed.
    #[error(transparent)]
    Ca(#[from] pki::ca::CaError),
    /// DER encoding failed.
    #[error("DER: {0}")]
    Der(String),
    /// The remote issuer (the JPKI service) refused or failed.
    #[error("issuer: {0}")]
    Issuer(String),
}

/// Makes a new card: generates the two RSA-2048 key pairs, has the local CA
/// issue both certificates, and lays out the card's files.
pub fn new_card(
    ca: &pki::ca::LocalCa,
    holder: &Holder,
    my_number: &str,
    pins: InitialPins,
) -> Result<CardState, PersonalizeError> {
    use der::Encode;
    use pki::CaKind;
    let der = |c: pki::Certificate| c.to_der().map_err(|e| PersonalizeError::Der(e.to_string()));
    new_card_issued_by(holder, my_number, pins, |auth_spki, sign_spki| {
        Ok(IssuedCertificates {
            auth_cert: der(ca.issue_card_certificate(CaKind::Auth, auth_spki, holder)?)?,
            auth_ca_cert: ca.ca(CaKind::Auth).cert_der.clone(),
            sign_cert: der(ca.issue_card_certificate(CaKind::Sign, sign_spki, holder)?)?,
            sign_ca_cert: ca.ca(CaKind::Sign).cert_der.clone(),
        })
    })
}

/// The two certificates of a card and their CAs (DER), as an issuer returns
/// them.
#[derive(Debug, Clone)]
pub struct IssuedCertificates {
    /// User-authentication certificate.
    pub auth_cert: Vec<u8>,
    /// Its CA.
    pub auth_ca_cert: Vec<u8>,
    /// Signature certificate.
    pub sign_cert: Vec<u8>,
    /// Its CA.
    pub sign_ca_cert: Vec<u8>,
}

/// Personalizes a card whose certificates come from `issue`, given the two
/// public keys (DER SubjectPublicKeyInfo, auth then sign) generated for the
/// card — the municipal office's path through the JPKI service. Each
/// certificate must carry the key it was asked for.
pub fn new_card_issued_by(
    holder: &Holder,
    my_number: &str,
    pins: InitialPins,
    issue: impl FnOnce(&[u8], &[u8]) -> Result<IssuedCertificates, PersonalizeError>,
) -> Result<CardState, PersonalizeError> {
    holder.validate().map_err(PersonalizeError::Invalid)?;
    check_my_number(my_number).map_err(PersonalizeError::Invalid)?;
    let auth_key = RsaPrivateKey::generate_2048()?;
    let sign_key = RsaPrivateKey::generate_2048()?;
    let issued = issue(&auth_key.public_key_der(), &sign_key.public_key_der())?;
    for (cert, key, what) in
        [(&issued.auth_cert, &auth_key, "authentication"), (&issued.sign_cert, &sign_key, "signature")]
    {
        let parsed = <pki::Certificate as der::Decode>::from_der(cert)
            .map_err(|e| PersonalizeError::Der(format!("{what} certificate: {e}")))?;
        let spki = pki::cert::public_key_der(&parsed).map_err(|e| PersonalizeError::Der(e.to_string()))?;
        if spki != key.public_key_der() {
            return Err(PersonalizeError::Invalid(format!("the {what} certificate does not carry the card's key")));
        }
    }
    card_state(CardContents {
        holder,
        my_number,
        auth_key: &auth_key,
        sign_key: &sign_key,
        auth_cert: issued.auth_cert,
        auth_ca_cert: issued.auth_ca_cert,
        sign_cert: issued.sign_cert,
        sign_ca_cert: issued.sign_ca_cert,
        auth_pin: pins.auth,
        sign_pin: pins.sign,
        text_pin: pins.text,
    })
    .map_err(PersonalizeError::Invalid)
}
