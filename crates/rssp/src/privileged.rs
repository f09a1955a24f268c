//! The privileged users (JT2A II 3.1.2, 3.2.1.6–3.2.1.7, 3.2.2.1; SAM-14):
//! administrators and auditors, each named in `rssp.toml` with a role and
//! a bearer token in a file of their own. Tokens are compared in constant
//! time, all of them every time. They are a separate population from the
//! signers: a privileged token opens no CSC method, and no signer's token
//! opens the privileged API. Adding or changing a privileged user is a
//! change of the configuration, which only administrators make and whose
//! unauthorised change is detected (`config::Config::verify_seal`).

use crate::sam::{Privileged, Role};
use secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;

/// A `[[privileged]]` entry of `rssp.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The name the audit log records.
    pub name: String,
    /// `administrator` or `auditor`.
    pub role: Role,
    /// The file holding their bearer token.
    pub token_file: PathBuf,
}

/// The shortest token accepted.
pub const MIN_TOKEN: usize = 16;

/// The privileged users a service knows.
#[derive(Default)]
pub struct PrivilegedUsers(Vec<(Privileged, Secret)>);

impl std::fmt::Debug for PrivilegedUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(p, _)| p)).finish()
    }
}

impl PrivilegedUsers {
    /// Loads every entry: names unique and well formed, tokens long enough and all different.
    pub fn load(entries: &[Entry]) -> Result<Self, String> {
        let mut all: Vec<(Privileged, Secret)> = vec![];
        for e in entries {
            let ok = !e.name.is_empty()
                && e.name.len() <= 64
                && e.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                return Err(format!("privileged: name {:?} must be 1 to 64 of A-Z a-z 0-9 - _ .", e.name));
            }
            if all.iter().any(|(p, _)| p.name == e.name) {
                return Err(format!("privileged: the name {:?} is used twice", e.name));
            }
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(&e.token_file).map_err(|err| format!("{}: {err}", e.token_file.display()))?,
            );
            let token = text.trim();
            if token.len() < MIN_TOKEN {
                return Err(format!("{}: a token needs at least {MIN_TOKEN} characters", e.token_file.display()));
            }
            if all.iter().any(|(_, t)| t.ct_eq(token.as_bytes())) {
                return Err(format!("privileged: {:?} has another user's token", e.name));
            }
            all.push((Privileged { name: e.name.clone(), role: e.role }, Secret::new(token.as_bytes())));
        }
        Ok(Self(all))
    }

    /// The user whose token this is (every token compared).
    pub fn find(&self, token: &str) -> Option<Privileged> {
        let mut found = None;
        for (p, t) in &self.0 {
            if t.ct_eq(token.as_bytes()) {
                found = Some(p.clone());
            }
        }
        found
    }

    /// How many have `role`.
    pub fn count(&self, role: Role) -> usize {
        self.0.iter().filter(|(p, _)| p.role == role).count()
    }
}
