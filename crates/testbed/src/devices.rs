//! Device trust in a deployment (docs/device-trust.md): the parties the
//! real world has and a local deployment must stand in for — the SE issuer
//! (certifies each SE's attestation key at manufacture), a phone vendor
//! (its attestation root and batch keys, the key its OS images are signed
//! with) — and the verifier's files: appraisal policy, vendor metadata,
//! result key. [`Factory`] makes phones in any device state.
//!
//! Files in `device-trust/`: `se-issuer.{key,pem}`, `vendor.{key,pem}`,
//! `batch.{key,pem}` (the vendor's attestation key for our model),
//! `revoked-batch.{key,pem}` (one on the status list), `policy.json`,
//! `metadata.json`, `verifier.key`, `verifier.pub.pem`.

use attest::appraisal::{EntryKind, Metadata, Policy, StatusEntry};
use attest::ec::{self, EcKey};
use attest::keystore::{Preset, Vendor};
use attest::x509::{Authority, Parsed};
use std::path::{Path, PathBuf};

/// The phone model the factory makes.
pub const MODEL: &str = "openjpki phone";
const VENDOR: &str = "openjpki Phone Vendor";

/// A device state for a new phone (`jpki phone new --state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneState {
    /// Locked, verified, patched: affirmed.
    Good,
    /// One of the keystore presets (unlocked, rooted, old patch, software).
    Preset(Preset),
    /// A vendor no metadata lists.
    OtherVendor,
    /// Attested with a batch key on the status list.
    RevokedKey,
}

impl PhoneState {
    /// Every name `parse` takes.
    pub const NAMES: &'static [&'static str] =
        &["good", "unlocked", "rooted", "old-patch", "software", "other-vendor", "revoked-key"];

    /// By name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "good" => Some(PhoneState::Good),
            "other-vendor" => Some(PhoneState::OtherVendor),
            "revoked-key" => Some(PhoneState::RevokedKey),
            other => Preset::parse(other).map(PhoneState::Preset),
        }
    }
}

fn dir_of(deployment: &Path) -> PathBuf {
    deployment.join("device-trust")
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    pki::fs::write_atomically(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn save(dir: &Path, name: &str, a: &Authority) -> Result<(), String> {
    write(&dir.join(format!("{name}.key")), a.key().to_pkcs8_pem().as_bytes())?;
    write(
        &dir.join(format!("{name}.pem")),
        der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &a.certificate)
            .map_err(|e| e.to_string())?
            .as_bytes(),
    )
}

fn load(dir: &Path, name: &str, cn: &str) -> Result<Authority, String> {
    let read = |f: String| {
        std::fs::read_to_string(dir.join(&f)).map_err(|e| {
            format!("{}: {e}; make the deployment again with `jpki serve all --init`", dir.join(&f).display())
        })
    };
    let key = EcKey::from_pkcs8_pem(&read(format!("{name}.key"))?).map_err(|e| e.to_string())?;
    let (_, cert) = der::pem::decode_vec(read(format!("{name}.pem"))?.as_bytes()).map_err(|e| e.to_string())?;
    Ok(Authority::from_parts(cn, key, cert))
}

/// Writes `device-trust/` for a deployment whose JPKI app's signing
/// certificate has SHA-256 `app_sha256` (hex).
pub fn init(deployment: &Path, app_sha256: &str) -> Result<(), String> {
    let dir = dir_of(deployment);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let err = |e: attest::Error| e.to_string();
    let se_issuer = Authority::new_root("openjpki SE Issuer", 30).map_err(err)?;
    let vendor = Vendor::new(VENDOR).map_err(err)?;
    let batch = vendor.attestation_key(MODEL).map_err(err)?;
    let revoked = vendor.attestation_key(MODEL).map_err(err)?;
    save(&dir, "se-issuer", &se_issuer)?;
    save(&dir, "vendor", &vendor.root)?;
    save(&dir, "batch", &batch)?;
    save(&dir, "revoked-batch", &revoked)?;
    let policy = Policy::jpki("openjpki:jpki-phone-issuance:1", phone::dir::JPKI_APP, app_sha256);
    let revoked_serial = Parsed::from_der(&revoked.certificate).map_err(err)?.serial_hex();
    let mut metadata = Metadata::of(
        (VENDOR, &vendor.root.certificate, &vendor.boot_key),
        ("openjpki SE Issuer", &se_issuer.certificate),
    );
    metadata.status.insert(revoked_serial, StatusEntry { status: "REVOKED".into(), reason: "KEY_COMPROMISE".into() });
    let json = |v: &dyn erased::Json| v.pretty();
    write(&dir.join("policy.json"), json(&policy).as_bytes())?;
    write(&dir.join("metadata.json"), json(&metadata).as_bytes())?;
    let verifier = EcKey::generate();
    write(&dir.join("verifier.key"), verifier.to_pkcs8_pem().as_bytes())?;
    write(&dir.join("verifier.pub.pem"), ec::spki_to_pem(&verifier.spki()).as_bytes())?;
    // The vendor's boot key is in the metadata; the factory reads it there.
    Ok(())
}

mod erased {
    /// Pretty JSON of a serializable value.
    pub trait Json {
        fn pretty(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn pretty(&self) -> String {
            serde_json::to_string_pretty(self).expect("serializes") + "\n"
        }
    }
}

/// The `[device_trust]` table of `sp-tsm.toml`.
pub const SP_TSM_TABLE: &str = "\n# Device trust (docs/device-trust.md).\n[device_trust]\n\
    policy = \"device-trust/policy.json\"\nmetadata = \"device-trust/metadata.json\"\n\
    verifier_key = \"device-trust/verifier.key\"\n";

/// The `[device_trust]` table of `jlis.toml`.
pub const JLIS_TABLE: &str = "\n# Device trust (docs/device-trust.md).\n[device_trust]\n\
    verifier_public_key = \"device-trust/verifier.pub.pem\"\n\
    se_issuer_certificates = [\"device-trust/se-issuer.pem\"]\n";

/// The `[device_trust]` table of `rssp.toml` (the confirm factor's keys).
pub const RSSP_TABLE: &str = "\n# Device trust: the confirm factor's keys (docs/device-trust.md).\n[device_trust]\n\
    policy = \"device-trust/policy.json\"\nmetadata = \"device-trust/metadata.json\"\n";

/// Makes phones as the SE issuer and the phone vendor would.
#[derive(Debug, Clone)]
pub struct Factory {
    master: gp::AesKey,
    se_issuer: Authority,
    vendor_root: Vec<u8>,
    boot_key: String,
    batch: Authority,
    revoked_batch: Authority,
}

impl Factory {
    /// The factory of the deployment in `deployment`.
    pub fn open(deployment: &Path) -> Result<Self, String> {
        let dir = dir_of(deployment);
        let metadata: Metadata = serde_json::from_slice(
            &std::fs::read(dir.join("metadata.json"))
                .map_err(|e| format!("{}: {e}", dir.join("metadata.json").display()))?,
        )
        .map_err(|e| e.to_string())?;
        let boot_key = metadata
            .entries
            .iter()
            .find(|e| e.kind == EntryKind::TeeVendor)
            .and_then(|e| e.verified_boot_keys.first().cloned())
            .ok_or("metadata.json lists no phone vendor")?;
        let vendor = load(&dir, "vendor", &format!("{VENDOR} Attestation Root"))?;
        Ok(Self {
            master: tsm::keys::key_file(&deployment.join("isd-master.key"), false)?,
            se_issuer: load(&dir, "se-issuer", "openjpki SE Issuer")?,
            vendor_root: vendor.certificate.clone(),
            boot_key,
            batch: load(&dir, "batch", &format!("{VENDOR} {MODEL} Attestation"))?,
            revoked_batch: load(&dir, "revoked-batch", &format!("{VENDOR} {MODEL} Attestation"))?,
        })
    }

    /// A new SE (random serial) with an attestation key from the SE issuer.
    pub fn se(&self) -> Result<se::SeState, String> {
        let mut serial = [0u8; 4];
        pki::fill_random(&mut serial);
        se::SecureElement::manufacture_attested(&self.master, &self.se_issuer, serial, [0x20, 0x26])
            .map_err(|e| e.to_string())
    }

    /// A TEE in `state`.
    pub fn tee(&self, state: PhoneState) -> Result<phone::tee::Tee, String> {
        Ok(match state {
            PhoneState::Good => {
                phone::tee::Tee::new(Preset::Good.state(&self.boot_key), self.batch.clone(), self.vendor_root.clone())
            }
            PhoneState::Preset(p) => {
                phone::tee::Tee::new(p.state(&self.boot_key), self.batch.clone(), self.vendor_root.clone())
            }
            PhoneState::RevokedKey => phone::tee::Tee::new(
                Preset::Good.state(&self.boot_key),
                self.revoked_batch.clone(),
                self.vendor_root.clone(),
            ),
            PhoneState::OtherVendor => {
                let other = Vendor::new("Unlisted Phones").map_err(|e| e.to_string())?;
                let batch = other.attestation_key("U1").map_err(|e| e.to_string())?;
                phone::tee::Tee::new(Preset::Good.state(&other.boot_key), batch, other.root.certificate.clone())
            }
        })
    }

    /// A phone in memory: an attested SE, a TEE in `state`, the app
    /// `identity`, naming itself `model`.
    pub fn phone(&self, identity: phone::App, state: PhoneState, model: &str) -> Result<phone::app::JpkiApp, String> {
        let se = se::SecureElement::new(self.se()?, Box::new(se::MemoryNvm))?;
        Ok(phone::app::JpkiApp::new(phone::SeService::new(se), identity, model).with_tee(self.tee(state)?))
    }
}

impl Factory {
    /// For harnesses that play the SP-TSM towards the JPKI service directly
    /// (they hold its client certificate): what a genuine phone's issuance
    /// carries — an affirming attestation result signed with the
    /// deployment's verifier key for `nonce` and SE `se_identifier`, and an
    /// SE attestation (from a new SE attestation key for that SE, certified
    /// by the deployment's SE issuer) of `spki` in `slot` bound to
    /// `commitment`.
    pub fn direct_trust(
        &self,
        deployment: &Path,
        nonce: &[u8],
        se_identifier: &[u8; 10],
        spki: &[u8],
        slot: attest::se_key::KeySlot,
        commitment: &[u8],
    ) -> Result<(String, Vec<Vec<u8>>), String> {
        let key_file = dir_of(deployment).join("verifier.key");
        let verifier = EcKey::from_pkcs8_pem(
            &std::fs::read_to_string(&key_file).map_err(|e| format!("{}: {e}", key_file.display()))?,
        )
        .map_err(|e| e.to_string())?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let ear = attest::ear::Ear::affirming(nonce, se_identifier, now, 900, "harness");
        let se_key = attest::se_key::certify_se(&self.se_issuer, se_identifier).map_err(|e| e.to_string())?;
        let chain = se_key.attest(spki, se_identifier, b"harness", slot, commitment).map_err(|e| e.to_string())?;
        Ok((attest::ear::sign(&ear, &verifier), chain))
    }
}
