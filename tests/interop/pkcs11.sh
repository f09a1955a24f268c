#!/usr/bin/env bash
# Our PKCS#11 module (libjpki_pkcs11.so) under software we did not write:
# pcscd + vsmartcard's vpcd carry an emulated My Number card (reader 0) and
# an emulated phone in NFC card emulation (reader 1); then pkcs11-tool,
# p11-kit, NSS (modutil, certutil), OpenSSH (ssh -I, ssh-agent + ssh-add
# -s, a throwaway sshd on loopback), curl + libp11's engine against an
# openssl s_server that requires client certificates (TLS 1.2; TLS 1.3
# refused with our explanation), and pyHanko's pkcs11 signer with
# `pyhanko sign validate` use it. Needs root (pcscd, sshd), the packages of
# scripts/deps, and `jpki` + the module (JPKI_BIN, JPKI_PKCS11, default
# target/debug/).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jpki=${JPKI_BIN:-$root/target/debug/jpki}
module=${JPKI_PKCS11:-$root/target/debug/libjpki_pkcs11.so}
py=$root/target/interop-venv/bin/python
venv=$root/target/interop-venv
work=$(mktemp -d)
passed=0
failed=0
pids=()
p11kit_conf=/etc/pkcs11/modules/openjpki-interop.module

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -f "$p11kit_conf"
  rm -rf "$work"
}
trap cleanup EXIT

check() { # name, command...
  local name=$1; shift
  if out=$("$@" 2>&1); then
    echo "ok   $name"; passed=$((passed + 1))
  else
    echo "FAIL $name"; echo "$out" | sed 's/^/     | /' | tail -25; failed=$((failed + 1))
  fi
}

wait_for() { # seconds, command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

# Only readers: no emulated token from a stray environment or config.
unset JPKI_PKCS11_CARDS JPKI_PKCS11_CONFIG
export JPKI_PKCS11_READERS=1 XDG_CONFIG_HOME=$work/config

pkill -x pcscd 2>/dev/null && sleep 0.5
pcscd --foreground >"$work/pcscd.log" 2>&1 &
pids+=($!)
wait_for 10 sh -c "opensc-tool -l | grep -q 'Virtual PCD'" || { echo "FAIL pcscd did not show the vpcd readers"; exit 1; }

cd "$work"
"$jpki" card new --out card.json --ca-dir ca --name "署名 太郎" >/dev/null 2>&1 || { echo "FAIL jpki card new"; exit 1; }
"$jpki" phone new --dir phone --master-key-file master.key --ca-dir ca --auth-pin 2468 --sign-pin PHONE1 >/dev/null 2>&1 \
  || { echo "FAIL jpki phone new"; exit 1; }
"$jpki" card serve --card card.json --vpcd 127.0.0.1:35963 >serve.log 2>&1 &
pids+=($!)
"$jpki" phone serve-nfc --dir phone --vpcd 127.0.0.1:35964 >nfc.log 2>&1 &
pids+=($!)
wait_for 15 opensc-tool -r 0 --atr || { echo "FAIL the card did not appear"; cat serve.log; exit 1; }
wait_for 15 opensc-tool -r 1 --atr || { echo "FAIL the phone did not appear"; cat nfc.log; exit 1; }

echo "hello from openjpki" > doc.txt
"$jpki" card cert --card card.json -t auth > auth.pem 2>/dev/null
JPKI_SIGN_PIN=ABC123 "$jpki" card cert --card card.json -t sign > sign.pem 2>/dev/null
openssl x509 -in auth.pem -pubkey -noout > auth.pub
openssl x509 -in sign.pem -pubkey -noout > sign.pub
p11() { pkcs11-tool --module "$module" "$@"; }
reader0="Virtual PCD 00 00"

# Slots: reader 0 → 0 (auth) and 1 (sign); reader 1 → 2 and 3.
check "pkcs11-tool -L: the card's two tokens, model JPKIAPICCTOKEN2, OpenSC's labels" \
  sh -c "p11() { pkcs11-tool --module '$module' \"\$@\"; }; p11 -L > slots.txt \
         && grep -A3 'Slot 0 ' slots.txt | grep -q 'JPKI (User Authentication PIN)' \
         && grep -A3 'Slot 1 ' slots.txt | grep -q 'JPKI (Digital Signature PIN)' \
         && grep -A4 'Slot 0 ' slots.txt | grep -q 'model *: JPKIAPICCTOKEN2'"
check "pkcs11-tool -L: the phone over NFC is a token of its own, model JPKIAPGPSETOKEN" \
  sh -c "grep -A4 'Slot 2 ' slots.txt | grep -q 'model *: JPKIAPGPSETOKEN'"
check "pkcs11-tool -M: RSA-PKCS and SHA*-RSA-PKCS, no PSS" \
  sh -c "pkcs11-tool --module '$module' --slot 0 -M > mechs.txt && grep -q 'SHA256-RSA-PKCS' mechs.txt && ! grep -q PSS mechs.txt"
check "pkcs11-tool signs with the card's auth key (SHA256-RSA-PKCS); openssl dgst verifies" \
  sh -c "pkcs11-tool --module '$module' --slot 0 -l -p 1234 --sign --id 01 -m SHA256-RSA-PKCS -i doc.txt -o a.sig \
         && openssl dgst -sha256 -verify auth.pub -signature a.sig doc.txt"
python3 -c "import hashlib,sys; d=hashlib.sha512(open('doc.txt','rb').read()).digest(); \
sys.stdout.buffer.write(bytes.fromhex('3051300d060960864801650304020305000440')+d)" > doc.di
check "pkcs11-tool signs a caller's DigestInfo with RSA-PKCS; openssl dgst -sha512 verifies" \
  sh -c "pkcs11-tool --module '$module' --slot 0 -l -p 1234 --sign --id 01 -m RSA-PKCS -i doc.di -o di.sig \
         && openssl dgst -sha512 -verify auth.pub -signature di.sig doc.txt"
check "pkcs11-tool signs with the sign key (login + context-specific login); openssl verifies" \
  sh -c "pkcs11-tool --module '$module' --slot 1 -l -p ABC123 --sign --id 02 -m SHA384-RSA-PKCS -i doc.txt -o s.sig \
         && openssl dgst -sha384 -verify sign.pub -signature s.sig doc.txt"
check "pkcs11-tool reads the sign certificate only after the signature password" \
  bash -c "! pkcs11-tool --module '$module' --slot 1 --read-object --type cert --id 02 -o /dev/null 2>/dev/null \
         && pkcs11-tool --module '$module' --slot 1 -l -p ABC123 --read-object --type cert --id 02 -o sc.der \
         && cmp sc.der <(openssl x509 -in sign.pem -outform DER)"
check "a wrong PIN is refused (CKR_PIN_INCORRECT), counted on the card and flagged 'user PIN count low'" \
  sh -c "pkcs11-tool --module '$module' --slot 0 -l -p 9999 -O 2>&1 | grep -q CKR_PIN_INCORRECT \
         && '$jpki' card status --reader '$reader0' | grep -q '2 of 3' \
         && pkcs11-tool --module '$module' -L | grep -A6 'Slot 0 ' | grep -q 'user PIN count low'"
check "the right PIN resets the counter" \
  sh -c "pkcs11-tool --module '$module' --slot 0 -l -p 1234 -O >/dev/null && '$jpki' card status --reader '$reader0' | grep -q '3 of 3'"
check "pkcs11-tool --test on the auth token" \
  sh -c "pkcs11-tool --module '$module' --slot 0 -l -p 1234 --test 2>&1 | tee test.txt | grep -qE '^No errors|^0 errors'"
check "pkcs11-tool --test-fork: C_Initialize again in a forked child" \
  sh -c "pkcs11-tool --module '$module' --test-fork 2>&1 | grep -q 'Calling C_Initialize in forked child'"

# The phone: the authentication certificate behind the PIN, which OpenSC's
# module cannot show (spec/pkcs11-desktop.md §1.5).
check "phone: before the PIN only the CA certificates show" \
  sh -c "pkcs11-tool --module '$module' --slot 2 -O > before.txt && ! grep -q 'User Authentication Certificate\$' before.txt \
         && grep -q 'User Authentication Certificate CA' before.txt"
check "phone: after the PIN the auth certificate shows; openssl verify accepts it" \
  sh -c "pkcs11-tool --module '$module' --slot 2 -l -p 2468 --read-object --type cert --id 01 -o pauth.der \
         && openssl x509 -inform DER -in pauth.der -out pauth.pem && openssl verify -CAfile ca/auth-ca.pem pauth.pem \
         && openssl x509 -in pauth.pem -pubkey -noout > pauth.pub"
check "phone: pkcs11-tool signs with its auth key; openssl verifies" \
  sh -c "pkcs11-tool --module '$module' --slot 2 -l -p 2468 --sign --id 01 -m SHA256-RSA-PKCS -i doc.txt -o pa.sig \
         && openssl dgst -sha256 -verify pauth.pub -signature pa.sig doc.txt"
check "phone: pkcs11-tool signs with its sign key; openssl verifies against the certificate read the same way" \
  bash -c "pkcs11-tool --module '$module' --slot 3 -l -p PHONE1 --read-object --type cert --id 02 -o psign.der \
         && pkcs11-tool --module '$module' --slot 3 -l -p PHONE1 --sign --id 02 -m SHA256-RSA-PKCS -i doc.txt -o ps.sig \
         && openssl dgst -sha256 -verify <(openssl x509 -inform DER -in psign.der -pubkey -noout) -signature ps.sig doc.txt"

# p11-kit: the admin's module directory (the user one is ignored for root).
mkdir -p /etc/pkcs11/modules
echo "module: $module" > "$p11kit_conf"
check "p11-kit list-modules shows the module's tokens" \
  sh -c "p11-kit list-modules > p11kit.txt && grep -q 'JPKIAPICCTOKEN2' p11kit.txt && grep -q 'JPKIAPGPSETOKEN' p11kit.txt"
rm -f "$p11kit_conf"

# NSS: `jpki nss install` registers the module; certutil lists the card's
# public certificates.
check "jpki nss install registers the module in a new NSS database (modutil -list)" \
  sh -c "'$jpki' nss install --db nssdb --module '$module' && modutil -dbdir sql:nssdb -list | grep -q 'openjpki JPKI'"
check "jpki nss install again: already registered" \
  sh -c "'$jpki' nss install --db nssdb --module '$module' | grep -q 'already registered'"
check "certutil -L -h all lists the card's authentication certificate and CAs" \
  sh -c "certutil -L -d sql:nssdb -h all > nss.txt && grep -q 'User Authentication Certificate ' nss.txt \
         && grep -q 'Digital Signature Certificate CA' nss.txt"
check "jpki nss uninstall removes it" \
  sh -c "'$jpki' nss uninstall --db nssdb && ! modutil -dbdir sql:nssdb -list | grep -q 'openjpki JPKI'"

# SSH: a throwaway sshd on loopback; the key line from `jpki ssh pubkey`.
mkdir -p /run/sshd ssh
ssh-keygen -q -t ed25519 -N '' -f ssh/hostkey
"$jpki" ssh pubkey --reader "$reader0" > ssh/authorized_keys 2>ssh/pubkey.err
cat > ssh/sshd_config <<CFG
ListenAddress 127.0.0.1
Port 38022
HostKey $work/ssh/hostkey
PidFile $work/ssh/sshd.pid
AuthorizedKeysFile $work/ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
CFG
printf '#!/bin/sh\necho 1234\n' > ssh/askpass && chmod +x ssh/askpass
/usr/sbin/sshd -D -e -f ssh/sshd_config >ssh/sshd.log 2>&1 &
pids+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/38022" || echo "     (sshd did not start: $(tail -3 ssh/sshd.log))"
sshopts=(-F none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentityAgent=none -o PasswordAuthentication=no -p 38022)
export SSH_ASKPASS=$work/ssh/askpass SSH_ASKPASS_REQUIRE=force
check "jpki ssh pubkey prints the key ssh-keygen -D reads through the module" \
  sh -c "test -s ssh/authorized_keys && ssh-keygen -D '$module' 2>/dev/null | grep -qF \"\$(cut -d' ' -f2 ssh/authorized_keys)\""
check "ssh -I libjpki_pkcs11.so logs in to the loopback sshd with the card" \
  sh -c "ssh ${sshopts[*]} -I '$module' root@127.0.0.1 echo logged-in-with-the-card | grep -q logged-in-with-the-card"
check "ssh with the card is refused when the key is not authorised" \
  sh -c "mv ssh/authorized_keys ssh/ak.saved; ! ssh ${sshopts[*]} -I '$module' root@127.0.0.1 true 2>ssh/refused.txt; rc=\$?; \
         mv ssh/ak.saved ssh/authorized_keys; test \$rc -eq 0 && grep -q 'Permission denied' ssh/refused.txt"
eval "$(ssh-agent -s -a "$work/ssh/agent.sock" -P "$(dirname "$module")/*")" >/dev/null
pids+=("$SSH_AGENT_PID")
check "ssh-add -s loads the card into ssh-agent; ssh logs in through the agent" \
  sh -c "ssh-add -s '$module' && ssh-add -l | grep -q RSA \
         && ssh -F none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p 38022 root@127.0.0.1 echo via-agent | grep -q via-agent"
# The phone over NFC: its authentication key shows only after the PIN, so
# through ssh-add -s, which logs in before it lists keys; the module offers
# only the phone's reader to that agent (JPKI_PKCS11_READER).
printf '#!/bin/sh\necho 2468\n' > ssh/askpass-phone && chmod +x ssh/askpass-phone
JPKI_AUTH_PIN=2468 "$jpki" ssh pubkey --reader "Virtual PCD 00 01" --comment phone > ssh/phone.pub 2>/dev/null
cat ssh/phone.pub >> ssh/authorized_keys
(export JPKI_PKCS11_READER="PCD 00 01"; ssh-agent -a "$work/ssh/agent-phone.sock" -P "$(dirname "$module")/*" > ssh/agent-phone.env)
pids+=("$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' ssh/agent-phone.env)")
check "phone: ssh-add -s with its PIN loads the key jpki ssh pubkey printed; ssh logs in through the agent" \
  sh -c "export SSH_AUTH_SOCK='$work/ssh/agent-phone.sock' SSH_ASKPASS='$work/ssh/askpass-phone'; \
         ssh-add -s '$module' && ssh-add -L | grep -qF \"\$(cut -d' ' -f2 ssh/phone.pub)\" \
         && ssh -F none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p 38022 root@127.0.0.1 echo via-phone | grep -q via-phone"
unset SSH_ASKPASS SSH_ASKPASS_REQUIRE

# TLS client authentication: curl + libp11's engine with the key on the
# card; the server requires a certificate from the JPKI auth CA.
openssl req -x509 -newkey rsa:2048 -nodes -keyout server.key -out server.pem -days 1 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
openssl s_server -accept 127.0.0.1:38443 -cert server.pem -key server.key -Verify 1 -CAfile ca/auth-ca.pem \
  -tls1_2 -www >tls12.log 2>&1 &
pids+=($!)
openssl s_server -accept 127.0.0.1:38444 -cert server.pem -key server.key -Verify 1 -CAfile ca/auth-ca.pem \
  -tls1_3 -www >tls13.log 2>&1 &
pids+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/38443"
uri="pkcs11:model=JPKIAPICCTOKEN2;token=JPKI%20(User%20Authentication%20PIN)"
export PKCS11_MODULE_PATH=$module
# The card signs PKCS#1 v1.5 only; OpenSSL prefers RSA-PSS even in TLS 1.2
# when the server allows it, so the client is told to use PKCS#1
# signature algorithms (docs/pkcs11.md, "TLS client authentication").
cat > client-openssl.cnf <<CNF
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
ClientSignatureAlgorithms = RSA+SHA256:RSA+SHA384:RSA+SHA512
CNF
check "TLS 1.2: curl with the card's key (libp11 engine) is accepted by a server requiring JPKI client certificates" \
  sh -c "OPENSSL_CONF=client-openssl.cnf curl -sS --tls-max 1.2 --cacert server.pem --cert '$uri;object=User%20Authentication%20Certificate;type=cert' \
         --key '$uri;object=User%20Authentication%20Key;type=private;pin-value=1234' https://127.0.0.1:38443/ > tls12.html \
         && grep -q 'Client certificate' tls12.html"
phone_uri="pkcs11:model=JPKIAPGPSETOKEN;token=JPKI%20(User%20Authentication%20PIN)"
check "TLS 1.2: curl with the phone's key over NFC (its certificate behind the PIN) is accepted" \
  sh -c "OPENSSL_CONF=client-openssl.cnf curl -sS --tls-max 1.2 --cacert server.pem \
         --cert '$phone_uri;object=User%20Authentication%20Certificate;type=cert;pin-value=2468' \
         --key '$phone_uri;object=User%20Authentication%20Key;type=private;pin-value=2468' https://127.0.0.1:38443/ > tls12-phone.html \
         && sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' tls12-phone.html | openssl x509 -noout -fingerprint > seen.fp \
         && openssl x509 -in pauth.pem -noout -fingerprint | cmp - seen.fp"
check "TLS 1.2: curl without a client certificate is refused" \
  sh -c "! curl -sS --tls-max 1.2 --cacert server.pem https://127.0.0.1:38443/ >/dev/null 2>&1"
check "TLS 1.3: refused, and the module says why (the card signs PKCS#1 v1.5 only; use TLS 1.2)" \
  sh -c "! curl -sS --cacert server.pem --cert '$uri;object=User%20Authentication%20Certificate;type=cert' \
         --key '$uri;object=User%20Authentication%20Key;type=private;pin-value=1234' https://127.0.0.1:38444/ >/dev/null 2>tls13.err \
         ; grep -q 'TLS 1.3' tls13.err && grep -q 'TLS 1.2' tls13.err"
unset PKCS11_MODULE_PATH

# pyHanko signs a PDF through the module (its pkcs11 signer) with the
# signature key of the card and of the phone; pyhanko sign validate.
export venv module
if [ -x "$venv/bin/pyhanko" ]; then
  "$py" -c "import sys; sys.path.insert(0, '$here'); from csc_pyhanko import blank_pdf; open('blank.pdf', 'wb').write(blank_pdf())"
  pysign() { # slot-token-label, password, out
    PYHANKO_PKCS11_PIN=$2 PYHANKO_PKCS11_SIGNING_PIN=$2 "$venv/bin/pyhanko" sign addsig --field Sig1 --use-pades \
      pkcs11 --lib "$module" --token-label "JPKI (Digital Signature PIN)" --slot-no "$1" \
      --cert-label "Digital Signature Certificate" --key-label "Digital Signature Key" blank.pdf "$3"
  }
  validate() { "$venv/bin/pyhanko" sign validate --trust ca/sign-ca.pem --trust-replace --no-revocation-check "$1"; }
  check "pyHanko signs through the module with the card's signature key; pyhanko sign validate: INTACT:TRUSTED" \
    sh -c "$(declare -f pysign validate); pysign 1 ABC123 card.pdf && validate card.pdf | grep -q 'INTACT:TRUSTED'"
  check "pyHanko signs through the module with the phone's signature key; validated" \
    sh -c "$(declare -f pysign validate); pysign 3 PHONE1 phone.pdf && validate phone.pdf | grep -q 'INTACT:TRUSTED'"
  check "jpki pdf sign with the phone over NFC (PC/SC reader 1); pyHanko and jpki pdf verify: valid" \
    sh -c "$(declare -f validate); JPKI_SIGN_PIN=PHONE1 '$jpki' pdf sign blank.pdf -o nfc.pdf --reader 'Virtual PCD 00 01' \
           && validate nfc.pdf | grep -q 'INTACT:TRUSTED,UNTOUCHED' && '$jpki' pdf verify nfc.pdf --ca ca/sign-ca.pem"
else
  echo "FAIL pyHanko venv missing (scripts/deps makes it)"; failed=$((failed + 1))
fi

# Hot-plug, last (it takes the card out): PyKCS11 waits for slot events.
if [ -x "$venv/bin/python" ]; then
  serve_pid=${pids[1]}
  check "hot-plug (PyKCS11): removal and insertion are slot events; a removed card's session ends" \
    timeout 90 "$py" "$here/pkcs11_events.py" "$module" "$serve_pid" -- "$jpki" card serve --card card.json --vpcd 127.0.0.1:35963
fi

echo "pkcs11 interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
