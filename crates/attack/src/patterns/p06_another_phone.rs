//! Pattern 6 — keys generated, registered or the SE identity read in a
//! phone other than the one where the card signed (⑧ ⑨).
//!
//! The holder's card signs an application on phone A (its commitment S).
//! The attacker relays the provisioning to its own phone B: entirely, or
//! splitting it — the identity read on A, the secure channel opened on B.
//! SHA-256(R) read inside SCP03 on B is not S, and A's domain keys do not
//! open B's domain: no key is certified for either phone.

use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD};
use crate::{lab_err, Attempts, Breach, Refusal};
use apdu::{Transport, TransportError};

/// Forwards the first `split` commands to `first`, the rest to `second`.
struct SplitRelay<A: Transport, B: Transport> {
    first: A,
    second: B,
    split: usize,
    sent: usize,
}

impl<A: Transport, B: Transport> Transport for SplitRelay<A, B> {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.sent += 1;
        if self.sent <= self.split {
            self.first.transmit_raw(command)
        } else {
            self.second.transmit_raw(command)
        }
    }
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let sp = lab.sp()?;
    let mut a = Attempts::default();

    let holders = lab.prepared_phone().await?;
    let attackers = lab.prepared_phone().await?;
    // With the holder's device evidence, relayed by the attacker's app: its
    // relay posts carry no assertion by the holder's app key.
    let signed = holders.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    attackers.commitment().map_err(lab_err)?;
    let (_, outcome) = sp.apply(&signed.cms, signed.evidence.as_deref(), &mut attackers.relay()).await;
    a.refused(
        "the holder's application and evidence are relayed into the attacker's phone by the attacker's app",
        "assertion_missing",
        outcome.map(|o| o.result),
    )?;
    // Even with the holder's app signing the relay posts: the evidence names
    // the holder's SE, and the SP-TSM refuses before any key is generated in
    // the attacker's.
    let signed = holders.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    attackers.commitment().map_err(lab_err)?;
    let holders_app = holders.attesting(&sp);
    let (_, outcome) = holders_app.apply(&signed.cms, signed.evidence.as_deref(), &mut attackers.relay()).await;
    a.refused(
        "the holder's application and evidence are provisioned into the attacker's phone",
        "another_phone",
        outcome.map(|o| o.result),
    )?;
    // With the attacker's own (genuine) phone's evidence for the same nonce:
    // the device is trusted, the commitment is not its SE's.
    let signed = holders.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    let attackers_evidence = attackers.evidence(&signed.nonce).map_err(lab_err)?;
    // The attacker's applet holds an R of its own.
    attackers.commitment().map_err(lab_err)?;
    let attackers_app = attackers.attesting(&sp);
    let (reference, outcome) =
        attackers_app.apply(&signed.cms, attackers_evidence.as_deref(), &mut attackers.relay()).await;
    a.refused(
        "the application signed on the holder's phone is provisioned into the attacker's phone, with its own evidence",
        "403 commitment_mismatch",
        outcome.map(|o| o.result),
    )?;
    let id = reference.ok_or_else(|| Breach::Lab("no application id".into()))?.id;
    let state = lab.application(&id).await?;
    a.saw("the SP-TSM's record of that application", "refused", state["state"].to_string())?;

    let signed = holders.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    // SELECT ISD and GET DATA CPLC go to the holder's phone, the rest to the attacker's.
    let mut split = SplitRelay { first: holders.relay(), second: attackers.relay(), split: 2, sent: 0 };
    let holders_app = holders.attesting(&sp);
    let (_, outcome) = holders_app.apply(&signed.cms, signed.evidence.as_deref(), &mut split).await;
    a.refused(
        "the SE identity is read on the holder's phone, the secure channel opened on the attacker's",
        "secure_channel_failed",
        outcome.map(|o| o.result),
    )?;

    for (who, phone) in [("holder's", &holders), ("attacker's", &attackers)] {
        let linked = lab.issued_to(&phone.se_identifier()).await?;
        a.unchanged("both relays", &format!("the certificates linked to the {who} phone"), &0, &linked)?;
    }
    a.done()
}
