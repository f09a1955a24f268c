//! Pattern 12: eavesdropping between the SP-TSM and the JPKI service (⑩).
//! Before the SP-TSM asked the card's status over its TLS channel, the
//! card certificate's OCSP request crossed in plain HTTP (at another port).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recorder_on_the_closed_network_sees_only_tls() {
    super::attack(12, &["nothing in clear", "nothing in clear"]).await;
}
