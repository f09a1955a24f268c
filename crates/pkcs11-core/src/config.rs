//! Which tokens the module offers: PC/SC readers, emulated cards and
//! phones, and whether the signature token is shown.
//!
//! Read once at `C_Initialize` from, in order (later wins):
//! 1. `/etc/jpki/pkcs11.toml`, 2. `$XDG_CONFIG_HOME/jpki/pkcs11.toml`
//!    (or `~/.config/…`), 3. the file named by `JPKI_PKCS11_CONFIG`,
//! 4. the environment: `JPKI_PKCS11_CARDS`, `JPKI_PKCS11_READERS`,
//!    `JPKI_PKCS11_READER`, `JPKI_PKCS11_HIDE_SIGN`.
//!
//! ```toml
//! readers = true                  # offer every PC/SC reader
//! reader = "SCR3310"              # … or only those whose name contains this
//! hide_sign_token = false         # true: only the authentication token
//! emulated = ["card:/home/me/card.json", "phone:/home/me/phone"]
//! ```
//!
//! `JPKI_PKCS11_CARDS` is the `emulated` list separated by `;`.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// An emulated JPKI token, for tests and demonstrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Emulated {
    /// A My Number card file made by `jpki card new`.
    Card(PathBuf),
    /// A phone directory made by `jpki phone new`, reached over NFC.
    Phone(PathBuf),
}

impl Emulated {
    /// Parses `card:PATH` or `phone:DIR`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(path) = text.strip_prefix("card:") {
            Ok(Emulated::Card(path.into()))
        } else if let Some(dir) = text.strip_prefix("phone:") {
            Ok(Emulated::Phone(dir.into()))
        } else {
            Err(format!("{text:?}: an emulated token is card:FILE or phone:DIR"))
        }
    }

    /// How the slot describes it.
    pub fn describe(&self) -> String {
        match self {
            Emulated::Card(p) => format!("emulated card {}", p.display()),
            Emulated::Phone(p) => format!("emulated phone {} (NFC)", p.display()),
        }
    }
}

/// The module's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Offer PC/SC readers.
    pub readers: bool,
    /// Only readers whose name contains this (case-insensitive).
    pub reader: Option<String>,
    /// Offer only the authentication token of each card (what OpenSC does
    /// for browsers).
    pub hide_sign_token: bool,
    /// Emulated tokens, first slots.
    pub emulated: Vec<Emulated>,
}

impl Default for Config {
    fn default() -> Self {
        Self { readers: true, reader: None, hide_sign_token: false, emulated: Vec::new() }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    readers: Option<bool>,
    reader: Option<String>,
    hide_sign_token: Option<bool>,
    emulated: Option<Vec<String>>,
}

impl Config {
    /// The configuration from the files and the environment; a file or a
    /// variable that does not parse is an error naming it.
    pub fn load() -> Result<Self, String> {
        let mut config = Config::default();
        let mut files = vec![PathBuf::from("/etc/jpki/pkcs11.toml")];
        if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME") {
            files.push(Path::new(&dir).join("jpki/pkcs11.toml"));
        } else if let Some(home) = std::env::var_os("HOME") {
            files.push(Path::new(&home).join(".config/jpki/pkcs11.toml"));
        }
        if let Some(path) = std::env::var_os("JPKI_PKCS11_CONFIG") {
            files.push(path.into());
        }
        for path in files {
            match std::fs::read_to_string(&path) {
                Ok(text) => config.apply_file(&text).map_err(|e| format!("{}: {e}", path.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        let var = |name: &str| std::env::var(name).ok();
        config.apply_env(var("JPKI_PKCS11_CARDS"), var("JPKI_PKCS11_READERS"), var("JPKI_PKCS11_HIDE_SIGN"))?;
        if let Some(r) = var("JPKI_PKCS11_READER") {
            config.reader = Some(r);
        }
        Ok(config)
    }

    /// Applies a TOML configuration file's text.
    pub fn apply_file(&mut self, text: &str) -> Result<(), String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(r) = file.readers {
            self.readers = r;
        }
        if file.reader.is_some() {
            self.reader = file.reader;
        }
        if let Some(h) = file.hide_sign_token {
            self.hide_sign_token = h;
        }
        if let Some(list) = file.emulated {
            self.emulated = list.iter().map(|e| Emulated::parse(e)).collect::<Result<_, _>>()?;
        }
        Ok(())
    }

    /// Applies the environment variables' values.
    pub fn apply_env(
        &mut self,
        cards: Option<String>,
        readers: Option<String>,
        hide_sign: Option<String>,
    ) -> Result<(), String> {
        if let Some(cards) = cards {
            self.emulated = cards
                .split(';')
                .filter(|s| !s.trim().is_empty())
                .map(Emulated::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("JPKI_PKCS11_CARDS: {e}"))?;
        }
        let flag = |name: &str, v: String| match v.as_str() {
            "1" | "true" | "yes" => Ok(true),
            "0" | "false" | "no" => Ok(false),
            other => Err(format!("{name}={other:?}: use 1 or 0")),
        };
        if let Some(v) = readers {
            self.readers = flag("JPKI_PKCS11_READERS", v)?;
        }
        if let Some(v) = hide_sign {
            self.hide_sign_token = flag("JPKI_PKCS11_HIDE_SIGN", v)?;
        }
        Ok(())
    }

    /// Whether the reader `name` is offered.
    pub fn offers_reader(&self, name: &str) -> bool {
        self.readers && self.reader.as_ref().is_none_or(|r| name.to_lowercase().contains(&r.to_lowercase()))
    }
}

/// Whether the host program is a browser, to which OpenSC ≥ 0.24 shows one
/// slot per card (fact sheet §1.2); we show it the authentication token.
pub fn host_is_browser() -> bool {
    let Ok(exe) = std::env::current_exe() else { return false };
    let name = exe.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    ["firefox", "chrome", "chromium", "msedge"].iter().any(|b| name.contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_variables_are_applied_and_bad_ones_named() {
        let mut c = Config::default();
        c.apply_file("reader = \"pcd 00 01\"\nreaders = false\nemulated = [\"card:/a.json\", \"phone:/p\"]").unwrap();
        assert_eq!(c.emulated, vec![Emulated::Card("/a.json".into()), Emulated::Phone("/p".into())]);
        assert!(!c.readers && !c.offers_reader("Virtual PCD 00 01"));
        c.readers = true;
        assert!(c.offers_reader("Virtual PCD 00 01") && !c.offers_reader("Virtual PCD 00 00"));
        c.apply_env(Some("card:/b.json;".into()), Some("1".into()), Some("yes".into())).unwrap();
        assert_eq!(c.emulated, vec![Emulated::Card("/b.json".into())]);
        assert!(c.readers && c.hide_sign_token);
        assert!(c.apply_file("readerz = true").unwrap_err().contains("readerz"));
        assert!(c.apply_env(Some("usb:/x".into()), None, None).unwrap_err().contains("card:FILE"));
        assert!(c.apply_env(None, Some("maybe".into()), None).unwrap_err().contains("JPKI_PKCS11_READERS"));
    }
}
