//! The verifier (RFC 9334 §4.1; background-check model, §5.2): appraises
//! the phone's evidence and the SE's key attestations against an appraisal
//! policy and the device-vendor metadata, and says so in an [`Ear`].
//! Every check of device-trust.md §2.4 is here, each with its reason code.

use crate::android::{self, KeyDescription, SecurityLevel, VerifiedBootState};
use crate::ear::{self, Appraisal, Ear, Status, Vector, VerifierId};
use crate::eat::{self, EatError};
use crate::ec::EcKey;
use crate::se_key::{self, KeySlot, SeKeyError};
use crate::x509::{verify_chain, ChainError};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The appraisal policy for evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Named in `ear_appraisal_policy_ids`.
    pub id: String,
    /// The JPKI app's package name.
    pub app_package: String,
    /// SHA-256 of the JPKI app's signing certificate(s), hex.
    pub app_signing_digests: Vec<String>,
    /// Minimum OS patch level (YYYYMM).
    pub min_os_patch_level: i64,
    /// Minimum vendor patch level (YYYYMMDD).
    pub min_vendor_patch_level: i64,
    /// How old evidence may be (its `iat`), seconds.
    pub max_evidence_age_secs: i64,
    /// How long a result is good for, seconds.
    pub result_lifetime_secs: i64,
}

impl Policy {
    /// A JPKI issuance policy named `id` for the app `app_package` signed
    /// by the certificate with SHA-256 `app_signing_digest` (hex): patches
    /// from January 2025 on, evidence at most 5 minutes old, results good
    /// for 15 minutes.
    pub fn jpki(id: &str, app_package: &str, app_signing_digest: &str) -> Self {
        Self {
            id: id.into(),
            app_package: app_package.into(),
            app_signing_digests: vec![app_signing_digest.to_lowercase()],
            min_os_patch_level: 202501,
            min_vendor_patch_level: 20250101,
            max_evidence_age_secs: 300,
            result_lifetime_secs: 900,
        }
    }
}

/// What a metadata entry vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// A phone vendor's key-attestation root.
    TeeVendor,
    /// An SE issuer's attestation root.
    SeIssuer,
}

/// One entry of the vendor metadata (modelled on a FIDO MDS3 entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Kind.
    pub kind: EntryKind,
    /// Who.
    pub description: String,
    /// Its roots (base64 DER).
    pub attestation_root_certificates: Vec<String>,
    /// Reference values: SHA-256 of the keys its OS images are signed with (hex).
    #[serde(default)]
    pub verified_boot_keys: Vec<String>,
    /// `CERTIFIED` or `REVOKED` (the whole vendor).
    pub status: String,
}

/// One entry of the status list (device-trust.md §2.5's format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// `REVOKED` or `SUSPENDED`.
    pub status: String,
    /// `KEY_COMPROMISE`, …
    pub reason: String,
}

/// The device-vendor metadata list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Serial number of this list (grows).
    pub no: u64,
    /// When the next list is due (RFC 3339 date).
    pub next_update: String,
    /// Vendors and SE issuers.
    pub entries: Vec<Entry>,
    /// Revoked or suspended attestation certificates by serial (lowercase
    /// hex, no leading zeros).
    #[serde(default)]
    pub status: BTreeMap<String, StatusEntry>,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

impl Metadata {
    /// A list of one phone vendor (its attestation root, DER, and the key
    /// its OS images are signed with, hex) and one SE issuer (its root),
    /// both certified, nothing revoked.
    pub fn of(vendor: (&str, &[u8], &str), se_issuer: (&str, &[u8])) -> Self {
        let entry = |kind, description: &str, root: &[u8], boot_keys: Vec<String>| Entry {
            kind,
            description: description.into(),
            attestation_root_certificates: vec![base64::engine::general_purpose::STANDARD.encode(root)],
            verified_boot_keys: boot_keys,
            status: "CERTIFIED".into(),
        };
        Self {
            no: 1,
            next_update: "2027-06-01".into(),
            entries: vec![
                entry(EntryKind::TeeVendor, vendor.0, vendor.1, vec![vendor.2.to_string()]),
                entry(EntryKind::SeIssuer, se_issuer.0, se_issuer.1, vec![]),
            ],
            status: BTreeMap::new(),
        }
    }

    fn roots(&self, kind: EntryKind) -> Vec<(Vec<u8>, &Entry)> {
        self.entries
            .iter()
            .filter(|e| e.kind == kind)
            .flat_map(|e| e.attestation_root_certificates.iter().filter_map(|r| b64(r)).map(move |r| (r, e)))
            .collect()
    }

    /// Whether the certificate with serial `serial` (status-list key) is revoked or suspended.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.status.contains_key(serial)
    }

    /// The SE issuer roots (DER) that are not revoked.
    pub fn se_issuer_roots(&self) -> Vec<Vec<u8>> {
        self.roots(EntryKind::SeIssuer).into_iter().filter(|(_, e)| e.status != "REVOKED").map(|(r, _)| r).collect()
    }
}

/// Why something was not trusted: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// Evidence not parseable or not our profile.
    #[error("the evidence is malformed: {0}")]
    EvidenceMalformed(String),
    /// The evidence's signature failed under its attested key.
    #[error("the evidence's signature does not verify under its attested key")]
    EvidenceSignature,
    /// The attestation chain is broken.
    #[error("the key attestation chain is broken: {0}")]
    ChainInvalid(ChainError),
    /// The chain ends at no known vendor root.
    #[error("the key attestation chains to no known phone vendor")]
    UnknownVendor,
    /// The vendor is revoked in the metadata.
    #[error("the phone vendor's attestation root is revoked")]
    VendorRevoked,
    /// An attestation certificate is on the status list.
    #[error("the phone's attestation key {0} is revoked")]
    AttestationKeyRevoked(String),
    /// No KeyDescription, or a malformed one.
    #[error("the key attestation has no valid KeyDescription: {0}")]
    KeyDescription(String),
    /// The challenge or the EAT nonce is not the verifier's.
    #[error("the evidence was made for another nonce (replayed or stale)")]
    NonceMismatch,
    /// `iat` too old or in the future.
    #[error("the evidence is too old")]
    EvidenceStale,
    /// A software keystore.
    #[error("the key is not in a TEE or StrongBox (security level {0:?})")]
    SoftwareKeystore(SecurityLevel),
    /// The key was imported, or is not the EC signing key asked for.
    #[error("the attested key is not an EC P-256 signing key generated in the TEE")]
    KeyProperties,
    /// Unlocked bootloader.
    #[error("the phone's bootloader is unlocked")]
    BootloaderUnlocked,
    /// Locked but on an image signed by another key: rooted or a custom ROM.
    #[error("the phone runs an OS image its vendor did not sign (rooted or custom ROM): boot state {0:?}")]
    BootNotVerified(VerifiedBootState),
    /// Verified, by a key not among the vendor's.
    #[error("the phone's verified-boot key is not one of its vendor's")]
    BootKeyUnknown,
    /// Patch level below policy.
    #[error("the phone's patch level {0} is below the policy's {1}")]
    PatchLevel(i64, i64),
    /// Another app.
    #[error("the key was made for package {0:?}, not the JPKI app")]
    AppPackage(String),
    /// Repackaged app: right name, wrong signing key.
    #[error("the app is not signed with the JPKI app's signing key")]
    AppSigningKey,
    /// The EAT says one thing, the attestation another.
    #[error("the evidence's app claims differ from the key attestation's")]
    ClaimsInconsistent,
    /// A key registered for confirmations without `[508]`.
    #[error("the key is not a trusted-confirmation key (no TRUSTED_CONFIRMATION_REQUIRED in hardware)")]
    NotConfirmationKey,
    /// Evidence from another phone.
    #[error("the evidence names SE {0}, but the keys are being made in SE {1}")]
    AnotherPhone(String, String),
    /// SE key attestation refused.
    #[error("{0}")]
    SeKey(SeKeyError),
}

impl Reason {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::EvidenceMalformed(_) => "evidence_malformed",
            Reason::EvidenceSignature => "evidence_signature",
            Reason::ChainInvalid(_) => "attestation_chain_invalid",
            Reason::UnknownVendor => "unknown_vendor",
            Reason::VendorRevoked => "vendor_revoked",
            Reason::AttestationKeyRevoked(_) => "attestation_key_revoked",
            Reason::KeyDescription(_) => "key_description_invalid",
            Reason::NonceMismatch => "nonce_mismatch",
            Reason::EvidenceStale => "evidence_stale",
            Reason::SoftwareKeystore(_) => "software_keystore",
            Reason::KeyProperties => "key_properties",
            Reason::BootloaderUnlocked => "bootloader_unlocked",
            Reason::BootNotVerified(_) => "boot_not_verified",
            Reason::BootKeyUnknown => "boot_key_unknown",
            Reason::PatchLevel(..) => "patch_level",
            Reason::AppPackage(_) => "app_package",
            Reason::AppSigningKey => "app_signing_key",
            Reason::ClaimsInconsistent => "claims_inconsistent",
            Reason::AnotherPhone(..) => "another_phone",
            Reason::NotConfirmationKey => "not_confirmation_key",
            Reason::SeKey(SeKeyError::Chain(ChainError::UnknownRoot)) => "se_unknown_issuer",
            Reason::SeKey(SeKeyError::Chain(_)) => "se_attestation_chain_invalid",
            Reason::SeKey(SeKeyError::Revoked(_)) => "se_attestation_key_revoked",
            Reason::SeKey(SeKeyError::Malformed(_)) => "se_attestation_malformed",
            Reason::SeKey(SeKeyError::AnotherKey) => "se_another_key",
            Reason::SeKey(SeKeyError::AnotherSe) => "se_another_se",
            Reason::SeKey(SeKeyError::AnotherCommitment) => "se_another_commitment",
            Reason::SeKey(SeKeyError::AnotherSlot) => "se_another_slot",
        }
    }

    /// The submodule and AR4SI claim it lowers, and the value.
    fn claim(&self) -> (&'static str, ClaimSlot, i8) {
        fn identity(v: &mut Vector) -> &mut Option<i8> {
            &mut v.instance_identity
        }
        fn configuration(v: &mut Vector) -> &mut Option<i8> {
            &mut v.configuration
        }
        fn executables(v: &mut Vector) -> &mut Option<i8> {
            &mut v.executables
        }
        fn hardware(v: &mut Vector) -> &mut Option<i8> {
            &mut v.hardware
        }
        fn storage(v: &mut Vector) -> &mut Option<i8> {
            &mut v.storage_opaque
        }
        match self {
            Reason::EvidenceMalformed(_) | Reason::EvidenceSignature | Reason::ChainInvalid(_) => ("tee", identity, 99),
            Reason::KeyDescription(_) => ("tee", identity, 99),
            Reason::UnknownVendor => ("tee", hardware, 97),
            Reason::VendorRevoked => ("tee", hardware, 96),
            Reason::AttestationKeyRevoked(_) => ("tee", identity, 96),
            Reason::NonceMismatch | Reason::EvidenceStale => ("tee", identity, 96),
            Reason::SoftwareKeystore(_) => ("tee", hardware, 96),
            Reason::KeyProperties | Reason::NotConfirmationKey => ("tee", storage, 96),
            Reason::BootloaderUnlocked | Reason::BootNotVerified(_) => ("tee", executables, 96),
            Reason::BootKeyUnknown => ("tee", executables, 33),
            Reason::PatchLevel(..) => ("tee", configuration, 32),
            Reason::AppPackage(_) | Reason::AppSigningKey | Reason::ClaimsInconsistent => ("app", executables, 96),
            Reason::AnotherPhone(..) => ("se", identity, 96),
            Reason::SeKey(SeKeyError::Chain(ChainError::UnknownRoot)) => ("se", hardware, 97),
            Reason::SeKey(SeKeyError::Chain(_)) | Reason::SeKey(SeKeyError::Malformed(_)) => ("se", identity, 99),
            Reason::SeKey(_) => ("se", identity, 96),
        }
    }
}

/// Picks one AR4SI claim of a trustworthiness vector.
type ClaimSlot = fn(&mut Vector) -> &mut Option<i8>;

/// One generated key to appraise: its slot, its SubjectPublicKeyInfo and
/// the SE's attestation chain of it (leaf first).
pub type AttestedKey = (KeySlot, Vec<u8>, Vec<Vec<u8>>);

/// The verifier: policy, metadata, and the key its results are signed with.
#[derive(Debug, Clone)]
pub struct Verifier {
    /// The appraisal policy.
    pub policy: Policy,
    /// The vendor metadata.
    pub metadata: Metadata,
    key: EcKey,
    build: String,
}

/// An appraisal under way: what was found, per submodule.
#[derive(Debug, Clone)]
pub struct Appraised {
    /// Reasons found, in order.
    pub findings: Vec<Reason>,
    vectors: BTreeMap<&'static str, Vector>,
    /// The SE the evidence names.
    pub se_identifier: Vec<u8>,
    /// The nonce appraised against.
    pub nonce: Vec<u8>,
    /// The reference boot keys of the vendor the chain ended at.
    boot_keys: Vec<String>,
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Appraised {
    /// An appraisal of evidence for `nonce` with nothing found yet.
    pub fn new(nonce: &[u8]) -> Self {
        let affirming = Vector {
            instance_identity: Some(2),
            hardware: Some(2),
            executables: Some(2),
            configuration: Some(2),
            ..Default::default()
        };
        let vectors = [
            ("tee", Vector { runtime_opaque: Some(2), storage_opaque: Some(2), ..affirming.clone() }),
            ("app", Vector { executables: Some(2), ..Default::default() }),
        ]
        .into();
        Self { findings: vec![], vectors, se_identifier: vec![], nonce: nonce.to_vec(), boot_keys: vec![] }
    }

    fn found(&mut self, reason: Reason) {
        let (submod, field, value) = reason.claim();
        let v = self.vectors.entry(submod).or_default();
        let slot = field(v);
        // The worst applicable value stays (AR4SI).
        if slot.is_none_or(|old| Status::of(old) < Status::of(value)) {
            *slot = Some(value);
        }
        self.findings.push(reason);
    }

    /// The overall tier: the worst submodule's.
    pub fn status(&self) -> Status {
        self.vectors.values().map(Vector::status).max().unwrap_or(Status::None)
    }

    /// The first finding of the worst tier (what a refusal names).
    pub fn worst(&self) -> Option<&Reason> {
        let worst = self.status();
        self.findings.iter().find(|r| Status::of(r.claim().2) == worst)
    }

    /// Appraises the SE's key attestations, made in provisioning: each
    /// `(slot, spki, chain)` must come from SE `se_identifier` (the one the
    /// keys are being made in, also the one the evidence named) and be bound
    /// to the application's `commitment`.
    pub fn appraise_se_keys(
        &mut self,
        metadata: &Metadata,
        keys: &[AttestedKey],
        se_identifier: &[u8],
        commitment: &[u8],
        now: SystemTime,
    ) {
        if self.se_identifier != se_identifier {
            self.found(Reason::AnotherPhone(hex::encode_upper(&self.se_identifier), hex::encode_upper(se_identifier)));
        }
        // The SE's attestation certificate is the same for every key: once
        // it verified up to an SE issuer root (at `now`, not revoked), it
        // anchors the next keys' chains, whose own signatures, validity and
        // revocation are still checked (one ECDSA verification saved per key).
        let mut anchors = metadata.se_issuer_roots();
        let mut vector =
            Vector { instance_identity: Some(2), hardware: Some(2), storage_opaque: Some(2), ..Default::default() };
        for (slot, spki, chain) in keys {
            let expected = se_key::Expected { spki, se_identifier, slot: *slot, commitment };
            let verified = se_key::verify(chain, &anchors, &|s| metadata.is_revoked(s), &expected, now);
            if let (Ok(_), Some(attesting)) = (&verified, chain.get(1)) {
                if !anchors.contains(attesting) {
                    // First: a chain ending at it matches without a signature check.
                    anchors.insert(0, attesting.clone());
                }
            }
            if let Err(e) = verified {
                let reason = Reason::SeKey(e);
                let (_, field, value) = reason.claim();
                *field(&mut vector) = Some(value);
                self.findings.push(reason);
            }
        }
        let merged = self.vectors.entry("se").or_default();
        for (mine, theirs) in [
            (&mut merged.instance_identity, vector.instance_identity),
            (&mut merged.hardware, vector.hardware),
            (&mut merged.storage_opaque, vector.storage_opaque),
        ] {
            if mine.is_none_or(|m| theirs.is_some_and(|t| Status::of(m) < Status::of(t))) {
                *mine = theirs;
            }
        }
    }
}

impl Verifier {
    /// A verifier signing its results with `key`.
    pub fn new(policy: Policy, metadata: Metadata, key: EcKey, build: &str) -> Self {
        Self { policy, metadata, key, build: build.into() }
    }

    /// Its results' public key (SubjectPublicKeyInfo DER), for relying parties to pin.
    pub fn public_key(&self) -> Vec<u8> {
        self.key.spki()
    }

    /// Appraises the phone's `evidence` made for `nonce`.
    pub fn appraise(&self, evidence: &[u8], nonce: &[u8], now: SystemTime) -> Appraised {
        let mut out = Appraised::new(nonce);
        let opened = match eat::open(evidence) {
            Ok(o) => o,
            Err(EatError::BadSignature) => {
                out.found(Reason::EvidenceSignature);
                return out;
            }
            Err(EatError::Malformed(m)) => {
                out.found(Reason::EvidenceMalformed(m));
                return out;
            }
        };
        out.se_identifier = opened.claims.se_identifier.clone();
        if !self.appraise_chain(&mut out, &opened.chain, now) {
            // Nothing the chain says can be believed.
            return out;
        }
        let claims = &opened.claims;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(claims.nonce.as_slice(), nonce)) {
            out.found(Reason::NonceMismatch);
        }
        let age = secs(now) - claims.issued_at;
        if age > self.policy.max_evidence_age_secs || age < -60 {
            out.found(Reason::EvidenceStale);
        }
        let Ok(leaf) = crate::x509::Parsed::from_der(&opened.chain[0]) else { return out };
        let description = match leaf.extension(android::OID).map(KeyDescription::from_der) {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                out.found(Reason::KeyDescription(e.to_string()));
                return out;
            }
            None => {
                out.found(Reason::KeyDescription("the leaf carries no KeyDescription".into()));
                return out;
            }
        };
        self.appraise_description(&mut out, &description, nonce);
        // The EAT's app claims must be the OS's (the attestation's).
        if let Some(app) = description.application_id() {
            let packages: Vec<&[u8]> = app.package_infos.iter().map(|p| p.package_name.as_bytes()).collect();
            let digests: Vec<&[u8]> = app.signature_digests.iter().map(|d| d.as_bytes()).collect();
            let claimed: Vec<&[u8]> = claims.app_signing_digests.iter().map(Vec::as_slice).collect();
            if packages != [claims.app_package.as_bytes()] || digests != claimed {
                out.found(Reason::ClaimsInconsistent);
            }
        }
        out
    }

    /// Checks the chain; false when it did not verify to a listed vendor.
    fn appraise_chain(&self, out: &mut Appraised, chain: &[Vec<u8>], now: SystemTime) -> bool {
        let vendors = self.metadata.roots(EntryKind::TeeVendor);
        let roots: Vec<Vec<u8>> = vendors.iter().map(|(r, _)| r.clone()).collect();
        match verify_chain(chain, &roots, now) {
            Ok((parsed, r)) => {
                if vendors[r].1.status == "REVOKED" {
                    out.found(Reason::VendorRevoked);
                }
                if let Some(c) = parsed.iter().find(|c| self.metadata.is_revoked(&c.serial_hex())) {
                    out.found(Reason::AttestationKeyRevoked(c.serial_hex()));
                }
                // Only the leaf may carry a KeyDescription of a non-ATTEST_KEY key (§2.1).
                if parsed[1..].iter().any(|c| c.extension(android::OID).is_some()) {
                    out.found(Reason::KeyDescription("a certificate above the leaf carries one".into()));
                }
                out.boot_keys = vendors[r].1.verified_boot_keys.iter().map(|k| k.to_lowercase()).collect();
                true
            }
            Err(ChainError::UnknownRoot) => {
                out.found(Reason::UnknownVendor);
                false
            }
            Err(e) => {
                out.found(Reason::ChainInvalid(e));
                false
            }
        }
    }

    fn appraise_description(&self, out: &mut Appraised, d: &KeyDescription, nonce: &[u8]) {
        if !bool::from(subtle::ConstantTimeEq::ct_eq(d.attestation_challenge.as_bytes(), nonce)) {
            out.found(Reason::NonceMismatch);
        }
        for level in [d.attestation_security_level, d.key_mint_security_level] {
            if level == SecurityLevel::Software {
                out.found(Reason::SoftwareKeystore(level));
                break;
            }
        }
        let hw = &d.hardware_enforced;
        let sign_purpose = hw.purpose.as_ref().is_some_and(|p| p.iter().any(|v| *v == android::values::PURPOSE_SIGN));
        if hw.origin != Some(android::values::ORIGIN_GENERATED)
            || hw.algorithm != Some(android::values::ALGORITHM_EC)
            || hw.ec_curve != Some(android::values::CURVE_P256)
            || !sign_purpose
        {
            out.found(Reason::KeyProperties);
        }
        match &hw.root_of_trust {
            None => out.found(Reason::KeyDescription("no root of trust".into())),
            Some(rot) => {
                if !rot.device_locked || rot.verified_boot_state == VerifiedBootState::Unverified {
                    out.found(Reason::BootloaderUnlocked);
                } else if rot.verified_boot_state != VerifiedBootState::Verified {
                    out.found(Reason::BootNotVerified(rot.verified_boot_state));
                } else if !out.boot_keys.contains(&hex::encode(rot.verified_boot_key.as_bytes())) {
                    out.found(Reason::BootKeyUnknown);
                }
            }
        }
        let os = hw.os_patch_level.unwrap_or(0);
        if os < self.policy.min_os_patch_level {
            out.found(Reason::PatchLevel(os, self.policy.min_os_patch_level));
        } else if hw.vendor_patch_level.unwrap_or(0) < self.policy.min_vendor_patch_level {
            out.found(Reason::PatchLevel(hw.vendor_patch_level.unwrap_or(0), self.policy.min_vendor_patch_level));
        }
        // The app, as keystore2 named it (software-enforced: only as good as the boot state).
        match d.application_id() {
            None => out.found(Reason::AppPackage(String::new())),
            Some(app) => {
                let names: Vec<String> = app
                    .package_infos
                    .iter()
                    .map(|p| String::from_utf8_lossy(p.package_name.as_bytes()).into_owned())
                    .collect();
                if names != [self.policy.app_package.clone()] {
                    out.found(Reason::AppPackage(names.join(",")));
                }
                let digests: Vec<String> = app.signature_digests.iter().map(|d| hex::encode(d.as_bytes())).collect();
                let allowed: Vec<String> = self.policy.app_signing_digests.iter().map(|d| d.to_lowercase()).collect();
                if digests.is_empty() || digests.iter().any(|d| !allowed.contains(d)) {
                    out.found(Reason::AppSigningKey);
                }
            }
        }
    }

    /// A relying party registering a holder's confirmation key: its
    /// attestation `chain` (for `challenge`) must pass every check evidence
    /// passes, and the key must need the trusted UI's confirmation (`[508]`,
    /// device-trust.md §3). Returns the key (SubjectPublicKeyInfo DER).
    pub fn confirmation_key(
        &self,
        chain: &[Vec<u8>],
        challenge: &[u8],
        now: SystemTime,
    ) -> Result<Vec<u8>, Vec<Reason>> {
        let mut out = Appraised::new(challenge);
        if !self.appraise_chain(&mut out, chain, now) {
            return Err(out.findings);
        }
        let leaf = crate::x509::Parsed::from_der(&chain[0]).map_err(|e| vec![Reason::KeyDescription(e.to_string())])?;
        match leaf.extension(android::OID).map(KeyDescription::from_der) {
            Some(Ok(d)) => {
                self.appraise_description(&mut out, &d, challenge);
                if d.hardware_enforced.trusted_confirmation_required.is_none() {
                    out.found(Reason::NotConfirmationKey);
                }
            }
            Some(Err(e)) => out.found(Reason::KeyDescription(e.to_string())),
            None => out.found(Reason::KeyDescription("the leaf carries no KeyDescription".into())),
        }
        if out.status() == Status::Affirming {
            Ok(leaf.spki())
        } else {
            Err(out.findings)
        }
    }

    /// The attestation result for `appraised`, signed.
    pub fn result(&self, appraised: &Appraised, now: SystemTime) -> (Ear, String) {
        let policy = vec![self.policy.id.clone()];
        let submods: BTreeMap<String, Appraisal> = appraised
            .vectors
            .iter()
            .map(|(name, vector)| {
                let reasons =
                    appraised.findings.iter().filter(|r| r.claim().0 == *name).map(|r| r.code().to_string()).collect();
                let appraisal = Appraisal {
                    ear_status: vector.status(),
                    ear_trustworthiness_vector: vector.clone(),
                    ear_appraisal_policy_ids: policy.clone(),
                    openjpki_reasons: reasons,
                };
                (name.to_string(), appraisal)
            })
            .collect();
        let ear = Ear {
            eat_profile: ear::PROFILE.into(),
            iat: secs(now),
            exp: secs(now) + self.policy.result_lifetime_secs,
            ear_verifier_id: VerifierId { developer: "openjpki".into(), build: self.build.clone() },
            eat_nonce: ear::encode_nonce(&appraised.nonce),
            ear_status: appraised.status(),
            submods,
            openjpki_se_identifier: hex::encode_upper(&appraised.se_identifier),
        };
        let token = ear::sign(&ear, &self.key);
        (ear, token)
    }
}

/// Why a relying party refused a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    /// Signature, expiry, profile.
    #[error(transparent)]
    Token(#[from] ear::EarError),
    /// Not affirming.
    #[error("the attestation result is {0:?}: {1}")]
    NotAffirming(Status, String),
    /// A submodule is missing.
    #[error("the attestation result has no appraisal of {0:?}")]
    Missing(&'static str),
    /// For another nonce.
    #[error("the attestation result is for another application's nonce")]
    AnotherNonce,
    /// For another SE.
    #[error("the attestation result is for another SE")]
    AnotherSe,
}

/// A relying party's appraisal policy for attestation results (the JPKI
/// service's): signed by the pinned verifier, unexpired, affirming overall
/// and for each of "tee", "app" and "se", for `nonce` and `se_identifier`.
pub fn check_result(
    token: &str,
    verifier_spki: &[u8],
    nonce: &[u8],
    se_identifier: &str,
    now: SystemTime,
) -> Result<Ear, ResultError> {
    let ear = ear::verify(token, verifier_spki, secs(now))?;
    for name in ["tee", "app", "se"] {
        let Some(s) = ear.submods.get(name) else { return Err(ResultError::Missing(name)) };
        if s.ear_status != Status::Affirming {
            return Err(ResultError::NotAffirming(s.ear_status, format!("{name}: {}", s.openjpki_reasons.join(", "))));
        }
    }
    if ear.ear_status != Status::Affirming {
        return Err(ResultError::NotAffirming(ear.ear_status, "overall".into()));
    }
    if ear.nonce().as_deref() != Some(nonce) {
        return Err(ResultError::AnotherNonce);
    }
    if !ear.openjpki_se_identifier.eq_ignore_ascii_case(se_identifier) {
        return Err(ResultError::AnotherSe);
    }
    Ok(ear)
}
