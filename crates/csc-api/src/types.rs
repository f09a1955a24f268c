//! Requests and answers of each CSC method (spec/csc-sam.md §1.1–1.2).
//! Requests refuse unknown fields only where a typo would change meaning;
//! elsewhere the specification's optional fields are accepted and ignored.

use serde::{Deserialize, Serialize};

/// `info` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InfoResponse {
    /// The specification version served ("2.0.0.2").
    pub specs: String,
    /// The service's name.
    pub name: String,
    /// A logo URI.
    pub logo: String,
    /// ISO 3166 country.
    pub region: String,
    /// Language of the descriptions.
    pub lang: String,
    /// What the service is.
    pub description: String,
    /// How callers authenticate (`basic` for `auth/login`).
    pub auth_type: Vec<String>,
    /// The methods implemented.
    pub methods: Vec<String>,
    /// The signature algorithms offered.
    pub sign_algorithms: SignAlgorithms,
    /// The signature formats `signDoc` makes (`C`: CAdES/CMS).
    pub signature_formats: SignatureFormats,
    /// The conformance levels `signDoc` makes (`AdES-B-B`).
    pub conformance_levels: Vec<String>,
}

/// `info.signAlgorithms`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignAlgorithms {
    /// Signature algorithm OIDs.
    pub algos: Vec<String>,
}

/// `info.signature_formats`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignatureFormats {
    /// `C` (CAdES).
    pub formats: Vec<String>,
    /// For each format, the envelope properties (`Detached`).
    pub envelope_properties: Vec<Vec<String>>,
}

/// `auth/login` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// The bearer token.
    pub access_token: String,
    /// Seconds it lives.
    pub expires_in: u64,
}

/// `auth/login` request (the signer's name and password come in the
/// `Authorization: Basic` header).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// Ignored: no refresh tokens are issued.
    #[serde(default)]
    pub remember_me: Option<bool>,
    /// Correlation data, echoed nowhere.
    #[serde(default)]
    pub client_data: Option<String>,
}

/// `auth/revoke` request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RevokeRequest {
    /// The token to revoke.
    pub token: String,
    /// `access_token`.
    #[serde(default)]
    pub token_type_hint: Option<String>,
    /// Correlation data.
    #[serde(default, rename = "clientData")]
    pub client_data: Option<String>,
}

/// `credentials/list` request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListRequest {
    /// Must be absent: the list is the caller's own.
    #[serde(default, rename = "userID")]
    pub user_id: Option<String>,
    /// Return each credential's info too.
    #[serde(default)]
    pub credential_info: Option<bool>,
    /// `none`, `single` or `chain`.
    #[serde(default)]
    pub certificates: Option<String>,
    /// Certificate details.
    #[serde(default)]
    pub cert_info: Option<bool>,
    /// Authorisation details.
    #[serde(default)]
    pub auth_info: Option<bool>,
    /// Only credentials whose key is enabled and certificate valid.
    #[serde(default)]
    pub only_valid: Option<bool>,
    /// v1 paging: accepted, everything fits one page.
    #[serde(default)]
    pub max_results: Option<u32>,
    /// Correlation data.
    #[serde(default)]
    pub client_data: Option<String>,
}

/// `credentials/list` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    /// The caller's credentials.
    #[serde(rename = "credentialIDs")]
    pub credential_ids: Vec<String>,
    /// Their info, when asked.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub credential_infos: Option<Vec<CredentialInfo>>,
}

/// `credentials/info` request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InfoRequest {
    /// The credential.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// `none`, `single` (default) or `chain`.
    #[serde(default)]
    pub certificates: Option<String>,
    /// Certificate details.
    #[serde(default)]
    pub cert_info: Option<bool>,
    /// Authorisation details.
    #[serde(default)]
    pub auth_info: Option<bool>,
    /// Correlation data.
    #[serde(default)]
    pub client_data: Option<String>,
}

/// One credential (spec/csc-sam.md §1.2), v2 fields with the v1
/// `authMode`/`PIN`/`OTP` beside them for v1 clients.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialInfo {
    /// Set in `credentialInfos` entries.
    #[serde(rename = "credentialID", skip_serializing_if = "Option::is_none", default)]
    pub credential_id: Option<String>,
    /// What the credential is.
    pub description: String,
    /// The key.
    pub key: KeyInfo,
    /// The certificate.
    pub cert: CertInfo,
    /// v2 authorisation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth: Option<AuthInfo>,
    /// v1: `explicit`.
    pub auth_mode: String,
    /// v1: the PIN object.
    #[serde(rename = "PIN", skip_serializing_if = "Option::is_none", default)]
    pub pin: Option<PinInfo>,
    /// v1: the OTP object.
    #[serde(rename = "OTP", skip_serializing_if = "Option::is_none", default)]
    pub otp: Option<OtpInfo>,
    /// "1" or "2".
    #[serde(rename = "SCAL")]
    pub scal: String,
    /// The most signatures one authorisation may cover.
    pub multisign: u32,
    /// Language.
    pub lang: String,
}

/// `key`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyInfo {
    /// `enabled` or `disabled`.
    pub status: String,
    /// Signature algorithm OIDs.
    pub algo: Vec<String>,
    /// Key length in bits.
    pub len: u32,
}

/// `cert`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertInfo {
    /// `valid`, `expired`, `revoked` or `suspended`.
    pub status: String,
    /// Base64 DER, the signer's certificate first.
    pub certificates: Vec<String>,
    /// RFC 4514 issuer.
    #[serde(rename = "issuerDN", skip_serializing_if = "Option::is_none", default)]
    pub issuer_dn: Option<String>,
    /// RFC 4514 subject.
    #[serde(rename = "subjectDN", skip_serializing_if = "Option::is_none", default)]
    pub subject_dn: Option<String>,
    /// Hex serial number.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub serial_number: Option<String>,
    /// `YYYYMMDDHHmmssZ`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_from: Option<String>,
    /// `YYYYMMDDHHmmssZ`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_to: Option<String>,
}

/// v2 `auth`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthInfo {
    /// `explicit`.
    pub mode: String,
    /// e.g. `PIN AND OTP`.
    pub expression: String,
    /// The factors.
    pub objects: Vec<AuthObject>,
}

/// One factor of v2 `auth.objects`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthObject {
    /// `Password` or `ChallengeResponse`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The id `authData` answers with (`PIN`, `OTP`, `PHONE`).
    pub id: String,
    /// `A` (alphanumeric) or `N`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub format: Option<String>,
    /// `totp`, or `jpki-phone` for the phone's signature.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub generator: Option<String>,
    /// What to show the signer.
    pub label: String,
    /// What it is.
    pub description: String,
}

/// v1 `PIN`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PinInfo {
    /// `true`.
    pub presence: String,
    /// `A`.
    pub format: String,
    /// What to show.
    pub label: String,
}

/// v1 `OTP`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OtpInfo {
    /// `true`.
    pub presence: String,
    /// `offline` (TOTP).
    #[serde(rename = "type")]
    pub kind: String,
    /// `N`.
    pub format: String,
    /// What to show.
    pub label: String,
}

/// One `authData` entry (v2).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthDatum {
    /// The factor's id (`PIN`, `OTP`, `PHONE`).
    pub id: String,
    /// Its value.
    pub value: String,
}

/// `credentials/authorize` request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeRequest {
    /// The credential.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// How many signatures the SAD covers.
    pub num_signatures: u32,
    /// The hashes (base64) the SAD covers (v1: `hash`).
    #[serde(default, alias = "hash")]
    pub hashes: Option<Vec<String>>,
    /// Their algorithm (v1 clients send none: SHA-256 is then taken from the hash length).
    #[serde(rename = "hashAlgorithmOID", alias = "hashAlgo", default)]
    pub hash_algorithm_oid: Option<String>,
    /// v2 factors.
    #[serde(default)]
    pub auth_data: Option<Vec<AuthDatum>>,
    /// v1 PIN.
    #[serde(rename = "PIN", default)]
    pub pin: Option<String>,
    /// v1 OTP.
    #[serde(rename = "OTP", default)]
    pub otp: Option<String>,
    /// What the signer is told (≤ 500 characters).
    #[serde(default)]
    pub description: Option<String>,
    /// Correlation data.
    #[serde(default)]
    pub client_data: Option<String>,
}

/// `credentials/authorize` and `credentials/extendTransaction` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SadResponse {
    /// The signature activation data.
    #[serde(rename = "SAD")]
    pub sad: String,
    /// Seconds it lives.
    pub expires_in: u64,
}

/// `credentials/extendTransaction` request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtendRequest {
    /// The credential.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// The current SAD (given up in exchange).
    #[serde(rename = "SAD")]
    pub sad: String,
    /// SCAL2: the hashes the new SAD covers (v1: `hash`).
    #[serde(default, alias = "hash")]
    pub hashes: Option<Vec<String>>,
    /// Their algorithm.
    #[serde(rename = "hashAlgorithmOID", alias = "hashAlgo", default)]
    pub hash_algorithm_oid: Option<String>,
    /// Correlation data.
    #[serde(default)]
    pub client_data: Option<String>,
}

/// `credentials/getChallenge` request: the nonce the phone signs for the
/// `PHONE` factor.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeRequest {
    /// The credential.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// `PHONE`.
    #[serde(rename = "authObjectID")]
    pub auth_object_id: String,
}

/// `credentials/getChallenge` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResponse {
    /// Base64 nonce.
    pub challenge: String,
    /// Seconds it lives.
    pub expires_in: u64,
}

/// `signatures/signHash` request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignHashRequest {
    /// The credential.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// The SAD.
    #[serde(rename = "SAD", default)]
    pub sad: Option<String>,
    /// The hashes (base64; v1: `hash`).
    #[serde(default, alias = "hash")]
    pub hashes: Option<Vec<String>>,
    /// Their algorithm (v1: `hashAlgo`).
    #[serde(rename = "hashAlgorithmOID", alias = "hashAlgo", default)]
    pub hash_algorithm_oid: Option<String>,
    /// The signature algorithm OID.
    #[serde(default)]
    pub sign_algo: Option<String>,
    /// Its parameters (base64 DER): refused, PKCS#1 v1.5 has none.
    #[serde(default)]
    pub sign_algo_params: Option<String>,
    /// `S` only.
    #[serde(default)]
    pub operation_mode: Option<String>,
    /// Correlation data.
    #[serde(default)]
    pub client_data: Option<String>,
}

/// `signatures/signHash` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignHashResponse {
    /// Base64 signatures, in the order of the hashes.
    pub signatures: Vec<String>,
}

/// `signatures/signDoc` request (the `documents` form: CAdES detached).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignDocRequest {
    /// The credential.
    #[serde(rename = "credentialID", default)]
    pub credential_id: Option<String>,
    /// Refused: credentials are named by id.
    #[serde(default)]
    pub signature_qualifier: Option<String>,
    /// The SAD.
    #[serde(rename = "SAD", default)]
    pub sad: Option<String>,
    /// Documents to sign.
    #[serde(default)]
    pub documents: Option<Vec<DocumentToSign>>,
    /// Digests of documents (not served: the SAM must see what it signs
    /// to build the signed attributes).
    #[serde(default)]
    pub document_digests: Option<serde_json::Value>,
    /// `S` only.
    #[serde(default)]
    pub operation_mode: Option<String>,
    /// Correlation data.
    #[serde(default)]
    pub client_data: Option<String>,
}

/// One document of `signDoc`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentToSign {
    /// Base64 content.
    pub document: String,
    /// `C` (CAdES).
    #[serde(rename = "signature_format")]
    pub signature_format: String,
    /// `AdES-B-B` (or `Ades-B`).
    #[serde(default, rename = "conformance_level")]
    pub conformance_level: Option<String>,
    /// The signature algorithm OID.
    pub sign_algo: String,
    /// `Detached` (default).
    #[serde(default, rename = "signed_envelope_property")]
    pub signed_envelope_property: Option<String>,
}

/// `signatures/signDoc` answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SignDocResponse {
    /// One detached CMS (base64 DER) per document.
    pub signature_object: Vec<String>,
}
