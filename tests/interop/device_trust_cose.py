"""Our EAT evidence, EAR result and confirmation checked by independent
libraries: pycose + cbor2 (COSE_Sign1 ES256 under the attested key),
PyJWT (EAR, ES256 under the verifier key), cryptography (the confirmation's
ECDSA signature over the CBOR prompt)."""
import json
import sys

import cbor2
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.keys import EC2Key
from pycose.messages import CoseMessage

art = sys.argv[1]
expected = json.load(open(f"{art}/expected.json"))
nonce = bytes.fromhex(expected["nonce"])

# EAT: a tagged COSE_Sign1 verifying under the Android leaf's key.
raw = open(f"{art}/evidence.cbor", "rb").read()
assert raw[0] == 0xD2, "CBOR tag 18 (COSE_Sign1)"
msg = CoseMessage.decode(raw)
leaf = x509.load_pem_x509_certificate(open(f"{art}/android-leaf.pem", "rb").read())
numbers = leaf.public_key().public_numbers()
msg.key = EC2Key(crv="P_256", x=numbers.x.to_bytes(32, "big"), y=numbers.y.to_bytes(32, "big"))
assert msg.verify_signature(), "the EAT's signature"
chain = msg.phdr[33] if 33 in msg.phdr else [v for k, v in msg.phdr.items() if getattr(k, "identifier", None) == 33][0]
assert chain[0] == leaf.public_bytes(serialization.Encoding.DER), "x5chain leaf"
claims = cbor2.loads(msg.payload)
assert claims[10] == nonce, "eat_nonce"
assert claims[265] == expected["eat_profile"], "eat_profile"
assert claims[275] == 4, "intuse: certificate issuance"
assert claims[266]["se"][-70001].hex().upper() == expected["se_identifier"], "submod se"
assert claims[266]["app"][270] == expected["package"], "submod app"
tampered = bytearray(raw)
tampered[-70] ^= 1
bad = CoseMessage.decode(bytes(tampered))
bad.key = msg.key
assert not bad.verify_signature(), "a changed byte must fail"
print(f"pycose/cbor2: EAT of {len(raw)} bytes verifies under the attested key; nonce, profile, intuse, submods checked; a changed byte fails")

# EAR: a JWT under the verifier's key.
token = open(f"{art}/ear.jwt").read()
pub = open(f"{art}/verifier.pub.pem", "rb").read()
ear = jwt.decode(token, pub, algorithms=["ES256"], options={"require": ["exp", "iat"]})
assert ear["eat_profile"] == expected["ear_profile"], ear
assert ear["ear_status"] == "affirming", ear
for sub in ("tee", "app", "se"):
    assert ear["submods"][sub]["ear_status"] == "affirming", (sub, ear)
assert ear["submods"]["tee"]["ear_trustworthiness_vector"]["hardware"] == 2, ear
assert ear["openjpki_se_identifier"] == expected["se_identifier"], ear
import base64
assert base64.urlsafe_b64decode(ear["eat_nonce"] + "=" * (-len(ear["eat_nonce"]) % 4)) == nonce, ear
other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
try:
    jwt.decode(token, other, algorithms=["ES256"])
    raise SystemExit("an EAR verified under another key")
except jwt.InvalidSignatureError:
    pass
print("PyJWT: EAR verifies under the verifier key only; profile, affirming tee/app/se, nonce, SE checked")

# Confirmation: CBOR {"prompt", "extra"} signed ES256 (DER) by the confirmation key.
message = open(f"{art}/confirmation.cbor", "rb").read()
decoded = cbor2.loads(message)
assert decoded == {"prompt": expected["prompt"], "extra": nonce}, decoded
key = serialization.load_pem_public_key(open(f"{art}/confirmation-key.pem", "rb").read())
key.verify(open(f"{art}/confirmation.sig", "rb").read(), message, ec.ECDSA(hashes.SHA256()))
print("cbor2/cryptography: the confirmation message is {prompt, extra} and its signature verifies")
