//! The Signature Activation Module (JT2A Remote Signature Guideline Part
//! II; spec/csc-sam.md §0, §2, §5). Its one narrow interface to a signing
//! key is [`Sam::sign_hashes`] / [`Sam::sign_documents`], and both take
//! a SAD the SAM itself issued: there is no administrator path that signs
//! (2.2.1.2, 2.2.2.1, SAM-07).
//!
//! The SAD (3.2.1.1–3.2.1.2, SAM-05/06/08/09) is 256 random bits; the
//! store keeps only its SHA-256, with the signer, the credential, the
//! bearer token that asked for it, the hash algorithm, the multiset of
//! hashes still authorised and the count left, and an expiry. A signing
//! request is checked and the hashes consumed in one transaction before
//! the CM is called, so a SAD is used once per hash even under concurrent
//! requests, and a refused request consumes nothing.
//!
//! Authorisation factors (3.1.4) are counted before they are compared: the
//! failure counter is raised and committed first, and lowered again only
//! when every factor matched; at `max_failures` the credential is locked
//! until an administrator unlocks it (SAM-12).

use crate::cm::{Activation, CryptoModule};
use crate::error::{text, RsspError};
use crate::instruction::{self, JpkiTrust, Purpose};
use crate::records::{self, now, Credential, Factor, Signer, Status};
use crate::totp;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use csc_api::error::Code;
use pki::{Certificate, HashAlg};
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;
use store::{params, Store, Tx};
use zeroize::Zeroizing;

/// The SAM's limits, from the configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The RSSP's name, which signed instructions must carry.
    pub service_name: String,
    /// A SAD's life (seconds).
    pub sad_lifetime: u64,
    /// A bearer token's life (seconds).
    pub token_lifetime: u64,
    /// The most signatures one authorisation may cover (`multisign`).
    pub multisign: u32,
    /// Wrong factors before a credential (or a login) locks.
    pub max_failures: i64,
    /// Shortest password.
    pub min_password: usize,
    /// A nonce's life (seconds).
    pub nonce_lifetime: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            service_name: "openjpki-rssp".into(),
            sad_lifetime: 300,
            token_lifetime: 3600,
            multisign: 10,
            max_failures: 5,
            min_password: 8,
            nonce_lifetime: 300,
        }
    }
}

/// The most hashes one request may carry (oversized batches are refused
/// before anything is read from the store).
pub const MAX_HASHES: usize = 100;

/// A signer authenticated by a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The signer.
    pub signer_id: String,
    /// SHA-256 (hex) of the bearer token.
    pub token_id: String,
}

/// A privileged user (3.1.2, 3.2.2.1): authenticated by the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privileged {
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
}

/// Privileged roles, separated (SAM-14): administrators change signer
/// and credential state; auditors read the audit log; neither signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Unlocks, suspends, resumes, deletes.
    Administrator,
    /// Reads the audit log.
    Auditor,
}

/// The factors an authorisation brings.
#[derive(Default)]
pub struct Factors {
    /// The password (`PIN`).
    pub password: Option<Zeroizing<String>>,
    /// The TOTP (`OTP`).
    pub otp: Option<String>,
    /// The phone's signature over [`activation_message`] (`PHONE`).
    pub phone_signature: Option<Vec<u8>>,
    /// The trusted UI's confirmation: the confirmed message (CBOR) and the
    /// confirmation key's signature (`CONFIRM`, `CONFIRM_SIGNATURE`).
    pub confirmation: Option<(Vec<u8>, Vec<u8>)>,
}

/// What a registration brings beside the card's instruction, for its factor.
#[derive(Debug, Default)]
pub struct FactorProof {
    /// Phone factor: the phone's authentication certificate (DER) and its
    /// signature over the registration.
    pub phone: Option<(Vec<u8>, Vec<u8>)>,
    /// Confirm factor: the confirmation key's attestation chain (base64
    /// DER, leaf first), attested with the registration's nonce.
    pub confirmation_key_chain: Option<Vec<String>>,
}

/// What `credentials/authorize` asks for.
pub struct AuthorizeInput {
    /// The credential.
    pub credential_id: String,
    /// Signatures covered.
    pub num_signatures: u32,
    /// The hash algorithm.
    pub hash: HashAlg,
    /// The hashes covered (at least one: every credential is SCAL2).
    pub hashes: Vec<Vec<u8>>,
    /// The factors.
    pub factors: Factors,
}

/// A SAD issued.
#[derive(Debug, Clone)]
pub struct Sad {
    /// The handle the client sends back.
    pub handle: String,
    /// Seconds it lives.
    pub expires_in: u64,
}

/// What registration produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Registered {
    /// The signer id (the `auth/login` user name).
    pub signer_id: String,
    /// The holder's name, from the card.
    pub name: String,
    /// The first credential.
    pub credential_id: String,
    /// The credential's certificate (base64 DER).
    pub certificate: String,
    /// Level 1 or 2.
    pub level: u8,
    /// The factor.
    pub factor: Factor,
    /// The TOTP key URI, shown once (factor `totp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp_uri: Option<String>,
}

/// The message the phone's authentication key signs for the `PHONE`
/// factor: it covers the credential, the exact hashes and a single-use
/// challenge, so the signature activates nothing else (3.2.1.1).
pub fn activation_message(
    credential_id: &str,
    hash: HashAlg,
    num_signatures: u32,
    hashes: &[Vec<u8>],
    challenge: &str,
) -> Vec<u8> {
    let mut m = format!("openjpki-rssp-activation/1\n{credential_id}\n{}\n{num_signatures}\n", hash.oid());
    for h in hashes {
        m.push_str(&B64.encode(h));
        m.push('\n');
    }
    m.push_str(challenge);
    m.into_bytes()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(HashAlg::Sha256.digest(data))
}

fn random_handle() -> String {
    let mut b = [0u8; 32];
    pki::fill_random(&mut b);
    B64URL.encode(b)
}

fn argon2() -> argon2::Argon2<'static> {
    // OWASP's Argon2id floor: m = 19 MiB, t = 2, p = 1.
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters"),
    )
}

fn hash_password(password: &str) -> Result<String, RsspError> {
    let mut salt = [0u8; 16];
    pki::fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(RsspError::internal)?;
    Ok(argon2().hash_password(password.as_bytes(), &salt).map_err(RsspError::internal)?.to_string())
}

fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// Appends an audit entry (the actor is in `detail`).
/// `by` is [`crate::audit::by`], taken before the transaction: the
/// transaction runs on the store's thread, outside the request's task.
fn audit(tx: &mut Tx<'_>, by: &serde_json::Value, event: &str, detail: serde_json::Value) -> Result<(), RsspError> {
    audit_log::append(tx, now(), event, &detail, by)?;
    Ok(())
}

/// The Signature Activation Module.
pub struct Sam {
    store: Store,
    cm: Arc<dyn CryptoModule>,
    ca: crate::ca::RsspCa,
    jpki: JpkiTrust,
    policy: Policy,
    gates: Gates,
    /// The confirm factor's verifier (`[device_trust]`); none: not offered.
    device: Option<attest::appraisal::Verifier>,
}

/// One authentication attempt at a time per credential (and per signer's
/// login): an attempt is counted as a failure before its factors are
/// compared, so attempts in flight together would look like failures to
/// each other and lock the credential of a signer who typed nothing wrong.
#[derive(Debug, Default)]
struct Gates(std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl Gates {
    /// Waits for `key`'s gate; the attempt holds it until the guard drops.
    async fn enter(&self, key: String) -> GateGuard<'_> {
        let gate = self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(key.clone()).or_default().clone();
        let held = gate.clone().lock_owned().await;
        GateGuard { gates: self, key, gate, _held: held }
    }
}

struct GateGuard<'a> {
    gates: &'a Gates,
    key: String,
    gate: Arc<tokio::sync::Mutex<()>>,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.gates.0.lock().unwrap_or_else(|p| p.into_inner());
        // The map's, ours and our guard's: nobody else waits; forget the gate.
        if Arc::strong_count(&self.gate) <= 3 {
            map.remove(&self.key);
        }
    }
}

impl std::fmt::Debug for Sam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sam").field("cm", &self.cm.kind()).field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// A hash list as stored: base64 strings, comma-separated.
fn encode_hashes(hashes: &[Vec<u8>]) -> String {
    hashes.iter().map(|h| B64.encode(h)).collect::<Vec<_>>().join(",")
}

fn decode_hashes(text: &str) -> Vec<String> {
    text.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// A SAD row, checked for `caller` and `credential_id`.
struct SadRow {
    id: String,
    hash_alg: String,
    pinned: Vec<String>,
    remaining: i64,
}

fn sad_row(tx: &mut Tx<'_>, caller: &Caller, credential_id: &str, handle: &str) -> Result<SadRow, RsspError> {
    let id = sha256_hex(handle.as_bytes());
    let sql = format!("SELECT * FROM sads WHERE id = $1{}", tx.for_update());
    let row = tx.optional(&sql, params![id.clone()])?.ok_or_else(|| RsspError::invalid(text::INVALID_SAD))?;
    // One answer for every mismatch: the SAD tells nothing to who stole it.
    let bound = row.text("credential_id")? == credential_id
        && row.text("signer_id")? == caller.signer_id
        && secret::ct_eq(row.text("token_id")?.as_bytes(), caller.token_id.as_bytes());
    if !bound || row.int("spent")? != 0 {
        return Err(RsspError::invalid(text::INVALID_SAD));
    }
    if row.int("expires_at")? <= now() {
        return Err(RsspError::invalid(text::SAD_EXPIRED));
    }
    Ok(SadRow {
        id,
        hash_alg: row.opt_text("hash_alg")?.unwrap_or_default(),
        pinned: decode_hashes(&row.opt_text("hashes")?.unwrap_or_default()),
        remaining: row.int("remaining")?,
    })
}

/// The credential `id` as `caller` may use it: theirs, enabled, not
/// locked, its certificate in date (SAM-20).
fn usable_credential(
    tx: &mut Tx<'_>,
    cm: &dyn CryptoModule,
    caller: &Caller,
    id: &str,
    max_failures: i64,
) -> Result<Credential, RsspError> {
    let c = records::credential(tx, cm, id)?.filter(|c| c.signer_id == caller.signer_id);
    let c = c.ok_or_else(|| RsspError::invalid(text::INVALID_CREDENTIAL))?;
    if c.status != Status::Enabled {
        return Err(RsspError::invalid(text::CREDENTIAL_DISABLED));
    }
    if c.failures >= max_failures {
        return Err(RsspError::invalid(text::CREDENTIAL_LOCKED));
    }
    let cert = <Certificate as der::Decode>::from_der(&c.certificate).map_err(RsspError::internal)?;
    if pki::chain::check_validity(&cert, SystemTime::now()).is_err() {
        return Err(RsspError::invalid(text::CERTIFICATE_EXPIRED));
    }
    Ok(c)
}

impl Sam {
    /// A SAM over `store` and `cm`, certifying with `ca`, trusting `jpki`.
    /// Runs the self-tests first and refuses to start if one fails (SAM-19).
    pub async fn open(
        store: Store,
        cm: Arc<dyn CryptoModule>,
        ca: crate::ca::RsspCa,
        jpki: JpkiTrust,
        policy: Policy,
    ) -> Result<Self, String> {
        let by = crate::audit::by();
        let report = crate::selftest::run(&*cm).map_err(|e| format!("SAM self-test failed, not serving: {e}"))?;
        let kind = cm.kind();
        store
            .write(move |tx| audit(tx, &by, "sam.selftest", json!({ "crypto_module": kind, "passed": report })))
            .await
            .map_err(|e: RsspError| e.to_string())?;
        Ok(Self { store, cm, ca, jpki, policy, gates: Gates::default(), device: None })
    }

    /// Offers the confirm factor, its keys appraised by `verifier`.
    pub fn with_device_trust(mut self, verifier: Option<attest::appraisal::Verifier>) -> Self {
        self.device = verifier;
        self
    }

    fn device(&self) -> Result<&attest::appraisal::Verifier, RsspError> {
        self.device.as_ref().ok_or_else(|| {
            RsspError::invalid(
                "this service does not offer the confirm factor (no [device_trust] in its configuration)",
            )
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The CA certificate that certifies the credentials.
    pub fn ca_certificate(&self) -> &Certificate {
        self.ca.certificate()
    }

    /// The crypto module's kind.
    pub fn cm_kind(&self) -> &'static str {
        self.cm.kind()
    }

    // ----- nonces -----

    /// A fresh single-use nonce for `purpose` (registration, suspension…,
    /// or `challenge:<credential>` for the phone factor).
    pub async fn nonce(&self, purpose: &str, subject: &str) -> Result<(String, u64), RsspError> {
        let nonce = random_handle();
        let (n, p, s, exp) =
            (nonce.clone(), purpose.to_string(), subject.to_string(), now() + self.policy.nonce_lifetime as i64);
        self.store
            .write(move |tx| {
                tx.execute("DELETE FROM nonces WHERE expires_at < $1", params![now() - 86_400])?;
                tx.execute(
                    "INSERT INTO nonces (id, purpose, subject, expires_at, used) VALUES ($1, $2, $3, $4, 0)",
                    params![n, p, s, exp],
                )?;
                Ok::<_, RsspError>(())
            })
            .await?;
        Ok((nonce, self.policy.nonce_lifetime))
    }

    // ----- signers' sessions -----

    /// `auth/login`: the signer's id and password give a bearer token.
    /// Wrong passwords are counted before the comparison; at
    /// `max_failures` the login locks until an administrator unlocks it.
    pub async fn login(&self, signer_id: &str, password: Zeroizing<String>) -> Result<(String, u64), RsspError> {
        let by = crate::audit::by();
        let _one_attempt_at_a_time = self.gates.enter(format!("login:{signer_id}")).await;
        let cm = self.cm.clone();
        let (id, max) = (signer_id.to_string(), self.policy.max_failures);
        let signer = self
            .store
            .write(move |tx| {
                let Some(mut s) = records::signer(tx, &*cm, &id)? else { return Ok(None) };
                if s.login_failures >= max {
                    return Ok(Some(Err(RsspError::new(
                        Code::AuthenticationError,
                        "too many wrong passwords: this login is locked; an administrator must unlock it",
                    ))));
                }
                s.login_failures += 1;
                records::update_signer(tx, &*cm, &s)?;
                Ok::<_, RsspError>(Some(Ok(s)))
            })
            .await?;
        let bad = || RsspError::new(Code::AuthenticationError, "wrong signer id or password");
        let signer = match signer {
            None => {
                // Same work as a real check, so timing does not tell ids apart.
                // On the blocking pool, as the real check is.
                let pw = password.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    password_matches("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g", &pw)
                })
                .await;
                return Err(bad());
            }
            Some(r) => r?,
        };
        let ok = {
            let (hash, pw) = (signer.password_hash.clone(), password.clone());
            tokio::task::spawn_blocking(move || password_matches(&hash, &pw)).await.map_err(RsspError::internal)?
        };
        let token = random_handle();
        let (cm, token_id, ttl) = (self.cm.clone(), sha256_hex(token.as_bytes()), self.policy.token_lifetime);
        self.store
            .write(move |tx| {
                let Some(mut s) = records::signer(tx, &*cm, &signer.id)? else { return Ok(Err(bad())) };
                if !ok {
                    audit(tx, &by, "login.failure", json!({ "signer": s.id, "failures": s.login_failures }))?;
                    return Ok(Err(bad()));
                }
                s.login_failures = 0;
                records::update_signer(tx, &*cm, &s)?;
                tx.execute(
                    "INSERT INTO tokens (id, signer_id, expires_at, revoked) VALUES ($1, $2, $3, 0)",
                    params![token_id, s.id.clone(), now() + ttl as i64],
                )?;
                audit(tx, &by, "login", json!({ "signer": s.id }))?;
                Ok::<_, RsspError>(Ok(()))
            })
            .await??;
        Ok((token, ttl))
    }

    /// The signer a bearer token belongs to.
    pub async fn caller(&self, token: &str) -> Result<Caller, RsspError> {
        let token_id = sha256_hex(token.as_bytes());
        let id = token_id.clone();
        let row = self.store.read(move |tx| tx.optional("SELECT * FROM tokens WHERE id = $1", params![id])).await?;
        let row =
            row.ok_or_else(|| RsspError::new(Code::InvalidToken, "unknown bearer token: log in with auth/login"))?;
        if row.int("revoked")? != 0 {
            return Err(RsspError::new(Code::InvalidToken, "the bearer token was revoked: log in again"));
        }
        if row.int("expires_at")? <= now() {
            return Err(RsspError::new(Code::ExpiredToken, "the bearer token expired: log in again"));
        }
        Ok(Caller { signer_id: row.text("signer_id")?, token_id })
    }

    /// `auth/revoke`: the caller's own token.
    pub async fn revoke_token(&self, caller: &Caller, token: &str) -> Result<(), RsspError> {
        let by = crate::audit::by();
        let (id, signer) = (sha256_hex(token.as_bytes()), caller.signer_id.clone());
        self.store
            .write(move |tx| {
                let n = tx.execute(
                    "UPDATE tokens SET revoked = 1 WHERE id = $1 AND signer_id = $2",
                    params![id.clone(), signer.clone()],
                )?;
                if n == 0 {
                    return Err(RsspError::invalid("Invalid parameter token"));
                }
                // Outstanding SADs die with the session that asked for them.
                tx.execute("UPDATE sads SET spent = 1 WHERE token_id = $1", params![id])?;
                audit(tx, &by, "token.revoked", json!({ "signer": signer }))
            })
            .await
    }

    // ----- credentials -----

    /// The caller's credentials.
    pub async fn credentials(&self, caller: &Caller) -> Result<Vec<Credential>, RsspError> {
        let (cm, id) = (self.cm.clone(), caller.signer_id.clone());
        self.store.read(move |tx| records::credentials_of(tx, &*cm, &id)).await
    }

    /// One of the caller's credentials (another signer's is "invalid").
    pub async fn credential(&self, caller: &Caller, id: &str) -> Result<Credential, RsspError> {
        let (cm, id, signer) = (self.cm.clone(), id.to_string(), caller.signer_id.clone());
        self.store
            .read(move |tx| records::credential(tx, &*cm, &id))
            .await?
            .filter(|c| c.signer_id == signer)
            .ok_or_else(|| RsspError::invalid(text::INVALID_CREDENTIAL))
    }

    /// The chain above a credential's certificate (the RSSP CA).
    pub fn chain(&self) -> Vec<Certificate> {
        vec![self.ca.certificate().clone()]
    }

    /// `credentials/getChallenge` for the `PHONE` and `CONFIRM` factors.
    pub async fn challenge(
        &self,
        caller: &Caller,
        credential_id: &str,
        auth_object: &str,
    ) -> Result<(String, u64), RsspError> {
        let c = self.credential(caller, credential_id).await?;
        let takes = match c.factor {
            Factor::Phone => "PHONE",
            Factor::Confirm => "CONFIRM",
            Factor::Password | Factor::Totp => "",
        };
        if takes != auth_object {
            return Err(RsspError::invalid(format!("this credential does not take the {auth_object} factor")));
        }
        self.nonce(&format!("challenge:{}", c.id), &caller.signer_id).await
    }

    // ----- the SAP: authorise, extend, sign -----

    /// `credentials/authorize`: checks the factors and issues a SAD for
    /// exactly `hashes` (3.2.1.1–3.2.1.3).
    pub async fn authorize(&self, caller: &Caller, input: AuthorizeInput) -> Result<Sad, RsspError> {
        let by = crate::audit::by();
        let n = input.num_signatures;
        if n == 0 {
            return Err(RsspError::invalid("Invalid value for parameter numSignatures"));
        }
        if input.hashes.is_empty() {
            return Err(RsspError::invalid(
                "Missing (or invalid type) array parameter hashes: every credential here is SCAL2",
            ));
        }
        if input.hashes.len() > n as usize {
            return Err(RsspError::invalid("more hashes than numSignatures"));
        }
        if input.hashes.iter().any(|h| h.len() != input.hash.output_len()) {
            return Err(RsspError::invalid("Invalid digest value length"));
        }
        let _one_attempt_at_a_time = self.gates.enter(format!("credential:{}", input.credential_id)).await;
        // 1. Count the attempt, committed before any factor is compared.
        let (cm, c_id, who, max, multisign) = (
            self.cm.clone(),
            input.credential_id.clone(),
            caller.clone(),
            self.policy.max_failures,
            self.policy.multisign,
        );
        let (service, hash, hashes_in) = (self.policy.service_name.clone(), input.hash, input.hashes.clone());
        let (signer, credential) = self
            .store
            .write(move |tx| {
                let mut c = match usable_credential(tx, &*cm, &who, &c_id, max) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(e)),
                };
                if n > c.multisign.min(multisign) {
                    return Ok(Err(RsspError::invalid(text::TOO_MANY_SIGNATURES)));
                }
                if c.factor == Factor::Confirm {
                    let prompt = crate::confirm::prompt(&service, &c.id, hash, n, &hashes_in);
                    if let Err(e) = crate::confirm::check_prompt_fits(&prompt) {
                        return Ok(Err(e));
                    }
                }
                c.failures += 1;
                records::update_credential(tx, &*cm, &c)?;
                let s = records::signer(tx, &*cm, &c.signer_id)?
                    .ok_or_else(|| RsspError::internal("credential without signer"))?;
                Ok::<_, RsspError>(Ok((s, c)))
            })
            .await??;
        // 2. Compare the factors (outside the store's transaction).
        let verdict = self.check_factors(&signer, &credential, &input).await?;
        // 3. Record the outcome; a SAD only if every factor matched.
        let handle = random_handle();
        let (cm, who, lifetime) = (self.cm.clone(), caller.clone(), self.policy.sad_lifetime);
        let (sad_id, hashes, alg) =
            (sha256_hex(handle.as_bytes()), encode_hashes(&input.hashes), input.hash.oid().to_string());
        let hashes_hex: Vec<String> = input.hashes.iter().map(hex::encode).collect();
        self.store
            .write(move |tx| {
                let mut c = records::credential(tx, &*cm, &credential.id)?.ok_or_else(|| RsspError::invalid(text::INVALID_CREDENTIAL))?;
                let single_use = match &verdict {
                    Ok(single_use) => single_use.clone(),
                    Err(e) => {
                        audit(tx, &by, "authorize.failure", json!({ "credential": c.id, "failures": c.failures, "why": e.description() }))?;
                        if c.failures >= max {
                            audit(tx, &by, "credential.locked", json!({ "credential": c.id }))?;
                        }
                        return Ok(Err(e.clone()));
                    }
                };
                // A TOTP step or a phone challenge activates once (2.2.1.3).
                for (purpose, id) in single_use {
                    let n = tx.execute(
                        "UPDATE nonces SET used = 1 WHERE id = $1 AND purpose = $2 AND used = 0 AND expires_at > $3",
                        params![id.clone(), purpose.clone(), now()],
                    )?;
                    if n == 0 && purpose.starts_with("otp:") {
                        let inserted = tx.execute(
                            "INSERT INTO nonces (id, purpose, subject, expires_at, used) VALUES ($1, $2, $3, $4, 1) ON CONFLICT (id) DO NOTHING",
                            params![id, purpose, c.id.clone(), now() + 120],
                        )?;
                        if inserted == 0 {
                            audit(tx, &by, "authorize.failure", json!({ "credential": c.id, "why": "OTP reused" }))?;
                            return Ok(Err(RsspError::new(Code::InvalidOtp, "this OTP was already used: wait for the next one")));
                        }
                    } else if n == 0 {
                        audit(tx, &by, "authorize.failure", json!({ "credential": c.id, "why": "challenge reused or expired" }))?;
                        return Ok(Err(RsspError::new(
                            Code::InvalidAuthenticationData,
                            "the phone challenge is unknown, used or expired: ask credentials/getChallenge again",
                        )));
                    }
                }
                c.failures = 0;
                records::update_credential(tx, &*cm, &c)?;
                tx.execute(
                    "INSERT INTO sads (id, credential_id, signer_id, token_id, hash_alg, hashes, remaining, expires_at, created_at, spent)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
                    params![sad_id.clone(), c.id.clone(), who.signer_id.clone(), who.token_id.clone(), alg, hashes, i64::from(n), now() + lifetime as i64, now()],
                )?;
                audit(
                    tx,
                    &by,
                    "authorize",
                    json!({ "credential": c.id, "sad": &sad_id[..16], "num_signatures": n, "hashes": hashes_hex, "factor": c.factor.as_str() }),
                )?;
                Ok::<_, RsspError>(Ok(()))
            })
            .await??;
        Ok(Sad { handle, expires_in: lifetime })
    }

    /// Compares the factors; `Ok(Ok(single-use ids to spend))` when all match.
    async fn check_factors(
        &self,
        signer: &Signer,
        credential: &Credential,
        input: &AuthorizeInput,
    ) -> Result<Result<Vec<(String, String)>, RsspError>, RsspError> {
        let wrong = |code: Code| RsspError::new(code, text::INVALID_AUTHENTICATION_DATA);
        let Some(password) = input.factors.password.clone() else {
            return Ok(Err(wrong(Code::InvalidPin)));
        };
        let hash = signer.password_hash.clone();
        let ok = tokio::task::spawn_blocking(move || password_matches(&hash, &password))
            .await
            .map_err(RsspError::internal)?;
        if !ok {
            return Ok(Err(wrong(Code::InvalidPin)));
        }
        match credential.factor {
            Factor::Password => Ok(Ok(vec![])),
            Factor::Totp => {
                let Some(otp) = &input.factors.otp else { return Ok(Err(wrong(Code::InvalidOtp))) };
                let sealed =
                    signer.totp_sealed.as_ref().ok_or_else(|| RsspError::internal("TOTP credential without a seed"))?;
                let seed = self
                    .cm
                    .open(signer.id.as_bytes(), sealed)?
                    .ok_or_else(|| RsspError::internal("the TOTP seed does not open"))?;
                match totp::matching_step(&seed, otp, now() as u64) {
                    Some(step) => {
                        Ok(Ok(vec![(format!("otp:{}", credential.id), format!("otp:{}:{step}", credential.id))]))
                    }
                    None => Ok(Err(wrong(Code::InvalidOtp))),
                }
            }
            Factor::Phone => {
                let Some(signature) = &input.factors.phone_signature else {
                    return Ok(Err(wrong(Code::InvalidAuthenticationData)));
                };
                let phone = signer
                    .phone_certificate
                    .as_ref()
                    .ok_or_else(|| RsspError::internal("phone credential without a phone"))?;
                let cert = <Certificate as der::Decode>::from_der(phone).map_err(RsspError::internal)?;
                let spki = pki::cert::public_key_der(&cert).map_err(RsspError::internal)?;
                // The challenge: one of the newest unused ones the signer asked for this credential.
                let (purpose, challenges) = self.open_challenges(signer, credential).await?;
                let message = |challenge: &str| {
                    activation_message(&credential.id, input.hash, input.num_signatures, &input.hashes, challenge)
                };
                let matched = challenges
                    .into_iter()
                    .find(|c| pki::rsa::verify(&spki, HashAlg::Sha256, &message(c), signature).is_ok());
                let Some(challenge) = matched else { return Ok(Err(wrong(Code::InvalidAuthenticationData))) };
                if let Err(e) = self.jpki.require_good(phone, "phone's authentication certificate").await {
                    return Ok(Err(e));
                }
                Ok(Ok(vec![(purpose, challenge)]))
            }
            Factor::Confirm => {
                let Some((message, signature)) = &input.factors.confirmation else {
                    return Ok(Err(RsspError::new(
                        Code::InvalidAuthenticationData,
                        "the confirm factor needs CONFIRM and CONFIRM_SIGNATURE (the phone's trusted-UI confirmation)",
                    )));
                };
                let key = signer
                    .confirmation_key
                    .as_ref()
                    .ok_or_else(|| RsspError::internal("confirm credential without a confirmation key"))?;
                let (purpose, challenges) = self.open_challenges(signer, credential).await?;
                let prompt = crate::confirm::prompt(
                    &self.policy.service_name,
                    &credential.id,
                    input.hash,
                    input.num_signatures,
                    &input.hashes,
                );
                let checked = crate::confirm::check(
                    self.device()?,
                    key,
                    message,
                    signature,
                    &prompt,
                    &challenges,
                    SystemTime::now(),
                );
                Ok(checked.map(|challenge| vec![(purpose, challenge)]))
            }
        }
    }

    /// The newest unused challenges the signer asked for `credential`, and
    /// their nonce purpose.
    async fn open_challenges(
        &self,
        signer: &Signer,
        credential: &Credential,
    ) -> Result<(String, Vec<String>), RsspError> {
        let (purpose, signer_id) = (format!("challenge:{}", credential.id), signer.id.clone());
        let p = purpose.clone();
        let rows = self
            .store
            .read(move |tx| {
                tx.all(
                    "SELECT id FROM nonces WHERE purpose = $1 AND subject = $2 AND used = 0 AND expires_at > $3 ORDER BY expires_at DESC LIMIT 5",
                    params![p, signer_id, now()],
                )
            })
            .await?;
        Ok((purpose, rows.iter().filter_map(|r| r.text("id").ok()).collect()))
    }

    /// `credentials/extendTransaction` (Appendix 1 method 2, SAM-11): the
    /// current SAD is given up for a new one that carries the remaining
    /// count and binds `new_hashes` as well.
    pub async fn extend(
        &self,
        caller: &Caller,
        credential_id: &str,
        handle: &str,
        hash: Option<HashAlg>,
        new_hashes: Vec<Vec<u8>>,
    ) -> Result<Sad, RsspError> {
        let by = crate::audit::by();
        if new_hashes.len() > MAX_HASHES {
            return Err(RsspError::invalid(format!("at most {MAX_HASHES} hashes per request")));
        }
        let new = random_handle();
        let (cm, who, c_id, old, max, lifetime) = (
            self.cm.clone(),
            caller.clone(),
            credential_id.to_string(),
            handle.to_string(),
            self.policy.max_failures,
            self.policy.sad_lifetime,
        );
        let new_id = sha256_hex(new.as_bytes());
        self.store
            .write(move |tx| {
                usable_credential(tx, &*cm, &who, &c_id, max)?;
                let sad = sad_row(tx, &who, &c_id, &old)?;
                if let Some(h) = hash {
                    if h.oid().to_string() != sad.hash_alg {
                        return Err(RsspError::invalid("hashAlgorithmOID is not the SAD's"));
                    }
                }
                let len = HashAlg::from_oid(&sad.hash_alg.parse().map_err(RsspError::internal)?)
                    .map_or(32, HashAlg::output_len);
                if new_hashes.iter().any(|h| h.len() != len) {
                    return Err(RsspError::invalid("Invalid digest value length"));
                }
                let mut pinned = sad.pinned.clone();
                pinned.extend(new_hashes.iter().map(|h| B64.encode(h)));
                if pinned.len() as i64 > sad.remaining {
                    return Err(RsspError::invalid(text::TOO_MANY_SIGNATURES));
                }
                tx.execute("UPDATE sads SET spent = 1 WHERE id = $1", params![sad.id.clone()])?;
                tx.execute(
                    "INSERT INTO sads (id, credential_id, signer_id, token_id, hash_alg, hashes, remaining, expires_at, created_at, spent)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
                    params![new_id.clone(), c_id.clone(), who.signer_id.clone(), who.token_id.clone(), sad.hash_alg, pinned.join(","), sad.remaining, now() + lifetime as i64, now()],
                )?;
                audit(
                    tx,
                    &by,
                    "sad.extended",
                    json!({ "credential": c_id, "old_sad": &sad.id[..16], "sad": &new_id[..16], "new_hashes": new_hashes.iter().map(hex::encode).collect::<Vec<_>>() }),
                )
            })
            .await?;
        Ok(Sad { handle: new, expires_in: lifetime })
    }

    /// Checks the SAD and consumes `hashes` from it in one transaction;
    /// returns the credential to sign with.
    async fn consume(
        &self,
        caller: &Caller,
        credential_id: &str,
        handle: &str,
        hash: HashAlg,
        hashes: &[Vec<u8>],
        event: &'static str,
    ) -> Result<Credential, RsspError> {
        let by = crate::audit::by();
        if hashes.is_empty() {
            return Err(RsspError::invalid("Empty hash array"));
        }
        if hashes.len() > MAX_HASHES {
            return Err(RsspError::invalid(format!("at most {MAX_HASHES} hashes per request")));
        }
        if hashes.iter().any(|h| h.len() != hash.output_len()) {
            return Err(RsspError::invalid("Invalid digest value length"));
        }
        let (cm, who, c_id, sad, max) =
            (self.cm.clone(), caller.clone(), credential_id.to_string(), handle.to_string(), self.policy.max_failures);
        let hashes: Vec<Vec<u8>> = hashes.to_vec();
        self.store
            .write(move |tx| {
                let c = usable_credential(tx, &*cm, &who, &c_id, max)?;
                let row = sad_row(tx, &who, &c_id, &sad)?;
                if row.hash_alg != hash.oid().to_string() {
                    return Err(RsspError::invalid("hashAlgorithmOID is not the one the SAD authorised"));
                }
                let mut pinned = row.pinned.clone();
                for h in &hashes {
                    let b = B64.encode(h);
                    let i = pinned
                        .iter()
                        .position(|p| *p == b)
                        .ok_or_else(|| RsspError::invalid(text::HASH_NOT_AUTHORIZED))?;
                    pinned.swap_remove(i);
                }
                let remaining = row.remaining - hashes.len() as i64;
                if remaining < 0 {
                    return Err(RsspError::invalid(text::TOO_MANY_SIGNATURES));
                }
                tx.execute(
                    "UPDATE sads SET hashes = $2, remaining = $3, spent = $4 WHERE id = $1",
                    params![row.id.clone(), pinned.join(","), remaining, i64::from(remaining == 0)],
                )?;
                // One entry per request naming every hash it signs (3.2.2.4).
                let signed: Vec<String> = hashes.iter().map(hex::encode).collect();
                audit(tx, &by, event, json!({ "credential": c.id, "hashes": signed, "sad": &row.id[..16] }))?;
                Ok(c)
            })
            .await
    }

    /// `signatures/signHash`: one PKCS#1 v1.5 signature per hash, in order.
    pub async fn sign_hashes(
        &self,
        caller: &Caller,
        credential_id: &str,
        handle: &str,
        hash: HashAlg,
        hashes: &[Vec<u8>],
    ) -> Result<Vec<Vec<u8>>, RsspError> {
        let c = self.consume(caller, credential_id, handle, hash, hashes, "signature").await?;
        let (cm, label, hashes) = (self.cm.clone(), c.key_label.clone(), hashes.to_vec());
        tokio::task::spawn_blocking(move || {
            let activation = Activation { _made_by_the_sam: () };
            hashes.iter().map(|h| cm.sign(&activation, &label, &hash.digest_info(h))).collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(RsspError::internal)?
        .map_err(RsspError::from)
    }

    /// `signatures/signDoc`: a detached CMS (CAdES-B-B) per document; the
    /// SAD must cover each document's SHA-256.
    pub async fn sign_documents(
        &self,
        caller: &Caller,
        credential_id: &str,
        handle: &str,
        documents: Vec<Vec<u8>>,
    ) -> Result<Vec<Vec<u8>>, RsspError> {
        let hashes: Vec<Vec<u8>> = documents.iter().map(|d| HashAlg::Sha256.digest(d)).collect();
        let c = match self.consume(caller, credential_id, handle, HashAlg::Sha256, &hashes, "signature.document").await
        {
            Err(e) if e.description() == text::HASH_NOT_AUTHORIZED => {
                return Err(RsspError::new(Code::InvalidHash, "a document's hash is not authorized by the SAD"))
            }
            other => other?,
        };
        let cert = <Certificate as der::Decode>::from_der(&c.certificate).map_err(RsspError::internal)?;
        let (cm, chain) = (self.cm.clone(), self.chain());
        tokio::task::spawn_blocking(move || {
            documents
                .iter()
                .map(|d| {
                    let options = pki::cms::SignOptions {
                        hash: HashAlg::Sha256,
                        detached: true,
                        signing_time: SystemTime::now(),
                    };
                    pki::cms::sign(d, &cert, &chain, &options, |digest_info| {
                        cm.sign(&Activation { _made_by_the_sam: () }, &c.key_label, digest_info)
                    })
                    .map_err(RsspError::internal)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(RsspError::internal)?
    }

    // ----- registration and the signer's own state changes -----

    /// Registers the holder of the card that signed `cms` (a `register`
    /// instruction) with `password` and the factor it names; the phone
    /// factor also needs the phone's authentication certificate and its
    /// signature over the same content, the confirm factor the confirmation
    /// key's attestation chain ([`crate::confirm::register`]).
    pub async fn register(
        &self,
        cms: &[u8],
        password: Zeroizing<String>,
        proof: FactorProof,
    ) -> Result<Registered, RsspError> {
        let FactorProof { phone, confirmation_key_chain } = proof;
        let by = crate::audit::by();
        let v = instruction::verify(cms, &self.jpki.sign_ca, &self.policy.service_name, SystemTime::now())?;
        let ins = &v.instruction;
        if ins.purpose != Purpose::Register {
            return Err(RsspError::denied("the instruction is not a registration"));
        }
        if password.chars().count() < self.policy.min_password {
            return Err(RsspError::invalid(format!(
                "the password must have at least {} characters",
                self.policy.min_password
            )));
        }
        let binding = ins.password_binding.as_deref().unwrap_or_default();
        if !secret::ct_eq(binding.as_bytes(), instruction::password_binding(&ins.nonce, &password).as_bytes()) {
            return Err(RsspError::denied("the password is not the one the card signed for (altered in transit?)"));
        }
        let factor = ins.factor.unwrap_or(Factor::Password);
        let name = pki::describe::holder_from_sign_certificate(&v.card).map(|h| h.name).ok_or_else(|| {
            RsspError::denied("the signing certificate carries no holder name: a JPKI signature certificate is needed")
        })?;
        let phone_certificate = match (factor, phone) {
            (Factor::Phone, Some((cert, signature))) => {
                let parsed = <Certificate as der::Decode>::from_der(&cert)
                    .map_err(|e| RsspError::invalid(format!("phone certificate: {e}")))?;
                pki::chain::verify_signed_by(&parsed, &self.jpki.auth_ca)
                    .and_then(|_| pki::chain::check_validity(&parsed, SystemTime::now()))
                    .map_err(|e| {
                        RsspError::denied(format!(
                            "the phone certificate is not a valid JPKI authentication certificate: {e}"
                        ))
                    })?;
                let spki = pki::cert::public_key_der(&parsed).map_err(RsspError::internal)?;
                pki::rsa::verify(&spki, HashAlg::Sha256, &v.content, &signature)
                    .map_err(|_| RsspError::denied("the phone's signature over the registration does not verify"))?;
                self.jpki.require_good(&cert, "phone's authentication certificate").await?;
                Some(cert)
            }
            (Factor::Phone, None) => {
                return Err(RsspError::invalid("the phone factor needs phone_certificate and phone_signature"))
            }
            (_, Some(_)) => return Err(RsspError::invalid("phone_certificate is only for the phone factor")),
            (_, None) => None,
        };
        let confirmation_key = match (factor, confirmation_key_chain) {
            (Factor::Confirm, Some(chain)) => Some(crate::confirm::register(
                self.device()?,
                &chain,
                &ins.nonce,
                ins.confirmation_key.as_deref(),
                SystemTime::now(),
            )?),
            (Factor::Confirm, None) => {
                self.device()?;
                return Err(RsspError::invalid(
                    "the confirm factor needs confirmation_key_chain (the key's attestation chain, leaf first)",
                ));
            }
            (_, Some(_)) => return Err(RsspError::invalid("confirmation_key_chain is only for the confirm factor")),
            (_, None) if ins.confirmation_key.is_some() => {
                return Err(RsspError::invalid(
                    "the instruction names a confirmation key: that is for the confirm factor",
                ))
            }
            (_, None) => None,
        };
        self.jpki.require_good(&v.card_certificate, "card's signature certificate").await?;
        // The nonce: once, for registration (2.1.1.3, 2.3.1.2 alike).
        let (nonce, card) = (ins.nonce.clone(), v.card_certificate.clone());
        let cm = self.cm.clone();
        self.store
            .write(move |tx| {
                if records::signer_by_card(tx, &*cm, &card)?.is_some() {
                    return Err(RsspError::new(Code::InvalidRequest, "this card is already registered"));
                }
                let n = tx.execute(
                    "UPDATE nonces SET used = 1 WHERE id = $1 AND purpose = 'register' AND used = 0 AND expires_at > $2",
                    params![nonce, now()],
                )?;
                if n == 0 {
                    return Err(RsspError::denied("the nonce is unknown, used or expired (replayed instruction?): ask for a new one"));
                }
                Ok(())
            })
            .await?;
        // The key, generated in the CM (3.1.1.3); its CSR signed inside the
        // SAM; the CA certifies only that key (3.1.1.4).
        let signer_id = records::new_id("s-");
        let credential_id = records::new_id("c-");
        let key_label = format!("k-{}", &credential_id[2..]);
        let cm = self.cm.clone();
        let label = key_label.clone();
        let subject = pki::names::name(&[(const_oid::db::rfc4519::CN, name.as_str())]);
        let (public_key, csr) = tokio::task::spawn_blocking(move || {
            let public = cm.generate(&label)?;
            let csr =
                crate::csr::build(subject, &public, |di| cm.sign(&Activation { _made_by_the_sam: () }, &label, di))
                    .map_err(RsspError::internal)?;
            Ok::<_, RsspError>((public, csr))
        })
        .await
        .map_err(RsspError::internal)??;
        let not_after = v.card.tbs_certificate.validity.not_after.to_system_time();
        let cert = self.ca.certify(&csr, &public_key, &name, not_after).map_err(RsspError::internal)?;
        let cert_der = der::Encode::to_der(&cert).map_err(RsspError::internal)?;
        let password_hash = {
            let pw = password.clone();
            tokio::task::spawn_blocking(move || hash_password(&pw)).await.map_err(RsspError::internal)??
        };
        let (totp_sealed, totp_uri) = if factor == Factor::Totp {
            let mut seed = Zeroizing::new([0u8; 20]);
            pki::fill_random(&mut seed[..]);
            let sealed = self.cm.seal(signer_id.as_bytes(), &seed[..])?;
            (Some(sealed), Some(totp::uri(&seed[..], &self.policy.service_name, &signer_id)))
        } else {
            (None, None)
        };
        let signer = Signer {
            id: signer_id.clone(),
            name: name.clone(),
            card_certificate: v.card_certificate.clone(),
            password_hash,
            totp_sealed,
            phone_certificate,
            confirmation_key,
            login_failures: 0,
            created_at: now(),
        };
        let credential = Credential {
            id: credential_id.clone(),
            signer_id: signer_id.clone(),
            key_label,
            public_key,
            certificate: cert_der.clone(),
            factor,
            multisign: self.policy.multisign,
            status: Status::Enabled,
            failures: 0,
            created_at: now(),
        };
        let cm = self.cm.clone();
        let card_serial = hex::encode(v.card.tbs_certificate.serial_number.as_bytes());
        let cert_serial = hex::encode(cert.tbs_certificate.serial_number.as_bytes());
        let result = self
            .store
            .write(move |tx| {
                records::insert_signer(tx, &*cm, &signer)?;
                records::insert_credential(tx, &*cm, &credential)?;
                audit(
                    tx,
                    &by,
                    "registered",
                    json!({ "signer": signer.id, "credential": credential.id, "card_certificate_serial": card_serial,
                            "certificate_serial": cert_serial, "factor": credential.factor.as_str(), "key_label": credential.key_label }),
                )
            })
            .await;
        if let Err(e) = result {
            // Nothing refers to the key: destroy it rather than leave it.
            let _ = self.cm.destroy(&format!("k-{}", &credential_id[2..]));
            return Err(e);
        }
        Ok(Registered {
            signer_id,
            name,
            credential_id,
            certificate: B64.encode(&cert_der),
            level: factor.level(),
            factor,
            totp_uri,
        })
    }

    /// Suspends, resumes or deletes a credential on the signer's own
    /// instruction, signed with the card that registered them (3.3.1–3.3.2).
    pub async fn signer_instruction(&self, cms: &[u8]) -> Result<Status, RsspError> {
        let v = instruction::verify(cms, &self.jpki.sign_ca, &self.policy.service_name, SystemTime::now())?;
        let ins = v.instruction.clone();
        if ins.purpose == Purpose::Register {
            return Err(RsspError::denied("a registration is not a state change"));
        }
        let credential_id =
            ins.credential.clone().ok_or_else(|| RsspError::invalid("the instruction names no credential"))?;
        self.jpki.require_good(&v.card_certificate, "card's signature certificate").await?;
        let cm = self.cm.clone();
        let card = v.card_certificate.clone();
        let (nonce, purpose) = (ins.nonce.clone(), ins.purpose);
        let c = self
            .store
            .write(move |tx| {
                let signer = records::signer_by_card(tx, &*cm, &card)?
                    .ok_or_else(|| RsspError::denied("this card registered no signer here"))?;
                let c = records::credential(tx, &*cm, &credential_id)?
                    .filter(|c| c.signer_id == signer.id)
                    .ok_or_else(|| RsspError::invalid(text::INVALID_CREDENTIAL))?;
                let n = tx.execute(
                    "UPDATE nonces SET used = 1 WHERE id = $1 AND purpose = $2 AND used = 0 AND expires_at > $3",
                    params![nonce, purpose.as_str(), now()],
                )?;
                if n == 0 {
                    return Err(RsspError::denied(
                        "the nonce is unknown, used or expired (replayed instruction?): ask for a new one",
                    ));
                }
                Ok(c)
            })
            .await?;
        self.change_state(&c.id, purpose, json!({ "signer": c.signer_id })).await
    }

    /// An administrator's state change (unlock, suspend, resume, delete).
    pub async fn admin(&self, who: &Privileged, credential_id: &str, action: AdminAction) -> Result<Status, RsspError> {
        let by = crate::audit::by();
        if who.role != Role::Administrator {
            return Err(RsspError::denied(format!(
                "{} is an auditor: only administrators change credentials",
                who.name
            )));
        }
        let requested_by = json!({ "administrator": who.name });
        match action {
            AdminAction::Suspend => self.change_state(credential_id, Purpose::Suspend, requested_by).await,
            AdminAction::Resume => self.change_state(credential_id, Purpose::Resume, requested_by).await,
            AdminAction::Delete => self.change_state(credential_id, Purpose::Delete, requested_by).await,
            AdminAction::Unlock => {
                let (cm, id) = (self.cm.clone(), credential_id.to_string());
                self.store
                    .write(move |tx| {
                        let mut c = records::credential(tx, &*cm, &id)?
                            .ok_or_else(|| RsspError::invalid(text::INVALID_CREDENTIAL))?;
                        c.failures = 0;
                        records::update_credential(tx, &*cm, &c)?;
                        let mut s = records::signer(tx, &*cm, &c.signer_id)?
                            .ok_or_else(|| RsspError::internal("credential without signer"))?;
                        s.login_failures = 0;
                        records::update_signer(tx, &*cm, &s)?;
                        audit(
                            tx,
                            &by,
                            "credential.unlocked",
                            json!({ "credential": c.id, "requested_by": requested_by }),
                        )?;
                        Ok(c.status)
                    })
                    .await
            }
        }
    }

    async fn change_state(
        &self,
        credential_id: &str,
        purpose: Purpose,
        requested_by: serde_json::Value,
    ) -> Result<Status, RsspError> {
        let by = crate::audit::by();
        let (cm, id) = (self.cm.clone(), credential_id.to_string());
        let status = self
            .store
            .write(move |tx| {
                let mut c =
                    records::credential(tx, &*cm, &id)?.ok_or_else(|| RsspError::invalid(text::INVALID_CREDENTIAL))?;
                let next = match (c.status, purpose) {
                    (Status::Deleted, _) => {
                        return Err(RsspError::invalid("the credential was deleted; its key no longer exists"))
                    }
                    (Status::Enabled, Purpose::Suspend) => Status::Suspended,
                    (Status::Suspended, Purpose::Resume) => Status::Enabled,
                    (_, Purpose::Delete) => Status::Deleted,
                    (s, p) => {
                        return Err(RsspError::invalid(format!(
                            "cannot {} a credential that is {}",
                            p.as_str(),
                            s.as_str()
                        )))
                    }
                };
                c.status = next;
                records::update_credential(tx, &*cm, &c)?;
                // Outstanding SADs die with the change (SAM-13).
                tx.execute("UPDATE sads SET spent = 1 WHERE credential_id = $1", params![c.id.clone()])?;
                let event = match next {
                    Status::Suspended => "credential.suspended",
                    Status::Enabled => "credential.resumed",
                    Status::Deleted => "credential.deleted",
                };
                audit(tx, &by, event, json!({ "credential": c.id, "requested_by": requested_by }))?;
                Ok((next, c.key_label))
            })
            .await?;
        if status.0 == Status::Deleted {
            // After the commit: the record says deleted before the key goes,
            // so a crash in between leaves a key nothing can reach.
            self.cm.destroy(&status.1)?;
        }
        Ok(status.0)
    }
}

/// What an administrator may do to a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminAction {
    /// Reset the failure counters.
    Unlock,
    /// Suspend.
    Suspend,
    /// Resume.
    Resume,
    /// Delete (destroys the key).
    Delete,
}
