//! Pattern 12: eavesdropping between the SP-TSM and the JPKI service (⑩):
//! every call on that hop, the card's status included, is TLS.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recorder_on_the_closed_network_sees_only_tls() {
    super::attack(12, &["nothing in clear", "nothing in clear"]).await;
}
