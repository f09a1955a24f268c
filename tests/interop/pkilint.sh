#!/usr/bin/env bash
# pkilint (PyPI) lints what openjpki issues: the JPKI CA certificates, their
# OCSP responder certificates, a card's auth and sign certificates, a full
# CRL and a delta CRL. Any finding of severity WARNING or above fails;
# NOTICE/INFO findings are listed (the JPKI profile's own choices, see
# docs/decisions/cert-profiles.md).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
jpki=${JPKI_BIN:-$root/target/debug/jpki}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
cd "$work"
"$jpki" card new --out card.json --ca-dir ca >/dev/null 2>&1 || { echo "FAIL jpki card new"; exit 1; }
"$jpki" card cert --card card.json -t auth > auth.pem
JPKI_SIGN_PIN=ABC123 "$jpki" card cert --card card.json -t sign > sign.pem
"$jpki" bench crl --entries 20 --out crl.der >/dev/null 2>&1 || { echo "FAIL CRL"; exit 1; }
"$jpki" bench crl --entries 20 --delta --out delta.der >/dev/null 2>&1 || { echo "FAIL delta CRL"; exit 1; }

lint() { # name, command...
  local name=$1; shift
  if out=$("$@" -s WARNING 2>&1) && [ -z "$out" ]; then
    echo "ok   pkilint: $name (notices: $("$@" -s NOTICE 2>/dev/null | grep -c '(NOTICE)'))"
    passed=$((passed + 1))
  else
    echo "FAIL pkilint: $name"; echo "$out" | sed 's/^/     | /'; failed=$((failed + 1))
  fi
}
lint "auth CA certificate" python3 -m pkilint.bin.lint_pkix_cert lint ca/auth-ca.pem
lint "sign CA certificate" python3 -m pkilint.bin.lint_pkix_cert lint ca/sign-ca.pem
lint "auth OCSP responder certificate" python3 -m pkilint.bin.lint_pkix_cert lint ca/auth-ocsp.pem
lint "sign OCSP responder certificate" python3 -m pkilint.bin.lint_pkix_cert lint ca/sign-ocsp.pem
lint "card auth certificate" python3 -m pkilint.bin.lint_pkix_cert lint auth.pem
lint "card sign certificate" python3 -m pkilint.bin.lint_pkix_cert lint sign.pem
lint "CRL" python3 -m pkilint.bin.lint_crl lint -t CRL -p PKIX crl.der
lint "delta CRL" python3 -m pkilint.bin.lint_crl lint -t CRL -p PKIX delta.der
echo "pkilint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
