"""Our per-request app assertion (docs/device-trust.md) checked by PyPI
pyattest 1.0.5's App Attest assertion verifier, which we did not write:
the signature over SHA-256(authenticatorData || clientDataHash) under the
app key; then rpIdHash and the counter it unpacks, as its caller must.
A changed request or another key fails."""
import hashlib
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from cryptography.exceptions import InvalidSignature
from pyattest.assertion import Assertion
from pyattest.configs.apple import AppleConfig
from cryptography.hazmat.primitives.asymmetric import ec

work = Path(sys.argv[1])
expected = json.loads((work / "expected.json").read_text())
raw = (work / "assertion.cbor").read_bytes()
key = load_pem_public_key((work / "app-key.pem").read_bytes())
config = AppleConfig(key_id=b"", app_id=expected["assertion_rp_id"], production=False)
client_data_hash = bytes.fromhex(expected["assertion_client_data_hash"])

assertion = Assertion(raw, client_data_hash, key, config)
assertion.verify()
data = assertion.data
assert data["rp_id"] == hashlib.sha256(expected["assertion_rp_id"].encode()).digest(), "rpIdHash"
assert data["counter"] == expected["assertion_counter"], data["counter"]

for what, h, k in [
    ("another request", hashlib.sha256(b"POST /v1/relay/01\n{}").digest(), key),
    ("another key", client_data_hash, ec.generate_private_key(ec.SECP256R1()).public_key()),
]:
    try:
        Assertion(raw, h, k, config).verify()
    except InvalidSignature:
        continue
    sys.exit(f"FAIL: the assertion verified for {what}")
print("pyattest: the app assertion verifies (rpIdHash, counter 3); another request or key does not")
