//! Pattern 5: a fake JPKI service talks to the SP-TSM (⑩). Each fake
//! relays status answers and hands out a genuine certificate of another
//! key. Without the SP-TSM's pin on the JPKI service's name, the SP-TSM's
//! own stolen key passed (and only the certificate check stopped it);
//! without that check, the substituted certificate was written into the SE.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sp_tsm_trusts_only_the_jpki_service_and_checks_its_certificates() {
    super::attack(
        5,
        &[
            "503 status_unavailable",
            "6A 82",
            "503 status_unavailable",
            "6A 82",
            "certifies another key than the one generated in the SE",
            "6A 82",
        ],
    )
    .await;
}
