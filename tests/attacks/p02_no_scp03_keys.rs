//! Pattern 2: a fake app or fake SP-TSM without the SCP03 keys (⑨).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_keys_no_security_domain_command_is_carried_out() {
    super::attack(2, &["6982", "6982", "6982", "6982", "6982", "card cryptogram invalid"]).await;
}
