//! The SAM's records and their SQL. Signer and credential rows carry a MAC
//! under the crypto module's record key over every field the SAM decides
//! on (JT2A II 3.1.1.1, 3.2.1.7, SAM-01/02): someone who can write the
//! database but not use the CM cannot swap a credential's key or owner,
//! reset its failure counter, re-enable it or change a password hash
//! unnoticed — the SAM refuses the row (and says so in its log).

use crate::cm::CryptoModule;
use crate::error::RsspError;
use csc_api::error::Code;
use store::{params, Row, Tx};

/// The second factor a credential's authorisation takes (JT2A II 3.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Factor {
    /// Level 1: the password alone.
    Password,
    /// Level 2: password and TOTP (RFC 6238).
    Totp,
    /// Level 2: password and the holder's JPKI phone authentication key
    /// signing a challenge that covers the exact hashes.
    Phone,
    /// Level 2: password and the holder's trusted confirmation on the
    /// phone (Android Protected Confirmation, docs/device-trust.md): a
    /// `[508]` TEE key signs the prompt listing the credential and the exact
    /// hashes, with the challenge as extra data.
    Confirm,
}

impl Factor {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Password => "password",
            Factor::Totp => "totp",
            Factor::Phone => "phone",
            Factor::Confirm => "confirm",
        }
    }

    /// Parses a stored or requested value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(Factor::Password),
            "totp" => Some(Factor::Totp),
            "phone" => Some(Factor::Phone),
            "confirm" => Some(Factor::Confirm),
            _ => None,
        }
    }

    /// The key authorisation level (JT2A II 3.1.4): 1 or 2.
    pub fn level(self) -> u8 {
        if self == Factor::Password {
            1
        } else {
            2
        }
    }
}

/// A credential's state (JT2A II 3.3, SAM-13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Usable.
    Enabled,
    /// Suspended by the signer or an administrator; can be resumed.
    Suspended,
    /// Deleted: the key is destroyed in the CM; final.
    Deleted,
}

impl Status {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Enabled => "enabled",
            Status::Suspended => "suspended",
            Status::Deleted => "deleted",
        }
    }

    fn parse(s: &str) -> Result<Self, store::StoreError> {
        match s {
            "enabled" => Ok(Status::Enabled),
            "suspended" => Ok(Status::Suspended),
            "deleted" => Ok(Status::Deleted),
            other => Err(store::StoreError::Decode(format!("credential status {other:?}"))),
        }
    }
}

/// A registered signer.
#[derive(Clone)]
pub struct Signer {
    /// `s-` and 16 hex digits: the `auth/login` user name.
    pub id: String,
    /// The holder's name, from the card's signature certificate.
    pub name: String,
    /// The signature certificate (DER) that registered the signer — the
    /// card's, or the JPKI phone's — and signs their later instructions.
    pub card_certificate: Vec<u8>,
    /// Argon2id PHC string of the password.
    pub password_hash: String,
    /// The TOTP seed, sealed by the CM.
    pub totp_sealed: Option<Vec<u8>>,
    /// The JPKI phone's authentication certificate (DER), for the phone factor.
    pub phone_certificate: Option<Vec<u8>>,
    /// The holder's confirmation key, for the confirm factor.
    pub confirmation_key: Option<ConfirmationKey>,
    /// Wrong passwords at `auth/login` since the last right one.
    pub login_failures: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// A holder's trusted-confirmation key as registered (factor `confirm`):
/// its Android attestation chain, leaf first, and the challenge it was
/// attested for (the registration's nonce). The chain is kept, not only the
/// key, so it is appraised again at every authorisation against the
/// metadata of the day (a vendor key revoked since is refused).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationKey {
    /// The attestation chain (base64 DER certificates, leaf first).
    pub chain: Vec<String>,
    /// The attestation challenge (the registration nonce).
    pub challenge: String,
}

impl ConfirmationKey {
    /// The chain, decoded.
    pub fn chain_der(&self) -> Result<Vec<Vec<u8>>, RsspError> {
        use base64::Engine as _;
        self.chain
            .iter()
            .map(|c| base64::engine::general_purpose::STANDARD.decode(c))
            .collect::<Result<_, _>>()
            .map_err(|_| RsspError::internal("signers.confirmation_key holds a chain that is not base64"))
    }

    fn to_text(&self) -> String {
        serde_json::to_string(self).expect("JSON of strings")
    }

    fn from_text(text: &str) -> Result<Self, RsspError> {
        serde_json::from_str(text).map_err(|_| RsspError::internal("signers.confirmation_key is not a registered key"))
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("id", &self.id).field("name", &self.name).finish_non_exhaustive()
    }
}

/// A signing credential: one key in the CM and its certificate.
#[derive(Debug, Clone)]
pub struct Credential {
    /// `c-` and 16 hex digits.
    pub id: String,
    /// Its signer.
    pub signer_id: String,
    /// The key's label in the CM.
    pub key_label: String,
    /// The public key (DER SPKI) the CM returned at generation.
    pub public_key: Vec<u8>,
    /// The certificate (DER).
    pub certificate: Vec<u8>,
    /// The authorisation factor.
    pub factor: Factor,
    /// Most signatures per authorisation.
    pub multisign: u32,
    /// State.
    pub status: Status,
    /// Wrong factors at authorisation since the last right ones.
    pub failures: i64,
    /// Unix seconds.
    pub created_at: i64,
}

fn integrity(what: &str, id: &str) -> RsspError {
    tracing::error!(record = what, id, "record MAC does not verify: the database was changed outside the SAM");
    RsspError::new(
        Code::ServerError,
        format!(
            "the {what} record {id} failed its integrity check; it cannot be used (an administrator must investigate)"
        ),
    )
}

fn signer_fields(s: &Signer) -> Vec<u8> {
    let mut fields = serde_json::json!([
        "signer",
        s.id,
        s.name,
        hex::encode(&s.card_certificate),
        s.password_hash,
        s.totp_sealed.as_ref().map(hex::encode),
        s.phone_certificate.as_ref().map(hex::encode),
        s.login_failures,
        s.created_at
    ]);
    // Appended only when present, so rows written before the confirm
    // factor existed keep their MACs.
    if let (Some(k), Some(list)) = (&s.confirmation_key, fields.as_array_mut()) {
        list.push(serde_json::json!(["confirmation_key", k.to_text()]));
    }
    serde_json::to_vec(&fields).expect("JSON of strings and numbers")
}

fn credential_fields(c: &Credential) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([
        "credential",
        c.id,
        c.signer_id,
        c.key_label,
        hex::encode(&c.public_key),
        hex::encode(&c.certificate),
        c.factor.as_str(),
        c.multisign,
        c.status.as_str(),
        c.failures,
        c.created_at
    ]))
    .expect("JSON of strings and numbers")
}

fn mac_ok(cm: &dyn CryptoModule, fields: &[u8], stored: &str) -> Result<bool, RsspError> {
    let expected = cm.mac(fields)?;
    Ok(hex::decode(stored).is_ok_and(|m| secret::ct_eq(&m, &expected)))
}

fn signer_row(row: &Row) -> Result<(Signer, String), RsspError> {
    let hex_col = |c: &str| -> Result<Option<Vec<u8>>, RsspError> {
        row.opt_text(c)?
            .map(|t| hex::decode(t).map_err(|_| RsspError::internal(format!("signers.{c} is not hex"))))
            .transpose()
    };
    Ok((
        Signer {
            id: row.text("id")?,
            name: row.text("name")?,
            card_certificate: hex_col("card_certificate")?.unwrap_or_default(),
            password_hash: row.text("password_hash")?,
            totp_sealed: hex_col("totp_sealed")?,
            phone_certificate: hex_col("phone_certificate")?,
            confirmation_key: row
                .opt_text("confirmation_key")?
                .as_deref()
                .map(ConfirmationKey::from_text)
                .transpose()?,
            login_failures: row.int("login_failures")?,
            created_at: row.int("created_at")?,
        },
        row.text("mac")?,
    ))
}

/// Inserts a new signer.
pub fn insert_signer(tx: &mut Tx<'_>, cm: &dyn CryptoModule, s: &Signer) -> Result<(), RsspError> {
    let mac = hex::encode(cm.mac(&signer_fields(s))?);
    tx.execute(
        "INSERT INTO signers (id, name, card_certificate, card_certificate_sha256, password_hash, totp_sealed, phone_certificate, login_failures, created_at, mac, confirmation_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        params![
            s.id.clone(),
            s.name.clone(),
            hex::encode(&s.card_certificate),
            hex::encode(pki::HashAlg::Sha256.digest(&s.card_certificate)),
            s.password_hash.clone(),
            s.totp_sealed.as_ref().map(hex::encode),
            s.phone_certificate.as_ref().map(hex::encode),
            s.login_failures,
            s.created_at,
            mac,
            s.confirmation_key.as_ref().map(ConfirmationKey::to_text)
        ],
    )?;
    Ok(())
}

/// Rewrites a signer's changing fields (and its MAC).
pub fn update_signer(tx: &mut Tx<'_>, cm: &dyn CryptoModule, s: &Signer) -> Result<(), RsspError> {
    let mac = hex::encode(cm.mac(&signer_fields(s))?);
    tx.execute(
        "UPDATE signers SET password_hash = $2, totp_sealed = $3, phone_certificate = $4, login_failures = $5, mac = $6 WHERE id = $1",
        params![
            s.id.clone(),
            s.password_hash.clone(),
            s.totp_sealed.as_ref().map(hex::encode),
            s.phone_certificate.as_ref().map(hex::encode),
            s.login_failures,
            mac
        ],
    )?;
    Ok(())
}

/// The signer `id`, its MAC checked.
pub fn signer(tx: &mut Tx<'_>, cm: &dyn CryptoModule, id: &str) -> Result<Option<Signer>, RsspError> {
    let sql = format!("SELECT * FROM signers WHERE id = $1{}", tx.for_update());
    let Some(row) = tx.optional(&sql, params![id])? else { return Ok(None) };
    let (s, mac) = signer_row(&row)?;
    if !mac_ok(cm, &signer_fields(&s), &mac)? {
        return Err(integrity("signer", id));
    }
    Ok(Some(s))
}

/// The signer registered with `card_certificate` (DER), if any.
pub fn signer_by_card(
    tx: &mut Tx<'_>,
    cm: &dyn CryptoModule,
    card_certificate: &[u8],
) -> Result<Option<Signer>, RsspError> {
    let sha256 = hex::encode(pki::HashAlg::Sha256.digest(card_certificate));
    let Some(row) = tx.optional("SELECT id FROM signers WHERE card_certificate_sha256 = $1", params![sha256])? else {
        return Ok(None);
    };
    // The lookup column is not under the MAC; the certificate it leads to is.
    Ok(signer(tx, cm, &row.text("id")?)?.filter(|s| s.card_certificate == card_certificate))
}

fn credential_row(row: &Row) -> Result<(Credential, String), RsspError> {
    let unhex = |c: &str| -> Result<Vec<u8>, RsspError> {
        hex::decode(row.text(c)?).map_err(|_| RsspError::internal(format!("credentials.{c} is not hex")))
    };
    Ok((
        Credential {
            id: row.text("id")?,
            signer_id: row.text("signer_id")?,
            key_label: row.text("key_label")?,
            public_key: unhex("public_key")?,
            certificate: unhex("certificate")?,
            factor: Factor::parse(&row.text("factor")?)
                .ok_or_else(|| RsspError::internal("credentials.factor holds an unknown factor"))?,
            multisign: u32::try_from(row.int("multisign")?).unwrap_or(1),
            status: Status::parse(&row.text("status")?)?,
            failures: row.int("failures")?,
            created_at: row.int("created_at")?,
        },
        row.text("mac")?,
    ))
}

/// Inserts a new credential.
pub fn insert_credential(tx: &mut Tx<'_>, cm: &dyn CryptoModule, c: &Credential) -> Result<(), RsspError> {
    let mac = hex::encode(cm.mac(&credential_fields(c))?);
    tx.execute(
        "INSERT INTO credentials (id, signer_id, key_label, public_key, certificate, factor, multisign, status, failures, created_at, mac)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        params![
            c.id.clone(),
            c.signer_id.clone(),
            c.key_label.clone(),
            hex::encode(&c.public_key),
            hex::encode(&c.certificate),
            c.factor.as_str(),
            i64::from(c.multisign),
            c.status.as_str(),
            c.failures,
            c.created_at,
            mac
        ],
    )?;
    Ok(())
}

/// Rewrites a credential's state and failure count (and its MAC).
pub fn update_credential(tx: &mut Tx<'_>, cm: &dyn CryptoModule, c: &Credential) -> Result<(), RsspError> {
    let mac = hex::encode(cm.mac(&credential_fields(c))?);
    tx.execute(
        "UPDATE credentials SET status = $2, failures = $3, mac = $4 WHERE id = $1",
        params![c.id.clone(), c.status.as_str(), c.failures, mac],
    )?;
    Ok(())
}

/// The credential `id`, its MAC checked.
pub fn credential(tx: &mut Tx<'_>, cm: &dyn CryptoModule, id: &str) -> Result<Option<Credential>, RsspError> {
    let sql = format!("SELECT * FROM credentials WHERE id = $1{}", tx.for_update());
    let Some(row) = tx.optional(&sql, params![id])? else { return Ok(None) };
    let (c, mac) = credential_row(&row)?;
    if !mac_ok(cm, &credential_fields(&c), &mac)? {
        return Err(integrity("credential", id));
    }
    Ok(Some(c))
}

/// The credentials of `signer_id`, oldest first, MACs checked.
pub fn credentials_of(tx: &mut Tx<'_>, cm: &dyn CryptoModule, signer_id: &str) -> Result<Vec<Credential>, RsspError> {
    let rows = tx.all("SELECT * FROM credentials WHERE signer_id = $1 ORDER BY created_at, id", params![signer_id])?;
    rows.iter()
        .map(|row| {
            let (c, mac) = credential_row(row)?;
            if !mac_ok(cm, &credential_fields(&c), &mac)? {
                return Err(integrity("credential", &c.id));
            }
            Ok(c)
        })
        .collect()
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A fresh identifier: `prefix` and 16 random hex digits.
pub fn new_id(prefix: &str) -> String {
    let mut b = [0u8; 8];
    pki::fill_random(&mut b);
    format!("{prefix}{}", hex::encode(b))
}
