"""Our Android KeyDescription decoded by an independent parser: pyasn1
with the ASN.1 module of PyPI `webauthn` (webauthn.helpers.asn1.android_key),
then re-encoded: DER must come back byte for byte (strict DER)."""
import json
import sys

from pyasn1.codec.der import decoder, encoder
from webauthn.helpers.asn1.android_key import KeyDescription

art = sys.argv[1]
expected = json.load(open(f"{art}/expected.json"))
der = open(f"{art}/key-description.der", "rb").read()
kd, rest = decoder.decode(der, asn1Spec=KeyDescription())
assert rest == b"", "trailing bytes after KeyDescription"
assert encoder.encode(kd) == der, "pyasn1's DER re-encoding differs from ours"
assert int(kd["attestationVersion"]) == 400 and int(kd["keymasterVersion"]) == 400, kd
assert int(kd["attestationSecurityLevel"]) == 1 and int(kd["keymasterSecurityLevel"]) == 1, kd
assert bytes(kd["attestationChallenge"]).hex() == expected["nonce"], "challenge"
hw = kd["teeEnforced"]
rot = hw["rootOfTrust"]
assert bool(rot["deviceLocked"]) is True, "deviceLocked"
assert int(rot["verifiedBootState"]) == 0, "verifiedBootState"
assert bytes(rot["verifiedBootKey"]).hex() == expected["verified_boot_key"], "verifiedBootKey"
assert int(hw["osPatchLevel"]) == expected["os_patch_level"], "osPatchLevel"
assert int(hw["vendorPatchLevel"]) == expected["vendor_patch_level"], "vendorPatchLevel"
assert int(hw["origin"]) == 0 and int(hw["algorithm"]) == 3 and int(hw["ecCurve"]) == 1, "key properties"
assert 2 in [int(p) for p in hw["purpose"]], "purpose SIGN"
app_id = bytes(kd["softwareEnforced"]["attestationApplicationId"])
assert expected["package"].encode() in app_id and bytes.fromhex(expected["signing_digest"]) in app_id, "attestationApplicationId"
print(f"pyasn1 (webauthn KeyDescription): {len(der)} bytes decoded, re-encoded identically, "
      f"version 400 TEE, challenge, root of trust, patch levels {int(hw['osPatchLevel'])}/{int(hw['vendorPatchLevel'])}, app id checked")
