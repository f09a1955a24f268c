//! Pattern 6: keys generated or identity read in another phone (⑧ ⑨).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provisioning_happens_only_in_the_phone_where_the_card_signed() {
    super::attack(
        6,
        &["assertion_missing", "another_phone", "403 commitment_mismatch", "refused", "secure_channel_failed"],
    )
    .await;
}
