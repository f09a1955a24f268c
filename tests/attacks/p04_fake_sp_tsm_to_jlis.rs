//! Pattern 4: a fake or compromised SP-TSM talks to the JPKI service (⑩).
//! Before the JPKI service checked the card-signed application itself, the
//! compromised SP-TSM's four requests each got a certificate. With device
//! trust, it cannot have its own key certified even with an attestation
//! result it signs itself (it holds the verifier's key): the JPKI service
//! wants the SE's own attestation of that very key.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_sp_tsm_asks_and_only_for_what_the_holder_signed() {
    super::attack(
        4,
        &[
            "403 forbidden",
            "UnknownCA",
            "UnknownCA",
            "403 bad_application",
            "403 bad_application",
            "403 device_not_trusted",
            "403 device_not_trusted",
            "403 device_not_trusted",
            "403 bad_application",
        ],
    )
    .await;
}
