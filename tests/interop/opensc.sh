#!/usr/bin/env bash
# OpenSC interop: pcscd + vsmartcard's vpcd + `jpki card serve`, then OpenSC's
# tools (opensc-tool, pkcs15-tool, pkcs11-tool through opensc-pkcs11.so) and
# OpenSSL check what the emulated card answers, and our own client drives the
# same card over PC/SC. Needs root (pcscd), the packages scripts/test
# installs, and the `jpki` binary (JPKI_BIN, default target/debug/jpki).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jpki=${JPKI_BIN:-$root/target/debug/jpki}
module=$(ls /usr/lib/*/opensc-pkcs11.so /usr/lib/opensc-pkcs11.so 2>/dev/null | head -1)
work=$(mktemp -d)
passed=0
failed=0
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

check() { # name, command...
  local name=$1; shift
  if out=$("$@" 2>&1); then
    echo "ok   $name"; passed=$((passed + 1))
  else
    echo "FAIL $name"; echo "$out" | sed 's/^/     | /' | tail -20; failed=$((failed + 1))
  fi
}

wait_for() { # seconds, command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

reader0="Virtual PCD 00 00"

# pcscd: ours, in the foreground, killed at exit. A running one is stopped
# first so that the vpcd ports are free.
pkill -x pcscd 2>/dev/null && sleep 0.5
pcscd --foreground >"$work/pcscd.log" 2>&1 &
pids+=($!)
wait_for 10 sh -c "opensc-tool -l | grep -q 'Virtual PCD'" || { echo "FAIL pcscd did not show the vpcd readers"; cat "$work/pcscd.log"; exit 1; }

cd "$work"
"$jpki" card new --out card.json --ca-dir ca --name "相互 運用" >/dev/null 2>&1 || { echo "FAIL jpki card new"; exit 1; }
"$jpki" card serve --card card.json --vpcd 127.0.0.1:35963 >serve.log 2>&1 &
pids+=($!)
card_present() { opensc-tool -r 0 --atr; }
wait_for 15 card_present || { echo "FAIL the emulated card did not appear in $reader0"; cat serve.log; exit 1; }

echo "hello from openjpki" > doc.txt
"$jpki" card cert --card card.json -t auth > auth.pem 2>/dev/null
openssl x509 -in auth.pem -pubkey -noout > auth.pub
JPKI_SIGN_PIN=ABC123 "$jpki" card cert --card card.json -t sign > sign.pem 2>/dev/null
openssl x509 -in sign.pem -pubkey -noout > sign.pub

check "opensc-tool --atr shows the My Number card ATR" \
  sh -c "opensc-tool -r 0 --atr | grep -qi '3b:e0:00:ff:81:31:fe:45:14'"
check "opensc-tool -n names the JPKI driver" \
  sh -c "opensc-tool -r 0 -n | grep -qx 'jpki'"
check "pkcs15-tool lists the 4 certificates" \
  sh -c "test \$(pkcs15-tool -r 0 --list-certificates | grep -c 'X.509 Certificate') -eq 4"
check "pkcs15-tool lists both PINs with full tries" \
  sh -c "pkcs15-tool -r 0 --list-pins | grep -q 'User Authentication PIN' && pkcs15-tool -r 0 --list-pins | grep -q 'Digital Signature PIN'"
check "pkcs15-tool reads the auth certificate as issued" \
  bash -c "cmp <(pkcs15-tool -r 0 --read-certificate 01 | openssl x509 -outform DER) <(openssl x509 -in auth.pem -outform DER)"
check "pkcs15-tool reads the sign certificate after the signature password" \
  bash -c "cmp <(pkcs15-tool -r 0 --read-certificate 02 --verify-pin --auth-id 02 --pin ABC123 | openssl x509 -outform DER) <(openssl x509 -in sign.pem -outform DER)"
check "pkcs11-tool signs with the auth key (SHA256-RSA-PKCS)" \
  pkcs11-tool --module "$module" --slot-index 0 --login --pin 1234 --sign --id 01 \
    --mechanism SHA256-RSA-PKCS -i doc.txt -o auth.sig
check "openssl dgst accepts the auth signature" \
  openssl dgst -sha256 -verify auth.pub -signature auth.sig doc.txt
check "pkcs11-tool signs with the sign key (context-specific login)" \
  pkcs11-tool --module "$module" --slot-index 1 --login --pin ABC123 --sign --id 02 \
    --mechanism SHA256-RSA-PKCS -i doc.txt -o sign.sig
check "openssl dgst accepts the sign-key signature" \
  openssl dgst -sha256 -verify sign.pub -signature sign.sig doc.txt
check "pkcs11-tool with a wrong PIN is refused and the try counted" \
  sh -c "! pkcs11-tool --module '$module' --slot-index 0 --login --pin 9999 --sign --id 01 --mechanism SHA256-RSA-PKCS -i doc.txt -o bad.sig \
         && '$jpki' card status --reader '$reader0' | grep -q '2 of 3'"

# Our own client over PC/SC, the code path a real reader uses.
check "jpki card status over PC/SC" \
  sh -c "'$jpki' card status --reader '$reader0' | grep -q 'JPKIAPICCTOKEN2'"
check "jpki card cert over PC/SC equals the issued certificate" \
  sh -c "'$jpki' card cert --reader '$reader0' -t auth | cmp - auth.pem"
check "jpki card text attrs over PC/SC" \
  sh -c "JPKI_TEXT_PIN=1234 '$jpki' card text attrs --reader '$reader0' | grep -q '相互 運用'"
check "jpki cms sign over PC/SC, openssl cms -verify accepts it" \
  sh -c "JPKI_SIGN_PIN=ABC123 '$jpki' cms sign --reader '$reader0' doc.txt -o doc.p7m \
         && openssl cms -verify -binary -inform DER -in doc.p7m -CAfile ca/sign-ca.pem -out /dev/null"
check "jpki cms sign --detached --hash sha512, openssl and jpki verify it" \
  sh -c "JPKI_SIGN_PIN=ABC123 '$jpki' cms sign --reader '$reader0' --detached --hash sha512 doc.txt -o doc.sig \
         && openssl cms -verify -binary -inform DER -in doc.sig -content doc.txt -CAfile ca/sign-ca.pem -out /dev/null \
         && '$jpki' cms verify doc.sig --content doc.txt --ca ca/sign-ca.pem"
check "jpki card sign over PC/SC, openssl dgst accepts it" \
  sh -c "JPKI_AUTH_PIN=1234 '$jpki' card sign --reader '$reader0' -t auth doc.txt -o raw.sig \
         && openssl dgst -sha256 -verify auth.pub -signature raw.sig doc.txt"
check "openssl verify accepts both card certificates" \
  sh -c "openssl verify -CAfile ca/auth-ca.pem auth.pem && openssl verify -CAfile ca/sign-ca.pem sign.pem"

# The phone: JPKI applet provisioned locally, reached by NFC card emulation
# in the second vpcd reader; OpenSC and our client read it like a card.
reader1="Virtual PCD 00 01"
"$jpki" phone new --dir phone --master-key-file master.key --ca-dir ca --auth-pin 2468 --sign-pin PHONE1 >/dev/null 2>&1 \
  || { echo "FAIL jpki phone new"; failed=$((failed + 1)); }
"$jpki" phone serve-nfc --dir phone --vpcd 127.0.0.1:35964 >nfc.log 2>&1 &
pids+=($!)
phone_present() { opensc-tool -r 1 --atr; }
if wait_for 15 phone_present; then
  check "phone: opensc-tool -n names the JPKI driver (matched by AID)" \
    sh -c "opensc-tool -r 1 -n | grep -qx 'jpki'"
  check "phone: jpki card status shows the smartphone token" \
    sh -c "'$jpki' card status --reader '$reader1' | grep -q 'JPKIAPGPSETOKEN'"
  check "phone: the auth certificate needs the auth PIN" \
    sh -c "! '$jpki' card cert --reader '$reader1' -t auth >/dev/null 2>&1"
  check "phone: jpki reads the auth certificate after the PIN; openssl verify accepts it" \
    sh -c "JPKI_AUTH_PIN=2468 '$jpki' card cert --reader '$reader1' -t auth > phone-auth.pem && openssl verify -CAfile ca/auth-ca.pem phone-auth.pem"
  check "phone: pkcs15-tool lists the 4 certificates" \
    sh -c "test \$(pkcs15-tool -r 1 --list-certificates | grep -c 'X.509 Certificate') -eq 4"
  check "phone: pkcs15-tool reads the auth certificate after the PIN" \
    bash -c "cmp <(pkcs15-tool -r 1 --read-certificate 01 --verify-pin --auth-id 01 --pin 2468 | openssl x509 -outform DER) <(openssl x509 -in phone-auth.pem -outform DER)"
  check "phone: jpki cms sign with the phone's sign key, openssl cms -verify accepts it" \
    sh -c "JPKI_SIGN_PIN=PHONE1 '$jpki' cms sign --reader '$reader1' doc.txt -o phone.p7m \
           && openssl cms -verify -binary -inform DER -in phone.p7m -CAfile ca/sign-ca.pem -out /dev/null"
else
  echo "FAIL the phone did not appear in $reader1"; cat nfc.log; failed=$((failed + 1))
fi

echo "opensc interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
