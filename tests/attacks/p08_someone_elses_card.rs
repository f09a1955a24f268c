//! Pattern 8: someone else's card, or a card key extracted (① ⑥): the
//! signature password counted once per wrong try through the JPKI app's
//! application, down to the lockout.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guessed_passwords_lock_the_card_and_its_keys_never_leave_it() {
    let refusals = super::attack(
        8,
        &[
            "tries left before it blocks",
            "tries left before it blocks",
            "tries left before it blocks",
            "tries left before it blocks",
            "is blocked",
            "is blocked",
            "Ok",
            "6981",
            "403 bad_signature",
        ],
    )
    .await;
    assert!(refusals[0].tried.contains("5 tries left"), "{:?}", refusals[0]);
}
