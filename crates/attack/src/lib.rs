//! The attack catalogue of the smartphone JPKI design (DESIGN.md, document
//! 2: ten mechanisms ①–⑩, sixteen attack patterns) as programs that really
//! attack the running parties, for `tests/attacks/` and `jpki attack`.
//!
//! - [`Lab`]: a fresh deployment on loopback HTTPS with the attacker's
//!   network hops in place ([`Tap`]: record, rewrite, divert), cards,
//!   phones and the JPKI app.
//! - [`relay::RelayTap`]: the attacker on the phone's relay — records the
//!   TSM ↔ SE traffic, flips, drops, replays or reorders APDUs.
//! - [`fake`]: fake services with self-made or stolen TLS identities.
//! - [`patterns`]: one module per pattern; each makes its attempts and
//!   returns, per attempt, the refusal it met ([`Refusal`]) — or a
//!   [`Breach`] when an attempt got through, met another refusal than the
//!   mechanism's, or changed state it must not change.
//!
//! docs/threat-model.md maps each pattern to its mechanism, the code and
//! the test.
#![forbid(unsafe_code)]

pub mod fake;
pub mod lab;
pub mod patterns;
pub mod relay;
pub mod tap;

pub use lab::Lab;
pub use tap::{Direction, Tap};

/// One pattern of the catalogue.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Pattern {
    /// 1–16, as the catalogue numbers them.
    pub number: u8,
    /// What the attacker does.
    pub title: &'static str,
    /// The mechanisms that stop it (①–⑩) and how.
    pub mechanism: &'static str,
}

/// One attempt and the refusal it met.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// What the attacker tried.
    pub tried: String,
    /// The refusal the mechanism gives (a status word, an HTTP status and
    /// code, a TLS alert, an OMAPI exception), as asserted.
    pub expected: &'static str,
    /// What the party answered, in full.
    pub observed: String,
}

/// An attack that was not stopped the way the design says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    /// The attempt succeeded.
    #[error("{tried}: it succeeded ({what})")]
    Succeeded {
        /// The attempt.
        tried: String,
        /// What the attacker obtained.
        what: String,
    },
    /// It was refused, but not by the expected mechanism.
    #[error("{tried}: expected a refusal with {expected:?}, got {observed:?}")]
    Unexpected {
        /// The attempt.
        tried: String,
        /// The refusal the mechanism gives.
        expected: &'static str,
        /// What came back.
        observed: String,
    },
    /// It was refused but left something changed.
    #[error("{tried}: refused, but {what} changed")]
    Changed {
        /// The attempt.
        tried: String,
        /// What changed.
        what: String,
    },
    /// The lab itself failed (not a verdict on the system).
    #[error("the attack lab failed: {0}")]
    Lab(String),
}

/// A lab failure from any error (not a verdict on the system).
pub(crate) fn lab_err(e: impl std::fmt::Display) -> Breach {
    Breach::Lab(e.to_string())
}

impl From<String> for Breach {
    fn from(e: String) -> Self {
        Breach::Lab(e)
    }
}

/// The refusals one pattern met, in order.
#[derive(Debug, Default)]
pub struct Attempts {
    refusals: Vec<Refusal>,
}

impl Attempts {
    /// `result` must be an error whose text contains `expected`.
    pub fn refused<T: std::fmt::Debug, E: std::fmt::Display>(
        &mut self,
        tried: &str,
        expected: &'static str,
        result: Result<T, E>,
    ) -> Result<(), Breach> {
        match result {
            Ok(v) => {
                let what = format!("{v:?}");
                let what = if what.len() > 200 { format!("{}…", &what[..200]) } else { what };
                Err(Breach::Succeeded { tried: tried.into(), what })
            }
            Err(e) => self.saw(tried, expected, e.to_string()),
        }
    }

    /// `observed` (a refusal that is not a `Result`) must contain `expected`.
    pub fn saw(&mut self, tried: &str, expected: &'static str, observed: String) -> Result<(), Breach> {
        if !observed.contains(expected) {
            return Err(Breach::Unexpected { tried: tried.into(), expected, observed });
        }
        self.refusals.push(Refusal { tried: tried.into(), expected, observed });
        Ok(())
    }

    /// `before` and `after` must be equal (nothing the attempt may change did).
    pub fn unchanged<T: PartialEq>(&self, tried: &str, what: &str, before: &T, after: &T) -> Result<(), Breach> {
        if before != after {
            return Err(Breach::Changed { tried: tried.into(), what: what.into() });
        }
        Ok(())
    }

    /// The refusals met.
    pub fn done(self) -> Result<Vec<Refusal>, Breach> {
        Ok(self.refusals)
    }
}

/// A pattern's outcome.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// The pattern.
    pub pattern: Pattern,
    /// Its refusals, or why it was not stopped.
    #[serde(serialize_with = "outcome")]
    pub outcome: Result<Vec<Refusal>, Breach>,
}

fn outcome<S: serde::Serializer>(o: &Result<Vec<Refusal>, Breach>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(2))?;
    match o {
        Ok(refusals) => {
            map.serialize_entry("held", &true)?;
            map.serialize_entry("refusals", refusals)?;
        }
        Err(breach) => {
            map.serialize_entry("held", &false)?;
            map.serialize_entry("breach", &breach.to_string())?;
        }
    }
    map.end()
}

impl Report {
    /// Whether the system held.
    pub fn held(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// Runs pattern `number` against `lab`.
pub async fn run(lab: &Lab, number: u8) -> Result<Report, String> {
    let pattern = *patterns::CATALOGUE
        .iter()
        .find(|p| p.number == number)
        .ok_or_else(|| format!("there is no pattern {number}: the catalogue has 1 to 16"))?;
    let outcome = patterns::attempt(lab, number).await;
    Ok(Report { pattern, outcome })
}
