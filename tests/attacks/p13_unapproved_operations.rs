//! Pattern 13: operations the user did not approve (⑦ ②): sign and
//! authenticate through the business-app intent, declined and approved.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_declined_request_yields_no_signature_and_spends_no_pin_try() {
    super::attack(13, &["the user declined", "the user declined", "requires the signature password"]).await;
}
