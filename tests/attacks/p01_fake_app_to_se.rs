//! Pattern 1: a fake app talks to the SE (⑦). Before the fix, the relay
//! reached the SE without the enforcer and NFC routed the commitment and
//! PIN-setting commands: the relay and NFC attempts below got through. The
//! relay also trusted the basic channel to still hold what it selected.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fake_app_reaches_the_applet_by_no_door_omapi_relay_or_nfc() {
    super::attack(
        1,
        &[
            "access denied",
            "access denied",
            "nothing was selected",
            "access denied",
            "access denied",
            "selected by someone else",
            "6D00",
            "6D00",
            "6D00",
        ],
    )
    .await;
}
