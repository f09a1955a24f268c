//! Bad input gets the CSC error of spec/csc-sam.md §1 and consumes nothing:
//! the SAD still signs afterwards.

use crate::lab::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rssp::records::Factor;

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_csc_errors_and_leave_the_sad_whole() {
    let lab = Lab::new().await;
    let s = lab.signer("入力 太郎", Factor::Password).await;
    let h = sha256(b"kept");
    let sad = s.csc.authorize(&s.credential(), std::slice::from_ref(&h), pin(PASSWORD)).await.unwrap().sad;
    let sign = |extra: serde_json::Value| {
        let mut body = serde_json::json!({ "credentialID": s.credential(), "SAD": sad, "hashes": [B64.encode(&h)],
            "hashAlgorithmOID": csc_api::oid::SHA256, "signAlgo": csc_api::oid::SHA256_WITH_RSA });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases: Vec<(serde_json::Value, u16, &str, &str)> = vec![
        (
            serde_json::json!({ "credentialID": "c-0000000000000000" }),
            400,
            "invalid_request",
            "Invalid parameter credentialID",
        ),
        (
            serde_json::json!({ "hashes": [B64.encode([0u8; 20])] }),
            400,
            "invalid_request",
            "Invalid digest value length",
        ),
        (
            serde_json::json!({ "hashes": ["%%%not base64%%%"] }),
            400,
            "invalid_request",
            "Invalid Base64 hash string parameter",
        ),
        (serde_json::json!({ "hashes": [] }), 400, "invalid_request", "Empty hash array"),
        (
            serde_json::json!({ "hashes": null }),
            400,
            "invalid_request",
            "Missing (or invalid type) array parameter hash",
        ),
        (
            serde_json::json!({ "signAlgo": "1.2.840.10045.4.3.2" }),
            400,
            "invalid_request",
            "Invalid parameter signAlgo: the key is RSA PKCS#1 v1.5",
        ),
        (
            serde_json::json!({ "hashAlgorithmOID": "1.3.14.3.2.26", "signAlgo": csc_api::oid::RSA_ENCRYPTION }),
            400,
            "invalid_request",
            "Invalid parameter hashAlgorithmOID",
        ),
        (
            serde_json::json!({ "hashAlgorithmOID": csc_api::oid::SHA512 }),
            400,
            "invalid_request",
            "hashAlgorithmOID contradicts signAlgo",
        ),
        (
            serde_json::json!({ "signAlgoParams": "MAA=" }),
            400,
            "invalid_request",
            "Invalid parameter signAlgoParams: PKCS#1 v1.5 takes none",
        ),
        (serde_json::json!({ "SAD": 7 }), 400, "invalid_request", "malformed request"),
        (serde_json::json!({ "operationMode": "A" }), 501, "invalid_request", "only synchronous operation"),
    ];
    for (extra, status, error, description) in cases {
        let (got, body) = s.csc.post_raw("/csc/v2/signatures/signHash", &sign(extra.clone())).await.unwrap();
        assert_eq!(got, status, "{extra}: {body}");
        assert_eq!(body["error"], error, "{extra}: {body}");
        assert!(body["error_description"].as_str().unwrap().starts_with(description), "{extra}: {body}");
    }
    // Not JSON at all, and an unknown method.
    let (got, body) = s.csc.post_raw("/csc/v2/credentials/authorize", &serde_json::json!("{not json")).await.unwrap();
    assert_eq!((got, body["error"].as_str().unwrap()), (400, "invalid_request"));
    let (got, _) = s.csc.post_raw("/csc/v2/credentials/sendOTP", &serde_json::json!({})).await.unwrap();
    assert_eq!(got, 501);
    // An oversized body: 413 — or, when the server has answered and closed
    // before the client finished writing the rest (HTTP/1.1's race; it
    // stops reading at the limit), a connection the server broke off. It
    // failed once in CI that way: "Broken pipe".
    let huge = "A".repeat(5 * 1024 * 1024);
    let answer =
        s.csc.post_raw("/csc/v2/signatures/signDoc", &serde_json::json!({ "documents": [{ "document": huge }] })).await;
    match answer {
        Ok((got, _)) => assert_eq!(got, 413),
        Err(e) => assert!(
            ["Broken pipe", "reset by peer", "connection closed"].iter().any(|m| e.contains(m)),
            "neither 413 nor a connection the server closed: {e}"
        ),
    }
    // Nothing was consumed: the SAD signs its hash — in the same session
    // (a SAD is bound to its access token) but over a new connection, as
    // the server may have closed the one the oversized body came on (CI saw
    // "connection closed before message completed" reusing it).
    let fresh = lab.csc().with_token(s.csc.token().expect("the signer is logged in"));
    fresh.sign_hash(&s.credential(), &sad, &[h]).await.expect("the SAD is whole");
}
