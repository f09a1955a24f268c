//! Pattern 7: a fake app phishes the holder (⑦).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_phishing_app_is_named_to_the_holder_and_can_never_apply_or_revoke() {
    let never = "can only be started by the user in the JPKI app";
    super::attack(7, &[never, never, "the user declined", "jp.go.jpki.app.update", "access denied"]).await;
}
