//! The sixteen patterns, one module each, and the catalogue that names
//! them with the mechanisms that answer them.

use crate::{Breach, Lab, Pattern, Refusal};

pub mod p01_fake_app_to_se;
pub mod p02_no_scp03_keys;
pub mod p03_fake_sp_tsm_to_app;
pub mod p04_fake_sp_tsm_to_jlis;
pub mod p05_fake_jlis_to_sp_tsm;
pub mod p06_another_phone;
pub mod p07_phishing_app;
pub mod p08_someone_elses_card;
pub mod p09_someone_else_operates;
pub mod p10_eavesdrop_app_se;
pub mod p11_eavesdrop_app_sp_tsm;
pub mod p12_eavesdrop_sp_tsm_jlis;
pub mod p13_unapproved_operations;
pub mod p14_tampered_messages;
pub mod p15_tampered_processing;
pub mod p16_tampered_app;

/// The catalogue (document 2), in its order.
pub const CATALOGUE: [Pattern; 16] = [
    Pattern { number: 1, title: "a fake app talks to the SE", mechanism: "⑦ OMAPI access control: the ARA-M rule admits only the JPKI app's signing certificate, on OMAPI, on the relay and over NFC" },
    Pattern { number: 2, title: "a fake app or fake SP-TSM talks to the SE without SCP03 keys", mechanism: "⑨ SCP03: the security domains answer nothing but an authenticated secure channel" },
    Pattern { number: 3, title: "a fake SP-TSM talks to the phone app", mechanism: "⑩ TLS identity: the app trusts only the deployment's TLS CA and pins the SP-TSM's name" },
    Pattern { number: 4, title: "a fake SP-TSM talks to the JPKI service", mechanism: "⑩ mutual TLS with the SP-TSM's own client CA; the JPKI service checks the card-signed application itself" },
    Pattern { number: 5, title: "a fake JPKI service talks to the SP-TSM", mechanism: "⑩ the SP-TSM pins the JPKI service's name and checks every certificate it is given before writing it" },
    Pattern { number: 6, title: "keys generated, registered or SE identity read in another phone", mechanism: "⑧ ⑨ the commitment: SHA-256(R) read inside SCP03 must equal the S the card signed" },
    Pattern { number: 7, title: "a fake app phishes the holder", mechanism: "⑦ only the JPKI app reaches the applet; a business app's intent shows its real name and can never apply or revoke" },
    Pattern { number: 8, title: "someone else's card is used, or a card key is extracted", mechanism: "① ⑥ the card's password is counted and locks; private keys never leave the card" },
    Pattern { number: 9, title: "someone else operates the phone (PIN setting etc.)", mechanism: "② the phone PINs are set once, counted and lock; changing one needs the old one" },
    Pattern { number: 10, title: "eavesdropping between the app and the SE", mechanism: "⑨ SCP03 C-DEC/R-ENC: only ciphertext, the commitment command and S are visible" },
    Pattern { number: 11, title: "eavesdropping between the app and the SP-TSM", mechanism: "⑧ HTTPS, and ⑨ inside it SCP03 end to end" },
    Pattern { number: 12, title: "eavesdropping between the SP-TSM and the JPKI service", mechanism: "⑩ mutually authenticated TLS on the closed network" },
    Pattern { number: 13, title: "operations the user did not approve", mechanism: "⑦ ② every signature needs the holder's confirmation and PIN in the JPKI app; a decline yields nothing" },
    Pattern { number: 14, title: "tampering with messages: HTTPS, SCP03, commitment", mechanism: "⑧ ⑨ ⑩ TLS record MACs, SCP03 C-MAC/R-MAC chains, the card's signature over S" },
    Pattern { number: 15, title: "tampering with business processing: SP-TSM state, SE, JPKI service", mechanism: "③ ④ ⑤ single-use nonces and applications, unguessable relay sessions bound to their flow, resumption only by the applicant, a signed audit log" },
    Pattern { number: 16, title: "tampering with the app's own processing (a revocation whose applet is left behind)", mechanism: "⑤ harmless by design: the certificate is revoked at the JPKI service first, so what the applet still signs fails every relying party's status check" },
];

/// Runs pattern `number`'s attempts.
pub async fn attempt(lab: &Lab, number: u8) -> Result<Vec<Refusal>, Breach> {
    match number {
        1 => p01_fake_app_to_se::run(lab).await,
        2 => p02_no_scp03_keys::run(lab).await,
        3 => p03_fake_sp_tsm_to_app::run(lab).await,
        4 => p04_fake_sp_tsm_to_jlis::run(lab).await,
        5 => p05_fake_jlis_to_sp_tsm::run(lab).await,
        6 => p06_another_phone::run(lab).await,
        7 => p07_phishing_app::run(lab).await,
        8 => p08_someone_elses_card::run(lab).await,
        9 => p09_someone_else_operates::run(lab).await,
        10 => p10_eavesdrop_app_se::run(lab).await,
        11 => p11_eavesdrop_app_sp_tsm::run(lab).await,
        12 => p12_eavesdrop_sp_tsm_jlis::run(lab).await,
        13 => p13_unapproved_operations::run(lab).await,
        14 => p14_tampered_messages::run(lab).await,
        15 => p15_tampered_processing::run(lab).await,
        16 => p16_tampered_app::run(lab).await,
        n => Err(Breach::Lab(format!("there is no pattern {n}"))),
    }
}
