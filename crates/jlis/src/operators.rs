//! Named operators (issue 15, point 3): each with a bearer token of their
//! own and a role — `operator` (issues card certificates, revokes, holds,
//! releases) or `auditor` (reads records, links and metrics, changes
//! nothing). Every change records the operator's name in the audit log.
//!
//! `operator_token_file` in `jlis.toml` is the operator named `operator`;
//! `[[operators]]` entries add more (`name`, `role`, `token_file`).

use secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Changes and reads.
    Operator,
    /// Reads only.
    Auditor,
}

impl Role {
    /// Its name, as the audit log records it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Auditor => "auditor",
        }
    }
}

/// An `[[operators]]` entry of `jlis.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorEntry {
    /// The name the audit log records (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// `operator` or `auditor`.
    pub role: Role,
    /// The file holding this operator's bearer token.
    pub token_file: PathBuf,
}

/// The shortest token accepted.
pub const MIN_TOKEN: usize = 16;

/// An authenticated operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
}

struct Credential {
    known: Known,
    token: Secret,
}

/// The operators a service knows.
#[derive(Default)]
pub struct Operators(Vec<Credential>);

impl std::fmt::Debug for Operators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|c| &c.known)).finish()
    }
}

impl Operators {
    /// How many operators have `role`.
    pub fn count(&self, role: Role) -> usize {
        self.0.iter().filter(|c| c.known.role == role).count()
    }

    /// One operator named `operator` with `token` (tests, tools).
    pub fn single(token: &str) -> Self {
        let known = Known { name: "operator".into(), role: Role::Operator };
        Self(vec![Credential { known, token: Secret::new(token.as_bytes()) }])
    }

    /// The operators of a configuration: `operator` from `default_token`'s
    /// file, then each entry. Names must be unique and well formed, tokens
    /// at least [`MIN_TOKEN`] characters and all different.
    pub fn load(default_token: &std::path::Path, entries: &[OperatorEntry]) -> Result<Self, String> {
        let read = |path: &std::path::Path| -> Result<Secret, String> {
            let text =
                zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?);
            let token = text.trim();
            if token.len() < MIN_TOKEN {
                return Err(format!("{}: a token needs at least {MIN_TOKEN} characters", path.display()));
            }
            Ok(Secret::new(token.as_bytes()))
        };
        let mut all = vec![Credential {
            known: Known { name: "operator".into(), role: Role::Operator },
            token: read(default_token)?,
        }];
        for entry in entries {
            let well_formed = !entry.name.is_empty()
                && entry.name.len() <= 64
                && entry.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !well_formed {
                return Err(format!("operators: name {:?} must be 1 to 64 of A-Z a-z 0-9 - _ .", entry.name));
            }
            if all.iter().any(|c| c.known.name == entry.name) {
                return Err(format!("operators: the name {:?} is used twice", entry.name));
            }
            let token = read(&entry.token_file)?;
            if all.iter().any(|c| c.token.ct_eq(token.expose())) {
                return Err(format!("operators: {:?} has another operator's token", entry.name));
            }
            all.push(Credential { known: Known { name: entry.name.clone(), role: entry.role }, token });
        }
        Ok(Self(all))
    }

    /// The operator whose token this is. Every token is compared, in
    /// constant time, whichever matches.
    pub fn identify(&self, token: &str) -> Option<Known> {
        let mut found = None;
        for c in &self.0 {
            if c.token.ct_eq(token.as_bytes()) {
                found = Some(c.known.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_are_told_apart_by_token_and_bad_lists_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, token: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("{token}\n")).unwrap();
            path
        };
        let default = file("operator.token", "0123456789abcdef0123");
        let entry = |name: &str, role, token_file: PathBuf| OperatorEntry { name: name.into(), role, token_file };
        let auditor = entry("audit-1", Role::Auditor, file("a.token", "auditor-token-0123456789"));
        let ops = Operators::load(&default, std::slice::from_ref(&auditor)).unwrap();
        assert_eq!(
            ops.identify("0123456789abcdef0123").unwrap(),
            Known { name: "operator".into(), role: Role::Operator }
        );
        assert_eq!(ops.identify("auditor-token-0123456789").unwrap().role, Role::Auditor);
        assert_eq!(ops.identify("auditor-token-012345678"), None);
        assert_eq!(ops.identify(""), None);
        assert!(!format!("{ops:?}").contains("auditor-token"), "tokens stay out of Debug");

        let twice = Operators::load(&default, &[auditor.clone(), auditor.clone()]).unwrap_err();
        assert!(twice.contains("used twice"), "{twice}");
        let same_token = entry("other", Role::Operator, default.clone());
        assert!(Operators::load(&default, &[same_token]).unwrap_err().contains("another operator's token"));
        let short = entry("short", Role::Auditor, file("s.token", "short"));
        assert!(Operators::load(&default, &[short]).unwrap_err().contains("at least 16"));
        let bad_name = entry("a b", Role::Auditor, file("b.token", "another-token-0123456789"));
        assert!(Operators::load(&default, &[bad_name]).unwrap_err().contains("must be 1 to 64"));
    }
}
