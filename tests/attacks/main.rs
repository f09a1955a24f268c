//! The attack catalogue against a running deployment: one file per pattern
//! of the design's security evaluation, each running the attacker program
//! from the `attack` crate against a fresh [`attack::Lab`] (the three
//! services on loopback HTTPS, the attacker's taps on both network hops,
//! cards and phones as emulators) and asserting the exact refusals it met,
//! in order. Each pattern also asserts inside that nothing changed: no
//! certificate, no key, no state transition, counters as before.
#![allow(missing_docs)]

mod p01_fake_app_to_se;
mod p02_no_scp03_keys;
mod p03_fake_sp_tsm_to_app;
mod p04_fake_sp_tsm_to_jlis;
mod p05_fake_jlis_to_sp_tsm;
mod p06_another_phone;
mod p07_phishing_app;
mod p08_someone_elses_card;
mod p09_someone_else_operates;
mod p10_eavesdrop_app_se;
mod p11_eavesdrop_app_sp_tsm;
mod p12_eavesdrop_sp_tsm_jlis;
mod p13_unapproved_operations;
mod p14_tampered_messages;
mod p15_tampered_processing;
mod p16_tampered_app;

/// Runs pattern `number` on a fresh lab; the refusals' expected texts, in
/// order, must be `expected`.
pub async fn attack(number: u8, expected: &[&str]) -> Vec<attack::Refusal> {
    let lab = attack::Lab::start().await.expect("the lab starts");
    let report = attack::run(&lab, number).await.expect("a pattern of the catalogue");
    let refusals = report.outcome.unwrap_or_else(|breach| panic!("pattern {number} was not stopped: {breach}"));
    let met: Vec<&str> = refusals.iter().map(|r| r.expected).collect();
    assert_eq!(met, expected, "pattern {number}: {refusals:#?}");
    for r in &refusals {
        assert!(r.observed.contains(r.expected), "{r:?}");
    }
    refusals
}
