//! Pattern 14: tampering with messages — HTTPS, SCP03, commitment.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_altered_byte_ends_the_flow_before_anything_is_issued() {
    super::attack(
        14,
        &[
            "error sending request",
            "se_refused",
            "secure_channel_failed",
            "se_refused",
            "secure_channel_failed",
            "se_refused",
            "se_refused",
            "403 bad_signature",
        ],
    )
    .await;
}
