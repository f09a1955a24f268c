//! Pattern 11: eavesdropping between the app and the SP-TSM (⑧ ⑨).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recorder_between_app_and_sp_tsm_sees_only_tls() {
    super::attack(11, &["nothing in clear", "nothing in clear"]).await;
}
