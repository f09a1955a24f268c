//! A lost answer between the SP-TSM and the JPKI service (issue 15): the
//! network corrupts the record that carries the phone certificate back, so
//! the SP-TSM never reads it while the JPKI service has issued and recorded
//! it. The SP-TSM asks again under the same request id and the service
//! answers with the same certificate: the phone ends with exactly the
//! certificates the service holds active for its SE, one per type. Before,
//! the second ask was refused as a replay, provisioning failed, and the
//! certificate stayed active at the JPKI service, in no SE and unknown to
//! the SP-TSM (never revoked).

use attack::tap::{is_tls, Direction};
use attack::Lab;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tsm_api::PhoneCertType as CertType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_certificate_answer_is_asked_again_and_leaves_one_certificate_per_type() {
    let lab = Lab::start().await.expect("the lab starts");
    let mut card = lab.card().await.unwrap();
    let phone = lab.prepared_phone().await.unwrap();
    // Arm once a large request went up (a phone-certificate request carries
    // the card-signed application), then corrupt the next application-data
    // record coming down: the answer to that request.
    let corrupted = Arc::new(AtomicUsize::new(0));
    let (armed, hits) = (Arc::new(AtomicUsize::new(0)), corrupted.clone());
    lab.jlis_tap.rewrite(move |direction, chunk| match direction {
        Direction::ToServer if chunk.len() > 1500 => {
            armed.fetch_add(1, Ordering::SeqCst);
        }
        Direction::ToClient
            if armed.load(Ordering::SeqCst) == 1
                && hits.load(Ordering::SeqCst) == 0
                && is_tls(chunk)
                && chunk[0] == 0x17
                && chunk.len() > 64 =>
        {
            let middle = chunk.len() / 2;
            chunk[middle] ^= 0xFF;
            hits.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    });
    let applied = phone.apply(&lab.sp().unwrap(), &mut card, attack::lab::CARD_SIGN_PASSWORD, &attack::lab::BOTH).await;
    lab.jlis_tap.stop_rewriting();
    assert_eq!(corrupted.load(Ordering::SeqCst), 1, "one answer was lost on the way");
    applied.unwrap().outcome.expect("provisioning completes after asking again");

    let links = lab.links(&phone.se_identifier()).await.unwrap();
    let links = links["links"].as_array().unwrap().clone();
    assert_eq!(links.len(), 2, "one certificate per type, none issued twice: {links:?}");
    let (auth_pin, sign_pin) = attack::lab::PHONE_PINS;
    phone.set_pins(auth_pin.as_bytes(), sign_pin.as_bytes()).unwrap();
    for (t, pin) in [(CertType::Auth, Some(auth_pin)), (CertType::Sign, Some(sign_pin))] {
        let in_se = pki::cert::parse_certificates(&phone.certificate(t, pin).unwrap()).unwrap();
        let serial = hex::encode_upper(in_se[0].tbs_certificate.serial_number.as_bytes());
        let linked: Vec<_> = links.iter().filter(|l| l["phone_serial"] == serial.as_str()).collect();
        assert_eq!(linked.len(), 1, "{t:?}: the SE's certificate {serial} is the one the service linked: {links:?}");
        assert_eq!(linked[0]["cert_type"], t.as_str());
    }
}
