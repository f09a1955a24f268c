//! SAD semantics (spec/csc-sam.md §2; JT2A II 3.2, Appendix 1): bound to
//! the credential, the exact hashes and the bearer; single use per hash;
//! expiry; the count; extendTransaction; lockout after wrong factors.

use crate::lab::*;
use csc_api::error::{text, Code};
use rssp::records::Factor;

#[tokio::test(flavor = "multi_thread")]
async fn a_sad_signs_each_authorised_hash_once_and_a_refused_request_consumes_nothing() {
    let lab = Lab::new().await;
    let s = lab.signer("一回 五郎", Factor::Password).await;
    let (a, b) = (sha256(b"document A"), sha256(b"document B"));
    let sad = s.csc.authorize(&s.credential(), &[a.clone(), b.clone()], pin(PASSWORD)).await.unwrap();
    // A hash not authorised: refused, and the SAD is still whole.
    let e = s.csc.sign_hash(&s.credential(), &sad.sad, &[sha256(b"document C")]).await.unwrap_err();
    assert_eq!(e.description, text::HASH_NOT_AUTHORIZED);
    // Two of the same hash when one was authorised: refused as a whole.
    let e = s.csc.sign_hash(&s.credential(), &sad.sad, &[a.clone(), a.clone()]).await.unwrap_err();
    assert_eq!(e.description, text::HASH_NOT_AUTHORIZED);
    s.csc.sign_hash(&s.credential(), &sad.sad, std::slice::from_ref(&a)).await.expect("A signs");
    let e = s.csc.sign_hash(&s.credential(), &sad.sad, std::slice::from_ref(&a)).await.unwrap_err();
    assert_eq!(e.description, text::HASH_NOT_AUTHORIZED, "A was used");
    s.csc.sign_hash(&s.credential(), &sad.sad, std::slice::from_ref(&b)).await.expect("B signs");
    let e = s.csc.sign_hash(&s.credential(), &sad.sad, &[b]).await.unwrap_err();
    assert_eq!(e.description, text::INVALID_SAD, "used up: the SAD is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_with_one_sad_sign_once() {
    let lab = Lab::new().await;
    let s = lab.signer("競合 六郎", Factor::Password).await;
    let h = vec![sha256(b"race")];
    let sad = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap();
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let (c, id, sad, h) = (s.csc.clone(), s.credential(), sad.sad.clone(), h.clone());
            tokio::spawn(async move { c.sign_hash(&id, &sad, &h).await })
        })
        .collect();
    let mut signed = 0;
    for t in tries {
        if t.await.unwrap().is_ok() {
            signed += 1;
        }
    }
    assert_eq!(signed, 1, "one SAD, one hash, eight concurrent requests: one signature");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_sad_is_refused() {
    let lab = Lab::new().await;
    let s = lab.signer("期限 七郎", Factor::Password).await;
    let h = vec![sha256(b"late")];
    let sad = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap();
    assert_eq!(sad.expires_in, 300);
    // Time passes (the row's expiry moved into the past, as a clock would).
    lab.store().await.write(|tx| tx.execute("UPDATE sads SET expires_at = expires_at - 301", &[])).await.unwrap();
    let e = s.csc.sign_hash(&s.credential(), &sad.sad, &h).await.unwrap_err();
    assert_eq!(e.description, text::SAD_EXPIRED);
}

#[tokio::test(flavor = "multi_thread")]
async fn num_signatures_above_multisign_and_oversized_batches_are_refused() {
    let lab = Lab::new().await;
    let s = lab.signer("上限 八郎", Factor::Password).await;
    let eleven: Vec<Vec<u8>> = (0..11u8).map(|i| sha256(&[i])).collect();
    let e = s.csc.authorize(&s.credential(), &eleven, pin(PASSWORD)).await.unwrap_err();
    assert_eq!(e.description, text::TOO_MANY_SIGNATURES);
    let many: Vec<String> = (0..101u8).map(|i| base64_of(&sha256(&[i]))).collect();
    let (status, body) = s
        .csc
        .post_raw("/csc/v2/signatures/signHash", &serde_json::json!({ "credentialID": s.credential(), "SAD": "x", "hashes": many, "signAlgo": csc_api::oid::SHA256_WITH_RSA }))
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[tokio::test(flavor = "multi_thread")]
async fn extend_transaction_gives_a_new_sad_and_the_old_one_dies() {
    let lab = Lab::new().await;
    let s = lab.signer("延長 九郎", Factor::Password).await;
    let first = sha256(b"first revision");
    // Two signatures authorised, the first hash known now (a PDF's second
    // signature hash exists only after the first is made).
    let answer: serde_json::Value = s
        .csc
        .call("credentials/authorize", &serde_json::json!({ "credentialID": s.credential(), "numSignatures": 2,
            "hashes": [base64_of(&first)], "hashAlgorithmOID": csc_api::oid::SHA256, "authData": [{"id": "PIN", "value": PASSWORD}] }))
        .await
        .unwrap();
    let old = answer["SAD"].as_str().unwrap().to_string();
    s.csc.sign_hash(&s.credential(), &old, &[first]).await.unwrap();
    let second = sha256(b"second revision");
    let answer: serde_json::Value = s
        .csc
        .call(
            "credentials/extendTransaction",
            &serde_json::json!({ "credentialID": s.credential(), "SAD": old,
            "hashes": [base64_of(&second)], "hashAlgorithmOID": csc_api::oid::SHA256 }),
        )
        .await
        .unwrap();
    let new = answer["SAD"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let e = s.csc.sign_hash(&s.credential(), &old, std::slice::from_ref(&second)).await.unwrap_err();
    assert_eq!(e.description, text::INVALID_SAD, "the old SAD is invalid once refreshed");
    s.csc
        .sign_hash(&s.credential(), &new, std::slice::from_ref(&second))
        .await
        .expect("the new SAD signs the new hash");
    // The count was carried over: nothing is left to extend to.
    let e = s
        .csc
        .call::<_, serde_json::Value>(
            "credentials/extendTransaction",
            &serde_json::json!({ "credentialID": s.credential(), "SAD": new,
            "hashes": [base64_of(&sha256(b"third"))] }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.description, text::INVALID_SAD);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_are_counted_lock_the_credential_and_only_an_administrator_unlocks() {
    let lab = Lab::new().await;
    let s = lab.signer("施錠 十郎", Factor::Password).await;
    let h = vec![sha256(b"locked")];
    for _ in 0..5 {
        let e = s.csc.authorize(&s.credential(), &h, pin("not the password")).await.unwrap_err();
        assert_eq!(e.code, Code::InvalidPin);
    }
    // Locked: even the right password is refused now.
    let e = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap_err();
    assert_eq!(e.description, text::CREDENTIAL_LOCKED);
    // The signer cannot unlock; an auditor cannot; an administrator can.
    let token = s.csc.token().unwrap().to_string();
    assert_eq!(lab.admin(&token, &s.credential(), "unlock").await.unwrap_err().code, Code::AccessDenied);
    assert_eq!(lab.admin(&lab.auditor_token(), &s.credential(), "unlock").await.unwrap_err().code, Code::AccessDenied);
    lab.admin(&lab.admin_token(), &s.credential(), "unlock").await.unwrap();
    sign(&s, &h).await.expect("unlocked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_level_2_totp_credential_needs_the_current_otp_once() {
    let lab = Lab::new().await;
    let s = lab.signer("二要素 花子", Factor::Totp).await;
    assert_eq!(s.registered["level"], 2);
    let otp = current_otp(s.registered["totp_uri"].as_str().unwrap());
    let h = vec![sha256(b"two factors")];
    let with = |p: &str, o: Option<&str>| {
        let mut d = pin(p);
        if let Some(o) = o {
            d.push(csc_api::types::AuthDatum { id: "OTP".into(), value: o.into() });
        }
        d
    };
    assert_eq!(s.csc.authorize(&s.credential(), &h, with(PASSWORD, None)).await.unwrap_err().code, Code::InvalidOtp);
    assert_eq!(
        s.csc.authorize(&s.credential(), &h, with(PASSWORD, Some("000000"))).await.unwrap_err().code,
        Code::InvalidOtp
    );
    let sad = s.csc.authorize(&s.credential(), &h, with(PASSWORD, Some(&otp))).await.expect("password and OTP");
    s.csc.sign_hash(&s.credential(), &sad.sad, &h).await.unwrap();
    let e = s.csc.authorize(&s.credential(), &h, with(PASSWORD, Some(&otp))).await.unwrap_err();
    assert_eq!(e.code, Code::InvalidOtp, "the same OTP a second time: {e}");
    let info = s.csc.info(&s.credential()).await.unwrap();
    assert_eq!(info.auth.unwrap().expression, "PIN AND OTP");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_right_authorisations_do_not_lock_the_credential() {
    let lab = Lab::new().await;
    let s = lab.signer("同時 十一郎", Factor::Password).await;
    // Each attempt counts as a failure until its factors match; eight at
    // once (more than max_failures) must not look like eight failures.
    let tries: Vec<_> = (0..8u8)
        .map(|i| {
            let (c, id) = (s.csc.clone(), s.credential());
            tokio::spawn(async move { c.authorize(&id, &[sha256(&[i])], pin(PASSWORD)).await })
        })
        .collect();
    for t in tries {
        t.await.unwrap().expect("a right password is never refused as locked");
    }
    let logins: Vec<_> = (0..8)
        .map(|_| {
            let (c, id) = (lab.csc(), s.id());
            tokio::spawn(async move { c.login(&id, PASSWORD).await.map(|_| ()) })
        })
        .collect();
    for t in logins {
        t.await.unwrap().expect("concurrent logins with the right password");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_or_expired_bearer_token_opens_nothing_and_its_sads_die_with_it() {
    let lab = Lab::new().await;
    let s = lab.signer("失効 十二郎", Factor::Password).await;
    let h = vec![sha256(b"session")];
    let sad = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap().sad;
    let token = s.csc.token().unwrap().to_string();
    // Another signer cannot revoke this token.
    let other = lab.signer("他人 十三郎", Factor::Password).await;
    let (status, _) = other.csc.post_raw("/csc/v2/auth/revoke", &serde_json::json!({ "token": token })).await.unwrap();
    assert_eq!(status, 400);
    let (status, _) = s
        .csc
        .post_raw("/csc/v2/auth/revoke", &serde_json::json!({ "token": token, "token_type_hint": "access_token" }))
        .await
        .unwrap();
    assert_eq!(status, 204);
    assert_eq!(s.csc.sign_hash(&s.credential(), &sad, &h).await.unwrap_err().code, Code::InvalidToken);
    // A new session cannot use the old session's SAD either.
    let again = lab.csc().login(&s.id(), PASSWORD).await.unwrap();
    assert_eq!(again.sign_hash(&s.credential(), &sad, &h).await.unwrap_err().description, text::INVALID_SAD);
    // An expired token: 401 expired_token.
    lab.store().await.write(|tx| tx.execute("UPDATE tokens SET expires_at = 0", &[])).await.unwrap();
    let e = again.list().await.unwrap_err();
    assert_eq!(e.code, Code::ExpiredToken);
}
