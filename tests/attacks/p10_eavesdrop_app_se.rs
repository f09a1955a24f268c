//! Pattern 10: eavesdropping between the app and the SE (⑨).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_carries_only_ciphertext_and_macs() {
    super::attack(
        10,
        &["R not in clear", "no key in clear", "certificate not in clear", "no PIN relayed", "all secured"],
    )
    .await;
}
