//! Pattern 5: a fake JPKI service talks to the SP-TSM (⑩). Before the
//! SP-TSM pinned the JPKI service's name, the SP-TSM's own stolen key
//! passed; before it checked what it is given, the substituted certificate
//! was written into the SE.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sp_tsm_trusts_only_the_jpki_service_and_checks_its_certificates() {
    super::attack(
        5,
        &[
            "503 status_unavailable",
            "503 status_unavailable",
            "certifies another key than the one generated in the SE",
            "6A 82",
        ],
    )
    .await;
}
