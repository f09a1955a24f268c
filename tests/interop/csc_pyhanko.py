"""pyHanko against a CSC service: sign a PDF, or probe SAD replay.

    csc_pyhanko.py sign  BASE CREDENTIAL OUT.pdf [--token T] [--pin P] [--cafile PEM] [--batch N] [--count C]
    csc_pyhanko.py probe BASE CREDENTIAL [--token T] [--pin P] [--cafile PEM]

`sign` fetches the credential (credentials/info, v1 JSON as pyHanko sends
it), makes a one-page PDF and signs it with pyHanko's CSCSigner, one
credentials/authorize per signHash batch (the SAD pinned to the batch's
hashes); it writes OUT.pdf and OUT.pdf.root.pem (the chain's last
certificate, the trust anchor for `pyhanko sign validate`). With
`--count C`, C PDFs are signed concurrently through one signer (OUT-1.pdf …),
so batches of `--batch N` hashes fill (pyHanko's own live test: 6 and 3).

`probe` asks for a SAD pinned to one hash, then calls signHash with another
hash, with the pinned one, and with the pinned one again (a replay), and
prints the three statuses as JSON; the same probe runs against our RSSP and
the certomancer-csc-dummy peer (spec/csc-sam.md §2.4, §3.2).
"""
import argparse
import asyncio
import base64
import hashlib
import io
import json
import ssl
import sys

import aiohttp
from asn1crypto import pem
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.signers import csc_signer


def blank_pdf() -> bytes:
    w = PdfFileWriter()
    contents = w.add_object(generic.StreamObject(stream_data=b""))
    w.insert_page(PageObject(contents=contents, media_box=(0, 0, 595, 842)))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


class PinPerBatch(csc_signer.CSCAuthorizationManager):
    """credentials/authorize for each batch of hashes pyHanko hands over."""

    def __init__(self, session, info, credential, pin):
        super().__init__(info, credential)
        self._session, self._pin = session, pin

    async def authorize_signature(self, hash_b64s):
        request = self.format_csc_auth_request(hash_b64s=hash_b64s, pin=self._pin)
        url = self.csc_session_info.endpoint_url("credentials/authorize")
        async with self._session.post(url, json=request, headers=self.auth_headers, raise_for_status=True) as r:
            return self.parse_csc_auth_response(await r.json())


def connector(cafile):
    if not cafile:
        return None
    return aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=cafile))


async def sign(a) -> None:
    info = csc_signer.CSCServiceSessionInfo(service_url=a.base, credential_id=a.credential, oauth_token=a.token, api_ver="v1")
    async with aiohttp.ClientSession(connector=connector(a.cafile)) as session:
        credential = await csc_signer.fetch_certs_in_csc_credential(session, info)
        signer = csc_signer.CSCSigner(session, auth_manager=PinPerBatch(session, info, credential, a.pin), batch_size=a.batch)

        async def one() -> bytes:
            writer = IncrementalPdfFileWriter(io.BytesIO(blank_pdf()))
            signed = await signers.async_sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Sig1"), signer=signer)
            return signed.getvalue()

        pdfs = await asyncio.gather(*(one() for _ in range(a.count)))
    names = [a.out] if a.count == 1 else [a.out.replace(".pdf", f"-{i + 1}.pdf") for i in range(a.count)]
    root = (credential.chain or [credential.signing_cert])[-1]
    for name, pdf in zip(names, pdfs):
        with open(name, "wb") as f:
            f.write(pdf)
        with open(name + ".root.pem", "wb") as f:
            f.write(pem.armor("CERTIFICATE", root.dump()))


async def probe(a) -> None:
    headers = {"Authorization": f"Bearer {a.token}"} if a.token else {}
    b64 = lambda data: base64.b64encode(hashlib.sha256(data).digest()).decode()
    pinned, other = b64(b"the document the signer saw"), b64(b"another document")
    url = lambda m: f"{a.base}/csc/v1/{m}"
    async with aiohttp.ClientSession(connector=connector(a.cafile), headers=headers) as s:
        auth = {"credentialID": a.credential, "numSignatures": 1, "hash": [pinned]}
        if a.pin:
            auth["PIN"] = a.pin
        async with s.post(url("credentials/authorize"), json=auth) as r:
            assert r.status == 200, r.status
            sad = (await r.json())["SAD"]
        base = {"credentialID": a.credential, "SAD": sad, "hashAlgo": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.11"}
        statuses = {}
        for name, h in (("unpinned", other), ("first", pinned), ("replay", pinned)):
            async with s.post(url("signatures/signHash"), json={**base, "hash": [h]}) as r:
                statuses[name] = r.status
    print(json.dumps(statuses))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["sign", "probe"])
    p.add_argument("base")
    p.add_argument("credential")
    p.add_argument("out", nargs="?")
    p.add_argument("--token")
    p.add_argument("--pin")
    p.add_argument("--cafile")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--count", type=int, default=1)
    a = p.parse_args()
    asyncio.run(sign(a) if a.command == "sign" else probe(a))


if __name__ == "__main__":
    sys.exit(main())
