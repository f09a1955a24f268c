//! Pattern 9: someone else operates the phone (②).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thief_can_neither_reset_nor_guess_the_phone_pins() {
    super::attack(9, &["69 85", "tries left", "tries left", "tries left", "is blocked", "is blocked"]).await;
}
