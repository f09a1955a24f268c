#!/usr/bin/env bash
# Device trust's artefacts (docs/device-trust.md) checked by software we
# did not write:
#  1. OpenSSL verifies the Android key attestation chain (leaf <- batch <-
#     vendor root) and the SE key attestation chain (key <- SE <- issuer);
#  2. pyasn1 with PyPI webauthn's KeyDescription module decodes the
#     Android extension, re-encodes it byte for byte, and reads the
#     challenge, root of trust, patch levels and app id;
#  3. pycose + cbor2 verify the EAT evidence under the attested key, PyJWT
#     the EAR under the verifier key, cryptography the confirmation;
#  4. pyattest (App Attest) verifies the per-request app assertion.
# Two venvs: webauthn needs cbor2 >= 6, pycose needs cbor2 5.x
# (device-trust.md §8); scripts/deps makes both.
set -euo pipefail
cd "$(dirname "$0")/../.."
asn1=${OPENJPKI_ATTEST_VENV:-$PWD/target/attest-venv}/bin/python
cose=${OPENJPKI_COSE_VENV:-$PWD/target/cose-venv}/bin/python
for py in "$asn1" "$cose"; do [ -x "$py" ] || { echo "no venv at $py: run scripts/deps" >&2; exit 1; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run --quiet -p attest --example artefacts -- "$work"

openssl verify -x509_strict -CAfile "$work/android-root.pem" -untrusted "$work/android-batch.pem" "$work/android-leaf.pem"
openssl verify -x509_strict -CAfile "$work/se-issuer.pem" -untrusted "$work/se-attestation.pem" "$work/se-key-attestation.pem"
# A leaf checked against the other hierarchy's root is refused.
if openssl verify -CAfile "$work/se-issuer.pem" -untrusted "$work/android-batch.pem" "$work/android-leaf.pem" 2>/dev/null; then
  echo "FAIL: the Android leaf verified under the SE issuer" >&2; exit 1
fi
"$asn1" tests/interop/device_trust_asn1.py "$work"
"$asn1" tests/interop/device_trust_assertion.py "$work"
"$cose" tests/interop/device_trust_cose.py "$work"
echo "device trust: OpenSSL, pyasn1 (webauthn), pycose/cbor2, PyJWT, pyattest and cryptography agree"
