//! An emulated phone on disk, as `jpki phone` keeps it in one directory:
//! its SE (`se.json`, durable after every APDU), the JPKI app's identity
//! (`app.json`: package name and signing certificate) and what the app
//! remembers (`phone.json`, [`PhoneRecord`]): the deployment it talks to,
//! its application, the serials of its certificates and the card
//! certificate they are linked to — as the real app keeps them to show
//! status without asking for a PIN.

use crate::App;
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tsm_api::PhoneCertType;

/// What went wrong with a phone directory; the message says what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DirError(String);

fn io(path: &Path, e: impl std::fmt::Display) -> DirError {
    DirError(format!("{}: {e}", path.display()))
}

/// `phone.json`: what the JPKI app remembers between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneRecord {
    /// The deployment's directory (`jpki serve all --dir`).
    pub services: PathBuf,
    /// The device model the application names.
    pub model: String,
    /// The SEI-TSM prepared the SE.
    #[serde(default)]
    pub prepared: bool,
    /// The last application's id at the SP-TSM.
    #[serde(default)]
    pub application: Option<String>,
    /// Its resume token (only this phone was given it; needed to resume).
    #[serde(default)]
    pub resume_token: Option<String>,
    /// Serial (hex) of the card's signature certificate that signed it.
    #[serde(default)]
    pub card_certificate: Option<String>,
    /// The phone certificates provisioned: type and serial (hex).
    #[serde(default)]
    pub certificates: Vec<IssuedCertificate>,
    /// The holder revoked them and the SP-TSM deleted the keys.
    #[serde(default)]
    pub keys_deleted: bool,
}

/// One provisioned phone certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedCertificate {
    /// `auth` or `sign`.
    #[serde(rename = "type")]
    pub kind: PhoneCertType,
    /// Serial number (hex).
    pub serial: String,
}

/// A phone's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneDir {
    path: PathBuf,
}

/// The JPKI app's package name.
pub const JPKI_APP: &str = "jp.go.jpki.app";

#[derive(Serialize, Deserialize)]
struct AppFile {
    name: String,
    signing_certificate: String,
}

impl PhoneDir {
    /// The phone in `path` (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SE file.
    pub fn se_file(&self) -> PathBuf {
        self.path.join("se.json")
    }

    fn app_file(&self) -> PathBuf {
        self.path.join("app.json")
    }

    fn tee_file(&self) -> PathBuf {
        self.path.join("tee.json")
    }

    /// Writes the phone's TEE (`tee.json`: device state, attestation key).
    pub fn write_tee(&self, tee: &crate::tee::Tee) -> Result<(), DirError> {
        let json = serde_json::to_vec_pretty(&tee.to_file()).map_err(|e| io(&self.tee_file(), e))?;
        pki::fs::write_atomically(&self.tee_file(), &json).map_err(|e| io(&self.tee_file(), e))
    }

    /// The phone's TEE, if it has one (phones made before device trust do not).
    pub fn tee(&self) -> Result<Option<crate::tee::Tee>, DirError> {
        let path = self.tee_file();
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
        let file: crate::tee::TeeFile = serde_json::from_str(&text).map_err(|e| io(&path, e))?;
        crate::tee::Tee::from_file(&file).map(Some).map_err(|e| io(&path, e))
    }

    fn record_file(&self) -> PathBuf {
        self.path.join("phone.json")
    }

    /// Whether a phone (an SE) is already here.
    pub fn exists(&self) -> bool {
        self.se_file().exists()
    }

    /// Writes a factory-new SE `state` (the directory is created).
    pub fn write_se(&self, state: &se::SeState) -> Result<(), DirError> {
        std::fs::create_dir_all(&self.path).map_err(|e| io(&self.path, e))?;
        let json = serde_json::to_vec_pretty(state).map_err(|e| io(&self.se_file(), e))?;
        pki::fs::write_atomically(&self.se_file(), &json).map_err(|e| io(&self.se_file(), e))
    }

    /// Opens the SE, committing to its file after every change.
    pub fn open_se(&self) -> Result<se::SecureElement, DirError> {
        se::SecureElement::open(&self.se_file())
            .map_err(|e| DirError(format!("{e}; make a phone with `jpki phone new --dir {}`", self.path.display())))
    }

    /// Installs the JPKI app signed by `signing_certificate` (DER).
    pub fn install_app(&self, signing_certificate: &[u8]) -> Result<App, DirError> {
        let app = App::new(JPKI_APP, signing_certificate.to_vec());
        let file = AppFile { name: app.name.clone(), signing_certificate: STANDARD.encode(&app.signing_certificate) };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| io(&self.app_file(), e))?;
        pki::fs::write_atomically(&self.app_file(), &json).map_err(|e| io(&self.app_file(), e))?;
        Ok(app)
    }

    /// The installed app's identity: package name and signing certificate.
    pub fn app(&self) -> Result<App, DirError> {
        let path = self.app_file();
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let file: AppFile = serde_json::from_str(&text).map_err(|e| io(&path, e))?;
        let cert =
            STANDARD.decode(file.signing_certificate).map_err(|e| io(&path, format!("signing_certificate: {e}")))?;
        Ok(App::new(&file.name, cert))
    }

    /// What the app remembers.
    pub fn record(&self) -> Result<PhoneRecord, DirError> {
        let path = self.record_file();
        let text = std::fs::read_to_string(&path).map_err(|_| {
            DirError(format!(
                "no networked phone in {}: make one with `jpki phone new --dir {} --services SYS`",
                self.path.display(),
                self.path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| io(&path, e))
    }

    /// Saves what the app remembers.
    pub fn save_record(&self, record: &PhoneRecord) -> Result<(), DirError> {
        let path = self.record_file();
        let json = serde_json::to_vec_pretty(record).map_err(|e| io(&path, e))?;
        pki::fs::write_atomically(&path, &json).map_err(|e| io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_directory_keeps_se_app_and_record() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PhoneDir::new(tmp.path().join("phone"));
        assert!(!dir.exists());
        assert!(dir.record().unwrap_err().to_string().contains("jpki phone new"));
        let master = gp::AesKey::new(&[1; 32]).unwrap();
        dir.write_se(&se::SecureElement::manufacture(&master, [1, 2, 3, 4], [5, 6])).unwrap();
        assert!(dir.exists());
        dir.open_se().unwrap();
        let app = dir.install_app(b"cert").unwrap();
        assert_eq!(dir.app().unwrap(), app);
        let record = PhoneRecord { services: "/sys".into(), model: "m".into(), ..Default::default() };
        dir.save_record(&record).unwrap();
        assert_eq!(dir.record().unwrap().services, PathBuf::from("/sys"));
        std::fs::write(tmp.path().join("phone/app.json"), "{}").unwrap();
        assert!(dir.app().is_err());
    }
}
