//! The HTTPS API, built by [`router`]:
//!
//! - the CSC API v2 under `/csc/v2/` and the same methods under `/csc/v1/`
//!   (v1 JSON names accepted on both, as pyHanko sends them; spec/csc-sam.md
//!   §3.1): `info` (GET or POST), `auth/login` (HTTP Basic: signer id and
//!   password), `auth/revoke`, `credentials/list|info|authorize|
//!   extendTransaction|getChallenge`, `signatures/signHash|signDoc`.
//!   Everything but `info` and `auth/login` takes a signer's bearer token.
//! - the RSSP's own: `POST /rssp/v1/nonces`, `POST /rssp/v1/register`,
//!   `POST /rssp/v1/instructions` (the signer's card-signed state changes),
//!   `GET /rssp/v1/ca.pem`;
//! - privileged users (bearer token of an administrator or auditor):
//!   `POST /rssp/v1/admin/credentials/{id}/{unlock|suspend|resume|delete}`,
//!   `GET /rssp/v1/admin/audit`.
//!
//! Every error is the CSC error body `{"error", "error_description"}`.

use crate::error::RsspError;
use crate::instruction::Purpose;
use crate::privileged::PrivilegedUsers;
use crate::sam::{AdminAction, AuthorizeInput, Caller, Factors, Privileged, Role, Sam};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csc_api::error::Code;
use csc_api::types::*;
use csc_api::{oid, ErrorBody};
use pki::HashAlg;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The handlers' state.
#[derive(Debug)]
pub struct AppState {
    /// The SAM.
    pub sam: Sam,
    /// Administrators and auditors.
    pub privileged: PrivilegedUsers,
}

/// The largest request: `signDoc` with documents (base64) inside.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

impl IntoResponse for RsspError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.0.body())).into_response();
        if matches!(self.code(), Code::InvalidToken | Code::ExpiredToken) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// JSON whose rejection is a CSC `invalid_request` naming the problem.
pub struct CscJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for CscJson<T> {
    type Rejection = RsspError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(CscJson(v)),
            Err(JsonRejection::BytesRejection(_)) => {
                Err(RsspError::new(Code::TooLarge, "the request body is too large"))
            }
            Err(e) => Err(RsspError::invalid(format!("malformed request: {}", e.body_text()))),
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = RsspError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| {
            RsspError::new(Code::InvalidToken, "no bearer token: log in with auth/login and send Authorization: Bearer")
        })?;
        if let Some(p) = state.privileged.find(token) {
            return Err(RsspError::denied(format!(
                "{} is a privileged user ({:?}): privileged users never sign nor authorise signatures",
                p.name, p.role
            )));
        }
        // Looked up once per request, by `record_actor`.
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        state.sam.caller(token).await
    }
}

impl FromRequestParts<Arc<AppState>> for Privileged {
    type Rejection = RsspError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        bearer(parts)
            .and_then(|t| state.privileged.find(t))
            .ok_or_else(|| RsspError::denied("this route is for administrators and auditors: send their bearer token"))
    }
}

fn decode_b64(values: &[String], what: &str) -> Result<Vec<Vec<u8>>, RsspError> {
    values
        .iter()
        .map(|v| B64.decode(v).map_err(|_| RsspError::invalid(format!("Invalid Base64 {what} string parameter"))))
        .collect()
}

/// The hash algorithm of a request: the OID given, or the one `signAlgo`
/// implies, or (v1 clients that send neither) SHA-256 for 32-byte hashes.
fn hash_alg(oid_given: Option<&str>, sign_algo: Option<&str>, first_len: Option<usize>) -> Result<HashAlg, RsspError> {
    let implied = sign_algo.and_then(oid::hash_of_sign_algo);
    let chosen = match (oid_given, implied) {
        (Some(a), Some(b)) if a != b => return Err(RsspError::invalid("hashAlgorithmOID contradicts signAlgo")),
        (Some(a), _) => a.to_string(),
        (None, Some(b)) => b.to_string(),
        (None, None) => match first_len {
            Some(32) | None => oid::SHA256.to_string(),
            Some(_) => return Err(RsspError::invalid("Missing (or invalid type) string parameter hashAlgorithmOID")),
        },
    };
    if oid::digest_len(&chosen).is_none() {
        return Err(RsspError::invalid(format!(
            "Invalid parameter hashAlgorithmOID: {chosen} (SHA-256, SHA-384 or SHA-512)"
        )));
    }
    chosen
        .parse()
        .ok()
        .and_then(|o| HashAlg::from_oid(&o))
        .ok_or_else(|| RsspError::invalid("Invalid parameter hashAlgorithmOID"))
}

/// Builds the router.
pub fn router(state: Arc<AppState>) -> Router {
    let mut r = Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/rssp/v1/ca.pem", get(ca_pem))
        .route("/rssp/v1/nonces", post(nonce))
        .route("/rssp/v1/register", post(register))
        .route("/rssp/v1/instructions", post(instruction))
        .route("/rssp/v1/admin/credentials/{id}/{action}", post(admin_action))
        .route("/rssp/v1/admin/audit", get(admin_audit));
    for v in ["v1", "v2"] {
        r = r
            .route(&format!("/csc/{v}/info"), get(info).post(info))
            .route(&format!("/csc/{v}/auth/login"), post(login))
            .route(&format!("/csc/{v}/auth/revoke"), post(revoke))
            .route(&format!("/csc/{v}/credentials/list"), post(list))
            .route(&format!("/csc/{v}/credentials/info"), post(credential_info))
            .route(&format!("/csc/{v}/credentials/authorize"), post(authorize))
            .route(&format!("/csc/{v}/credentials/extendTransaction"), post(extend))
            .route(&format!("/csc/{v}/credentials/getChallenge"), post(challenge))
            .route(&format!("/csc/{v}/signatures/signHash"), post(sign_hash))
            .route(&format!("/csc/{v}/signatures/signDoc"), post(sign_doc));
    }
    r.fallback(|| async { RsspError::new(Code::NotImplemented, "no such method") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record_actor))
        .with_state(state)
}

/// Makes the caller the audit log's actor for the request.
async fn record_actor(State(state): State<Arc<AppState>>, request: Request, next: axum::middleware::Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let token = bearer(&parts).map(str::to_string);
    let http_request = parts.extensions.get::<svc::RequestId>().map(|r| r.0.clone());
    let mut actor = crate::audit::Actor { role: "anonymous", name: None, http_request };
    if let Some(t) = token {
        if let Some(p) = state.privileged.find(&t) {
            actor.role = if p.role == Role::Administrator { "administrator" } else { "auditor" };
            actor.name = Some(p.name);
        } else if let Ok(c) = state.sam.caller(&t).await {
            actor.role = "signer";
            actor.name = Some(c.signer_id.clone());
            parts.extensions.insert(c);
        }
    }
    let request = Request::from_parts(parts, body);
    crate::audit::ACTOR.scope(actor, next.run(request)).await
}

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "the store answers"), (status = 503, description = "it does not", body = ErrorBody)))]
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.sam.store().ping().await {
        Ok(()) => "ok".into_response(),
        Err(e) => RsspError::new(Code::Unavailable, format!("the store does not answer: {e}")).into_response(),
    }
}

#[utoipa::path(get, path = "/rssp/v1/ca.pem", tag = "rssp", description = "The RSSP CA certificate (PEM): the trust anchor of the credentials' certificates.", responses((status = 200, description = "PEM", content_type = "application/x-pem-file")))]
async fn ca_pem(State(state): State<Arc<AppState>>) -> Response {
    match pki::cert::to_pem(state.sam.ca_certificate()) {
        Ok(pem) => ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response(),
        Err(e) => RsspError::internal(e).into_response(),
    }
}

/// `info` (GET or POST).
#[utoipa::path(post, path = "/csc/v2/info", tag = "csc", description = "The service and the methods it implements (also GET, and under /csc/v1/).", responses((status = 200, body = InfoResponse)))]
async fn info(State(state): State<Arc<AppState>>) -> Json<InfoResponse> {
    let methods = [
        "auth/login",
        "auth/revoke",
        "credentials/list",
        "credentials/info",
        "credentials/authorize",
        "credentials/extendTransaction",
        "credentials/getChallenge",
        "signatures/signHash",
        "signatures/signDoc",
    ];
    Json(InfoResponse {
        specs: "2.0.0.2".into(),
        name: state.sam.policy().service_name.clone(),
        logo: String::new(),
        region: "JP".into(),
        lang: "en-US".into(),
        description: format!(
            "openjpki remote signing: signers registered with the My Number card; keys in a {} crypto module",
            state.sam.cm_kind()
        ),
        auth_type: vec!["basic".into()],
        methods: methods.iter().map(|m| m.to_string()).collect(),
        sign_algorithms: SignAlgorithms { algos: oid::RSA_ALGOS.iter().map(|s| s.to_string()).collect() },
        signature_formats: SignatureFormats {
            formats: vec!["C".into()],
            envelope_properties: vec![vec!["Detached".into()]],
        },
        conformance_levels: vec!["AdES-B-B".into()],
    })
}

/// `auth/login`: HTTP Basic with the signer id and password.
#[utoipa::path(post, path = "/csc/v2/auth/login", tag = "csc", description = "HTTP Basic (signer id : password) gives a bearer token. Wrong passwords are counted; the login locks after max_failures.", request_body = LoginRequest, responses((status = 200, body = LoginResponse), (status = 400, body = ErrorBody)))]
async fn login(State(state): State<Arc<AppState>>, request: Request) -> Result<Json<LoginResponse>, RsspError> {
    let basic = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(|| RsspError::invalid("Malformed authentication parameter: send Authorization: Basic"))?;
    let decoded =
        Zeroizing::new(B64.decode(basic.trim()).map_err(|_| RsspError::invalid("Malformed authentication parameter"))?);
    let text = std::str::from_utf8(&decoded).map_err(|_| RsspError::invalid("Malformed username-password"))?;
    let (user, password) = text.split_once(':').ok_or_else(|| RsspError::invalid("Malformed username-password"))?;
    let (token, ttl) = state.sam.login(user, Zeroizing::new(password.to_string())).await?;
    Ok(Json(LoginResponse { access_token: token, expires_in: ttl }))
}

#[utoipa::path(post, path = "/csc/v2/auth/revoke", tag = "csc", request_body = RevokeRequest, security(("signer" = [])), responses((status = 204), (status = 400, body = ErrorBody)))]
async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    CscJson(r): CscJson<RevokeRequest>,
) -> Result<StatusCode, RsspError> {
    if r.token_type_hint.as_deref().is_some_and(|h| h != "access_token") {
        return Err(RsspError::invalid("Invalid parameter token_type_hint: only access tokens are issued"));
    }
    state.sam.revoke_token(&caller, &r.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn certificates_param(v: Option<&str>) -> Result<&'static str, RsspError> {
    match v.unwrap_or("single") {
        "none" => Ok("none"),
        "single" => Ok("single"),
        "chain" => Ok("chain"),
        _ => Err(RsspError::invalid("Invalid parameter certificates")),
    }
}

fn time_string(t: &x509_cert::time::Time) -> String {
    let d = t.to_date_time();
    format!("{:04}{:02}{:02}{:02}{:02}{:02}Z", d.year(), d.month(), d.day(), d.hour(), d.minutes(), d.seconds())
}

fn describe(
    state: &AppState,
    c: &crate::records::Credential,
    certificates: &str,
    cert_info: bool,
) -> Result<CredentialInfo, RsspError> {
    use der::{Decode, Encode};
    let cert = pki::Certificate::from_der(&c.certificate).map_err(RsspError::internal)?;
    let mut certs = vec![];
    if certificates != "none" {
        certs.push(B64.encode(&c.certificate));
    }
    if certificates == "chain" {
        for ca in state.sam.chain() {
            certs.push(B64.encode(ca.to_der().map_err(RsspError::internal)?));
        }
    }
    let expired = pki::chain::check_validity(&cert, std::time::SystemTime::now()).is_err();
    let status = match c.status {
        crate::records::Status::Enabled if expired => "expired",
        crate::records::Status::Enabled => "valid",
        crate::records::Status::Suspended => "suspended",
        crate::records::Status::Deleted => "revoked",
    };
    let tbs = &cert.tbs_certificate;
    let mut objects = vec![AuthObject {
        kind: "Password".into(),
        id: "PIN".into(),
        format: Some("A".into()),
        generator: None,
        label: "Password".into(),
        description: "The password chosen at registration".into(),
    }];
    let (expression, otp) = match c.factor {
        crate::records::Factor::Password => ("PIN", None),
        crate::records::Factor::Totp => {
            objects.push(AuthObject {
                kind: "Password".into(),
                id: "OTP".into(),
                format: Some("N".into()),
                generator: Some("totp".into()),
                label: "One-time password".into(),
                description: "The 6-digit TOTP of the key given at registration".into(),
            });
            (
                "PIN AND OTP",
                Some(OtpInfo {
                    presence: "true".into(),
                    kind: "offline".into(),
                    format: "N".into(),
                    label: "One-time password".into(),
                }),
            )
        }
        crate::records::Factor::Phone => {
            objects.push(AuthObject {
                kind: "ChallengeResponse".into(),
                id: "PHONE".into(),
                format: None,
                generator: Some("jpki-phone".into()),
                label: "JPKI phone".into(),
                description: "The JPKI phone's authentication key signs the activation message (credentials/getChallenge)".into(),
            });
            ("PIN AND PHONE", None)
        }
        crate::records::Factor::Confirm => {
            objects.push(AuthObject {
                kind: "ChallengeResponse".into(),
                id: "CONFIRM".into(),
                format: None,
                generator: Some("trusted-confirmation".into()),
                label: "Confirmation on the phone".into(),
                description: "The phone's trusted UI shows crate::confirm::prompt (the credential and every hash); the holder's confirmation key signs it with the challenge of credentials/getChallenge (CONFIRM: the confirmed message, CONFIRM_SIGNATURE: its signature)".into(),
            });
            ("PIN AND CONFIRM", None)
        }
    };
    Ok(CredentialInfo {
        credential_id: None,
        description: format!(
            "Signing key of {} (level {})",
            crate::records::Factor::as_str(c.factor),
            c.factor.level()
        ),
        key: KeyInfo {
            status: if c.status == crate::records::Status::Enabled { "enabled" } else { "disabled" }.into(),
            algo: oid::RSA_ALGOS.iter().map(|s| s.to_string()).collect(),
            len: 2048,
        },
        cert: CertInfo {
            status: status.into(),
            certificates: certs,
            issuer_dn: cert_info.then(|| tbs.issuer.to_string()),
            subject_dn: cert_info.then(|| tbs.subject.to_string()),
            serial_number: cert_info.then(|| hex::encode(tbs.serial_number.as_bytes())),
            valid_from: cert_info.then(|| time_string(&tbs.validity.not_before)),
            valid_to: cert_info.then(|| time_string(&tbs.validity.not_after)),
        },
        auth: Some(AuthInfo { mode: "explicit".into(), expression: expression.into(), objects }),
        auth_mode: "explicit".into(),
        pin: Some(PinInfo { presence: "true".into(), format: "A".into(), label: "Password".into() }),
        otp,
        scal: "2".into(),
        multisign: c.multisign.min(state.sam.policy().multisign),
        lang: "en-US".into(),
    })
}

#[utoipa::path(post, path = "/csc/v2/credentials/list", tag = "csc", request_body = ListRequest, security(("signer" = [])), responses((status = 200, body = ListResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    CscJson(r): CscJson<ListRequest>,
) -> Result<Json<ListResponse>, RsspError> {
    if r.user_id.is_some() {
        return Err(RsspError::invalid("userID parameter MUST be null: the list is the caller's own"));
    }
    let certificates = certificates_param(r.certificates.as_deref())?;
    let mut credentials = state.sam.credentials(&caller).await?;
    credentials.retain(|c| c.status != crate::records::Status::Deleted);
    let mut infos = vec![];
    for c in &credentials {
        let mut i = describe(&state, c, certificates, r.cert_info.unwrap_or(false))?;
        i.credential_id = Some(c.id.clone());
        infos.push(i);
    }
    if r.only_valid.unwrap_or(false) {
        infos.retain(|i| i.key.status == "enabled" && i.cert.status == "valid");
    }
    Ok(Json(ListResponse {
        credential_ids: infos.iter().filter_map(|i| i.credential_id.clone()).collect(),
        credential_infos: r.credential_info.unwrap_or(false).then_some(infos),
    }))
}

#[utoipa::path(post, path = "/csc/v2/credentials/info", tag = "csc", request_body = InfoRequest, security(("signer" = [])), responses((status = 200, body = CredentialInfo), (status = 400, body = ErrorBody)))]
async fn credential_info(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    CscJson(r): CscJson<InfoRequest>,
) -> Result<Json<CredentialInfo>, RsspError> {
    let certificates = certificates_param(r.certificates.as_deref())?;
    let c = state.sam.credential(&caller, &r.credential_id).await?;
    if c.status == crate::records::Status::Deleted {
        return Err(RsspError::invalid(crate::error::text::INVALID_CREDENTIAL));
    }
    Ok(Json(describe(&state, &c, certificates, r.cert_info.unwrap_or(false))?))
}

#[utoipa::path(post, path = "/csc/v2/credentials/authorize", tag = "csc", description = "Checks the factors (PIN; OTP or PHONE at level 2) and returns a SAD bound to the signer, the credential, the exact hashes and the bearer token; single use per hash; expires in sad_lifetime_secs.", request_body = AuthorizeRequest, security(("signer" = [])), responses((status = 200, body = SadResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn authorize(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    CscJson(r): CscJson<AuthorizeRequest>,
) -> Result<Json<SadResponse>, RsspError> {
    if r.description.as_ref().is_some_and(|d| d.chars().count() > 500) {
        return Err(RsspError::invalid("Invalid parameter description: at most 500 characters"));
    }
    let hashes = decode_b64(r.hashes.as_deref().unwrap_or_default(), "hash")?;
    if hashes.len() > crate::sam::MAX_HASHES {
        return Err(RsspError::invalid(crate::error::text::TOO_MANY_SIGNATURES));
    }
    let hash = hash_alg(r.hash_algorithm_oid.as_deref(), None, hashes.first().map(Vec::len))?;
    let mut factors = Factors { password: r.pin.clone().map(Zeroizing::new), otp: r.otp.clone(), ..Factors::default() };
    let (mut confirmed, mut confirmation_signature) = (None, None);
    let b64 = |d: &AuthDatum| {
        B64.decode(&d.value).map_err(|_| RsspError::invalid(format!("authData {} is not base64", d.id)))
    };
    for d in r.auth_data.iter().flatten() {
        match d.id.as_str() {
            "PIN" => factors.password = Some(Zeroizing::new(d.value.clone())),
            "OTP" => factors.otp = Some(d.value.clone()),
            "PHONE" => factors.phone_signature = Some(b64(d)?),
            "CONFIRM" => confirmed = Some(b64(d)?),
            "CONFIRM_SIGNATURE" => confirmation_signature = Some(b64(d)?),
            other => return Err(RsspError::invalid(format!("Invalid parameter authData: unknown id {other:?}"))),
        }
    }
    factors.confirmation = match (confirmed, confirmation_signature) {
        (Some(m), Some(s)) => Some((m, s)),
        (None, None) => None,
        _ => return Err(RsspError::invalid("Invalid parameter authData: send CONFIRM and CONFIRM_SIGNATURE together")),
    };
    let sad = state
        .sam
        .authorize(
            &caller,
            AuthorizeInput { credential_id: r.credential_id, num_signatures: r.num_signatures, hash, hashes, factors },
        )
        .await?;
    Ok(Json(SadResponse { sad: sad.handle, expires_in: sad.expires_in }))
}

#[utoipa::path(post, path = "/csc/v2/credentials/extendTransaction", tag = "csc", description = "Exchanges a valid SAD for a new one (the old one dies) that carries the remaining count and binds the new hashes too.", request_body = ExtendRequest, security(("signer" = [])), responses((status = 200, body = SadResponse), (status = 400, body = ErrorBody)))]
async fn extend(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    CscJson(r): CscJson<ExtendRequest>,
) -> Result<Json<SadResponse>, RsspError> {
    let hashes = decode_b64(r.hashes.as_deref().unwrap_or_default(), "hash")?;
    let hash = match r.hash_algorithm_oid.as_deref() {
        Some(o) => Some(hash_alg(Some(o), None, None)?),
        None => None,
    };
    let sad = state.sam.extend(&caller, &r.credential_id, &r.sad, hash, hashes).await?;
    Ok(Json(SadResponse { sad: sad.handle, expires_in: sad.expires_in }))
}

#[utoipa::path(post, path = "/csc/v2/credentials/getChallenge", tag = "csc", description = "A single-use challenge for the PHONE factor (the phone signs crate::sam::activation_message over it) or the CONFIRM factor (the confirmation's extra data).", request_body = ChallengeRequest, security(("signer" = [])), responses((status = 200, body = ChallengeResponse), (status = 400, body = ErrorBody)))]
async fn challenge(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    CscJson(r): CscJson<ChallengeRequest>,
) -> Result<Json<ChallengeResponse>, RsspError> {
    if r.auth_object_id != "PHONE" && r.auth_object_id != "CONFIRM" {
        return Err(RsspError::invalid("Invalid parameter authObjectID: only PHONE and CONFIRM take a challenge"));
    }
    let (challenge, expires_in) = state.sam.challenge(&caller, &r.credential_id, &r.auth_object_id).await?;
    Ok(Json(ChallengeResponse { challenge, expires_in }))
}

#[utoipa::path(post, path = "/csc/v2/signatures/signHash", tag = "csc", description = "One PKCS#1 v1.5 signature per hash; each hash must be one the SAD authorised and not yet used.", request_body = SignHashRequest, security(("signer" = [])), responses((status = 200, body = SignHashResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn sign_hash(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    CscJson(r): CscJson<SignHashRequest>,
) -> Result<Json<SignHashResponse>, RsspError> {
    let sad = r.sad.as_deref().ok_or_else(|| RsspError::invalid("Missing (or invalid type) string parameter SAD"))?;
    let sign_algo = r
        .sign_algo
        .as_deref()
        .ok_or_else(|| RsspError::invalid("Missing (or invalid type) string parameter signAlgo"))?;
    if !oid::RSA_ALGOS.contains(&sign_algo) {
        return Err(RsspError::invalid("Invalid parameter signAlgo: the key is RSA PKCS#1 v1.5"));
    }
    if r.sign_algo_params.is_some() {
        return Err(RsspError::invalid("Invalid parameter signAlgoParams: PKCS#1 v1.5 takes none"));
    }
    if r.operation_mode.as_deref().is_some_and(|m| m != "S") {
        return Err(RsspError::new(Code::NotImplemented, "only synchronous operation (operationMode S)"));
    }
    let hashes =
        r.hashes.as_deref().ok_or_else(|| RsspError::invalid("Missing (or invalid type) array parameter hash"))?;
    if hashes.len() > crate::sam::MAX_HASHES {
        return Err(RsspError::invalid(format!("at most {} hashes per request", crate::sam::MAX_HASHES)));
    }
    let hashes = decode_b64(hashes, "hash")?;
    if sign_algo == oid::RSA_ENCRYPTION && r.hash_algorithm_oid.is_none() {
        return Err(RsspError::invalid("Missing (or invalid type) string parameter hashAlgorithmOID"));
    }
    let hash = hash_alg(r.hash_algorithm_oid.as_deref(), Some(sign_algo), hashes.first().map(Vec::len))?;
    let signatures = state.sam.sign_hashes(&caller, &r.credential_id, sad, hash, &hashes).await?;
    Ok(Json(SignHashResponse { signatures: signatures.iter().map(|s| B64.encode(s)).collect() }))
}

#[utoipa::path(post, path = "/csc/v2/signatures/signDoc", tag = "csc", description = "CAdES-B-B detached (CMS) per document; the SAD must cover each document's SHA-256.", request_body = SignDocRequest, security(("signer" = [])), responses((status = 200, body = SignDocResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn sign_doc(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    CscJson(r): CscJson<SignDocRequest>,
) -> Result<Json<SignDocResponse>, RsspError> {
    if r.document_digests.is_some() && r.documents.is_some() {
        return Err(RsspError::invalid("Both documentDigests and documents parameters passed: send one"));
    }
    if r.document_digests.is_some() {
        return Err(RsspError::new(
            Code::NotImplemented,
            "documentDigests is not served: send documents, or use signHash",
        ));
    }
    if r.signature_qualifier.is_some() {
        return Err(RsspError::invalid("Invalid parameter signatureQualifier: name the credential with credentialID"));
    }
    let credential_id = r
        .credential_id
        .as_deref()
        .ok_or_else(|| RsspError::invalid("Missing (or invalid type) string parameter credentialID"))?;
    let sad = r.sad.as_deref().ok_or_else(|| RsspError::invalid("Missing (or invalid type) string parameter SAD"))?;
    let docs = r.documents.unwrap_or_default();
    if docs.is_empty() || docs.len() > crate::sam::MAX_HASHES {
        return Err(RsspError::invalid("documents: 1 to 100 documents"));
    }
    let mut contents = vec![];
    for d in &docs {
        if d.signature_format != "C" {
            return Err(RsspError::invalid("Invalid parameter signature_format: only C (CAdES)"));
        }
        if d.sign_algo != oid::SHA256_WITH_RSA && d.sign_algo != oid::RSA_ENCRYPTION {
            return Err(RsspError::invalid("Invalid parameter signAlgo: sha256WithRSAEncryption"));
        }
        if d.signed_envelope_property.as_deref().is_some_and(|p| p != "Detached") {
            return Err(RsspError::invalid("Invalid parameter signed_envelope_property: only Detached"));
        }
        contents.push(B64.decode(&d.document).map_err(|_| RsspError::invalid("Invalid Base64 document"))?);
    }
    let cms = state.sam.sign_documents(&caller, credential_id, sad, contents).await?;
    Ok(Json(SignDocResponse { signature_object: cms.iter().map(|c| B64.encode(c)).collect() }))
}

/// `POST /rssp/v1/nonces` request.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NonceRequest {
    /// `register`, `suspend`, `resume` or `delete`.
    pub purpose: String,
}

/// A nonce.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NonceResponse {
    /// Put it in the signed instruction.
    pub nonce: String,
    /// Seconds it lives.
    pub expires_in: u64,
}

#[utoipa::path(post, path = "/rssp/v1/nonces", tag = "rssp", description = "A single-use nonce for a card-signed instruction.", request_body = NonceRequest, responses((status = 200, body = NonceResponse), (status = 400, body = ErrorBody)))]
async fn nonce(
    State(state): State<Arc<AppState>>,
    CscJson(r): CscJson<NonceRequest>,
) -> Result<Json<NonceResponse>, RsspError> {
    let purpose =
        Purpose::parse(&r.purpose).ok_or_else(|| RsspError::invalid("purpose: register, suspend, resume or delete"))?;
    let (nonce, expires_in) = state.sam.nonce(purpose.as_str(), "").await?;
    Ok(Json(NonceResponse { nonce, expires_in }))
}

/// `POST /rssp/v1/register` request.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The card-signed `register` instruction (base64 DER CMS, content attached).
    pub cms: String,
    /// The password the instruction binds.
    pub password: String,
    /// Phone factor: the phone's JPKI authentication certificate (base64 DER).
    #[serde(default)]
    pub phone_certificate: Option<String>,
    /// Phone factor: its signature over the instruction's content (base64).
    #[serde(default)]
    pub phone_signature: Option<String>,
    /// Confirm factor: the confirmation key's Android attestation chain
    /// (base64 DER, leaf first), attested with the registration's nonce.
    #[serde(default)]
    pub confirmation_key_chain: Option<Vec<String>>,
}

impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest").field("password", &"[redacted]").finish_non_exhaustive()
    }
}

#[utoipa::path(post, path = "/rssp/v1/register", tag = "rssp", description = "Registers the holder of the card that signed the instruction: checks the CMS, the chain to the JPKI signature CA, the card's status by OCSP, the nonce and the password binding; generates the key in the crypto module and certifies it.", request_body = RegisterRequest, responses((status = 200, body = serde_json::Value), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn register(
    State(state): State<Arc<AppState>>,
    CscJson(r): CscJson<RegisterRequest>,
) -> Result<Json<crate::sam::Registered>, RsspError> {
    let cms = B64.decode(&r.cms).map_err(|_| RsspError::invalid("cms is not base64"))?;
    let phone = match (r.phone_certificate, r.phone_signature) {
        (Some(c), Some(s)) => Some((
            B64.decode(c).map_err(|_| RsspError::invalid("phone_certificate is not base64"))?,
            B64.decode(s).map_err(|_| RsspError::invalid("phone_signature is not base64"))?,
        )),
        (None, None) => None,
        _ => return Err(RsspError::invalid("send phone_certificate and phone_signature together")),
    };
    let proof = crate::sam::FactorProof { phone, confirmation_key_chain: r.confirmation_key_chain };
    Ok(Json(state.sam.register(&cms, Zeroizing::new(r.password), proof).await?))
}

/// `POST /rssp/v1/instructions` request.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructionRequest {
    /// The card-signed instruction (base64 DER CMS).
    pub cms: String,
}

/// A credential's state after a change.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct StateResponse {
    /// `enabled`, `suspended` or `deleted`.
    pub status: String,
}

#[utoipa::path(post, path = "/rssp/v1/instructions", tag = "rssp", description = "The signer's own suspend, resume or delete, signed with the card that registered them, with a fresh nonce.", request_body = InstructionRequest, responses((status = 200, body = StateResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn instruction(
    State(state): State<Arc<AppState>>,
    CscJson(r): CscJson<InstructionRequest>,
) -> Result<Json<StateResponse>, RsspError> {
    let cms = B64.decode(&r.cms).map_err(|_| RsspError::invalid("cms is not base64"))?;
    let status = state.sam.signer_instruction(&cms).await?;
    Ok(Json(StateResponse { status: status.as_str().into() }))
}

#[utoipa::path(post, path = "/rssp/v1/admin/credentials/{id}/{action}", tag = "privileged", description = "Administrators: unlock, suspend, resume or delete a credential. Audited.", params(("id" = String, Path), ("action" = String, Path)), security(("privileged" = [])), responses((status = 200, body = StateResponse), (status = 403, body = ErrorBody)))]
async fn admin_action(
    State(state): State<Arc<AppState>>,
    who: Privileged,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<StateResponse>, RsspError> {
    let action: AdminAction = serde_json::from_value(serde_json::Value::String(action))
        .map_err(|_| RsspError::invalid("action: unlock, suspend, resume or delete"))?;
    let status = state.sam.admin(&who, &id, action).await?;
    Ok(Json(StateResponse { status: status.as_str().into() }))
}

#[utoipa::path(get, path = "/rssp/v1/admin/audit", tag = "privileged", description = "Auditors: the audit log (entries with their chain hashes).", security(("privileged" = [])), responses((status = 200, body = serde_json::Value), (status = 403, body = ErrorBody)))]
async fn admin_audit(
    State(state): State<Arc<AppState>>,
    who: Privileged,
) -> Result<Json<serde_json::Value>, RsspError> {
    if who.role != Role::Auditor {
        return Err(RsspError::denied(format!("{} is an administrator: only auditors read the audit log", who.name)));
    }
    let rows =
        state.sam.store().read(|tx| tx.all("SELECT seq, at, event, detail, hash FROM audit ORDER BY seq", &[])).await?;
    let entries: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "seq": r.int("seq").unwrap_or_default(),
                "at": r.int("at").unwrap_or_default(),
                "event": r.text("event").unwrap_or_default(),
                "detail": serde_json::from_str::<serde_json::Value>(&r.text("detail").unwrap_or_default()).unwrap_or_default(),
                "hash": r.text("hash").unwrap_or_default(),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "entries": entries })))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "openjpki — remote signing service (CSC API v2 with a SAM)", description = "The Cloud Signature Consortium API v2.0.0.2 (every method also under /csc/v1/, v1 JSON names accepted), the RSSP's registration with the My Number card, and the privileged users' routes. Errors are the CSC error body."),
    paths(healthz, ca_pem, info, login, revoke, list, credential_info, authorize, extend, challenge, sign_hash, sign_doc, nonce, register, instruction, admin_action, admin_audit),
    components(schemas(ErrorBody)),
    modifiers(&Security)
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        svc::openapi::bearer(doc, "signer", "a signer's token from auth/login");
        svc::openapi::bearer(doc, "privileged", "an administrator's or auditor's token");
    }
}

/// The RSSP's OpenAPI document.
pub fn openapi_document() -> serde_json::Value {
    serde_json::to_value(<ApiDoc as utoipa::OpenApi>::openapi()).unwrap_or_default()
}

async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}

#[cfg(test)]
mod tests {
    //! The router alone (no listener): every documented operation is
    //! routed, on both API versions, and who may call what.
    use super::*;
    use crate::cm::SoftwareCm;
    use testkit::http::{call, request, send, Caller as As};

    async fn app(dir: &std::path::Path) -> Router {
        let cm: Arc<dyn crate::cm::CryptoModule> = Arc::new(SoftwareCm::open(&dir.join("cm")).unwrap());
        let keys = pki::keystore::SoftwareKeyStore::new(&dir.join("ca"), None).unwrap();
        let ca = crate::ca::RsspCa::open_or_create(&dir.join("ca"), &keys).unwrap();
        // No JPKI service in these tests: registration is not reached.
        let anchor = ca.certificate().clone();
        let jpki = crate::instruction::JpkiTrust {
            sign_ca: anchor.clone(),
            auth_ca: anchor,
            ocsp_url: "http://127.0.0.1:9/ocsp".into(),
            http: jlis_api::status::client(),
        };
        let store =
            store::Store::open(&format!("sqlite://{}", dir.join("rssp.sqlite").display()), crate::schema::MIGRATIONS)
                .await
                .unwrap();
        let sam = Sam::open(store, cm, ca, jpki, crate::sam::Policy::default()).await.unwrap();
        std::fs::write(dir.join("admin.token"), "administrator-token-0123456789").unwrap();
        let privileged = PrivilegedUsers::load(&[crate::privileged::Entry {
            name: "admin".into(),
            role: Role::Administrator,
            token_file: dir.join("admin.token"),
        }])
        .unwrap();
        router(Arc::new(AppState { sam, privileged }))
    }

    #[tokio::test]
    async fn every_documented_operation_is_routed_and_v1_mirrors_v2() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path()).await;
        let doc = openapi_document();
        let mut tried = 0;
        for (path, operations) in doc["paths"].as_object().unwrap() {
            for method in operations.as_object().unwrap().keys() {
                let uri = path.replace("{id}", "c-0").replace("{action}", "unlock");
                for uri in [uri.clone(), uri.replace("/csc/v2/", "/csc/v1/")] {
                    let (status, _, body) =
                        send(&app, request(&method.to_uppercase(), &uri, serde_json::json!({}), &As::Anonymous)).await;
                    let text = String::from_utf8_lossy(&body);
                    assert!(
                        status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                        "{method} {uri}: {status}"
                    );
                    assert!(!text.contains("no such method"), "{method} {uri} is documented, not routed");
                    tried += 1;
                }
            }
        }
        assert_eq!(tried, 34, "17 operations, each on both paths");
        // An undocumented method: 501 with a CSC body.
        let (status, body) =
            call(&app, request("POST", "/csc/v2/credentials/import", serde_json::json!({}), &As::Anonymous)).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_IMPLEMENTED, Some("invalid_request")));
    }

    #[tokio::test]
    async fn signers_privileged_users_and_strangers_each_get_their_own_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path()).await;
        let list = |who: As| request("POST", "/csc/v2/credentials/list", serde_json::json!({}), &who);
        let (status, body) = call(&app, list(As::Anonymous)).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
        let (status, body) = call(&app, list(As::Bearer("not-a-token".into()))).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
        let (status, body) = call(&app, list(As::Bearer("administrator-token-0123456789".into()))).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("access_denied")));
        let audit = request(
            "GET",
            "/rssp/v1/admin/audit",
            serde_json::Value::Null,
            &As::Bearer("administrator-token-0123456789".into()),
        );
        let (status, body) = call(&app, audit).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "administrators do not read the audit log: {body}");
        let (status, body) = call(&app, request("GET", "/csc/v2/info", serde_json::Value::Null, &As::Anonymous)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["methods"].as_array().unwrap().iter().any(|m| m == "signatures/signHash"));
    }
}
