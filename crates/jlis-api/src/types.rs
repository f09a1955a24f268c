//! Request and answer bodies of the JPKI service's API (`openapi.json`),
//! derived once for the handlers and the client. Binary fields (DER) are
//! base64 on the wire.

use serde::{Deserialize, Serialize};

/// Which phone certificate (spec/jpki-profiles.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PhoneCertType {
    /// スマホ用利用者証明用電子証明書.
    Auth,
    /// スマホ用署名用電子証明書.
    Sign,
}

impl PhoneCertType {
    /// The CA that issues this type.
    pub fn ca(self) -> pki::CaKind {
        match self {
            PhoneCertType::Auth => pki::CaKind::Auth,
            PhoneCertType::Sign => pki::CaKind::Sign,
        }
    }

    /// `auth` or `sign`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneCertType::Auth => "auth",
            PhoneCertType::Sign => "sign",
        }
    }
}

/// `POST /v1/phone-certificates` (SP-TSM, mutual TLS): a phone
/// certificate for a key generated in an SE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneRequest {
    /// Unique per request (replay protection).
    pub request_id: String,
    /// The card's signature certificate that signed the application (DER).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub card_certificate: Vec<u8>,
    /// The holder's application, CMS SignedData (DER) made by that card,
    /// which the service checks itself.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub application: Vec<u8>,
    /// The key generated in the SE (DER SubjectPublicKeyInfo).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub phone_public_key: Vec<u8>,
    /// The SE identifier (hex).
    pub se_id: String,
    /// Auth or sign.
    pub cert_type: PhoneCertType,
    /// Device trust (docs/device-trust.md): the verifier's attestation
    /// result (EAR, a JWT signed ES256) for this phone and application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_result: Option<String>,
    /// Device trust: the SE's attestation of `phone_public_key` (DER
    /// certificates, leaf first), which the service checks itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "secret::b64_list")]
    #[schema(value_type = Vec<String>)]
    pub key_attestation: Vec<Vec<u8>>,
}

/// The answer to [`PhoneRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhoneCertificate {
    /// Serial (hex).
    pub serial: String,
    /// The certificate (DER).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub certificate: Vec<u8>,
    /// Its CA certificate (DER).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub ca_certificate: Vec<u8>,
    /// Phone certificates revoked because this one supersedes them.
    #[serde(default)]
    pub superseded: Vec<String>,
}

/// `POST /v1/card-certificates` (operator): certificates for a new card's
/// two keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardRequest {
    /// Unique per request.
    pub request_id: String,
    /// The holder's four attributes.
    pub holder: pki::Holder,
    /// Authentication key (DER SubjectPublicKeyInfo).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub auth_public_key: Vec<u8>,
    /// Signature key (DER SubjectPublicKeyInfo).
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub sign_public_key: Vec<u8>,
}

/// The answer to [`CardRequest`]: both certificates and their CAs (DER).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CardCertificates {
    /// The authentication certificate.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub auth_certificate: Vec<u8>,
    /// The signature certificate.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub sign_certificate: Vec<u8>,
    /// The authentication CA.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub auth_ca_certificate: Vec<u8>,
    /// The signature CA.
    #[serde(with = "b64")]
    #[schema(value_type = String, format = Byte)]
    pub sign_ca_certificate: Vec<u8>,
}

/// `POST /v1/phone-requests/cancel` (the SP-TSM that sent the request):
/// an attempt ended without the answer to this phone-certificate request
/// being recorded (the SP-TSM was killed, or the answer was lost). If the
/// request issued a certificate it is revoked; if it never arrived, its id
/// is spent so a late copy issues nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPhoneRequest {
    /// The id of the phone-certificate request to cancel.
    pub request_id: String,
}

/// The answer to [`CancelPhoneRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cancelled {
    /// The certificate the request had issued (now revoked), if it had.
    pub issued: Option<String>,
    /// What this call revoked (empty when it was revoked already, or when
    /// nothing was issued).
    pub revoked: Vec<String>,
}

/// `POST /v1/revocations` (operator, or the SP-TSM for a holder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Unique per request.
    pub request_id: String,
    /// The certificate (hex serial).
    pub serial: String,
    /// RFC 5280 reason.
    pub reason: pki::crl::Reason,
}

/// The answer to [`RevokeRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Revoked {
    /// Every serial revoked (the certificate and its cascade); empty while
    /// a second operator's approval is awaited.
    pub revoked: Vec<String>,
    /// Under dual control (`dual_control_key_compromise` in `jlis.toml`), a
    /// card certificate revoked for key compromise needs two operators: the
    /// first one's approval is recorded and named here, and nothing is
    /// revoked until another operator asks for the same revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting_second_operator: Option<String>,
}

/// `POST /v1/holds` and `POST /v1/releases` (operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SerialRequest {
    /// Unique per request.
    pub request_id: String,
    /// The certificate (hex serial).
    pub serial: String,
}

/// A certificate record, for operators (`GET /v1/certificates/{serial}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Record {
    /// Serial (hex).
    pub serial: String,
    /// `auth` or `sign`.
    pub ca: String,
    /// `card` or `phone`.
    pub kind: String,
    /// Subject.
    pub subject: String,
    /// `good`, `revoked` or `hold`.
    pub status: String,
    /// Revocation reason.
    pub reason: Option<String>,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// For a phone certificate: the card certificate and SE it is linked to;
    /// for a card certificate: the linked phone certificates.
    pub links: Vec<Link>,
}

/// A card ↔ phone link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Link {
    /// Card certificate serial.
    pub card_serial: String,
    /// Phone certificate serial.
    pub phone_serial: String,
    /// SE identifier.
    pub se_id: String,
    /// auth or sign.
    pub cert_type: String,
}

use secret::b64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_fields_are_base64_and_bad_base64_is_refused() {
        let issued = PhoneCertificate {
            serial: "0A".into(),
            certificate: vec![1, 2, 3],
            ca_certificate: vec![4],
            superseded: vec![],
        };
        let json = serde_json::to_value(&issued).unwrap();
        assert_eq!(json["certificate"], "AQID");
        assert_eq!(serde_json::from_value::<PhoneCertificate>(json).unwrap(), issued);
        let bad = serde_json::json!({ "serial": "0A", "certificate": "not base64!", "ca_certificate": "" });
        let e = serde_json::from_value::<PhoneCertificate>(bad).unwrap_err().to_string();
        assert!(e.contains("must be base64"), "{e}");
    }

    #[test]
    fn a_phone_request_refuses_unknown_fields() {
        let v = serde_json::json!({
            "request_id": "r", "card_certificate": "", "application": "", "phone_public_key": "",
            "se_id": "00", "cert_type": "auth", "extra": 1,
        });
        assert!(serde_json::from_value::<PhoneRequest>(v).is_err());
    }
}

/// The answer to `POST /v1/holds` and `POST /v1/releases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HoldChanged {
    /// The certificate (upper-case hex serial).
    pub serial: String,
    /// `hold` or `good`.
    pub status: String,
}

/// The answer to `GET /v1/secure-elements/{se_id}/links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeLinks {
    /// The SE's phone certificates and the card certificates they are linked to.
    pub links: Vec<Link>,
}
