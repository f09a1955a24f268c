//! Pattern 3: a fake SP-TSM talks to the phone app (⑩, TLS identity).
//! Before each service had its own certificate, the JPKI service's and the
//! SEI-TSM's keys were the SP-TSM's too: the two stolen-key attempts got
//! through.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_app_talks_only_to_the_sp_tsm_it_pins() {
    let name = "certificate not valid for name \"sp-tsm.openjpki.internal\"";
    super::attack(3, &["UnknownIssuer", name, name]).await;
}
