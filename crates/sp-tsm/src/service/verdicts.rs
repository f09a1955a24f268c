//! The device verdicts given at application, kept in memory until the
//! application's provisioning needs them (docs/device-trust.md "Measured"):
//! provisioning adds the SE's key attestations to the verdict instead of
//! appraising the same evidence again. A verdict is taken once; after a
//! restart, or for a second attempt, the stored evidence is appraised again
//! (as of the application) — the same answer, only slower.

use attest::appraisal::Appraised;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Verdicts kept at most (the oldest go first): one per application in
/// its first attempt.
const MAX_KEPT: usize = 10_000;

/// Application id → its verdict.
#[derive(Debug, Default)]
pub struct Verdicts(Mutex<HashMap<String, (Instant, Appraised)>>);

impl Verdicts {
    /// Keeps application `id`'s verdict.
    pub fn keep(&self, id: &str, verdict: Appraised) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= MAX_KEPT {
            if let Some(oldest) = kept.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone()) {
                kept.remove(&oldest);
            }
        }
        kept.insert(id.to_string(), (Instant::now(), verdict));
    }

    /// Application `id`'s verdict, once.
    pub fn take(&self, id: &str) -> Option<Appraised> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_is_taken_once_and_the_oldest_goes_first() {
        let verdicts = Verdicts::default();
        verdicts.keep("a", Appraised::new(b"n"));
        assert!(verdicts.take("a").is_some());
        assert!(verdicts.take("a").is_none(), "taken once");
        for i in 0..=MAX_KEPT {
            verdicts.keep(&i.to_string(), Appraised::new(b"n"));
        }
        assert!(verdicts.take("0").is_none(), "the oldest went");
        assert!(verdicts.take(&MAX_KEPT.to_string()).is_some());
    }
}
