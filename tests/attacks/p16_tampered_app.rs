//! Pattern 16: a revocation whose applet is left behind — harmless by design.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_a_leftover_applet_signs_fails_the_status_check() {
    super::attack(16, &["the wipe is not relayed", "revoked"]).await;
}
