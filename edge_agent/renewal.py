"""Certificate renewal: at ``renew_at`` (default 2/3) of its certificate's lifetime the agent asks the
coordinator for a new one over its current identity, then swaps the files and reconnects.

The request is signed with the current key (docs/provisioning.md, ``protocols.provisioning``); the CSR carries a
**new** key made here, which never leaves the PC. Swapping: the new key is kept as ``<key>.next`` until the
certificate arrives (a retry after a lost answer reuses it), the certificate is written as ``<cert>.next``, then
both are renamed over the old files; :meth:`Renewer.recover` finishes a swap cut short by a crash. The link
then reconnects (a clean disconnect, so no Will and no offline flap); events keep going into the outbox
meanwhile and are replayed on the new session, so nothing is lost.

``cryptography`` and ``httpx`` are imported only when a renewal is due (about 12 MB of RSS); the schedule reads the
certificate's validity with a few lines of DER parsing instead.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent.config import BrokerConfig, CoordinatorConfig
from edge_agent.errors import RenewalError

log = logging.getLogger(__name__)


def _next(path: Path) -> Path:
    return path.with_name(path.name + ".next")


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _tlv(data: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start, end) of the DER element at ``i``."""
    tag, length = data[i], data[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[i : i + n], "big")
        i += n
    if i + length > len(data):
        raise ValueError("truncated DER")
    return tag, i, i + length


def _der_time(tag: int, raw: bytes) -> float:
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise ValueError(f"unexpected time tag {tag:#x}")
    moment = dt.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)
    return moment.timestamp()


def pem_validity(pem: str) -> tuple[float, float]:
    """(not_before, not_after) of a PEM certificate, read without ``cryptography`` (which costs ~8 MB of RSS
    for the whole life of the agent; it is loaded only when a renewal is actually due)."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)
    _t, start, _e = _tlv(der, 0)  # Certificate
    _t, i, tbs_end = _tlv(der, start)  # TBSCertificate
    fields: list[tuple[int, int, int]] = []
    while i < tbs_end and len(fields) < 5:
        tag, s, e = _tlv(der, i)
        if not (tag == 0xA0 and not fields):  # skip the explicit [0] version
            fields.append((tag, s, e))
        i = e
    _tag, v, v_end = fields[3]  # serial, signature, issuer, validity
    tag1, s1, e1 = _tlv(der, v)
    tag2, s2, e2 = _tlv(der, e1)
    if e2 > v_end:
        raise ValueError("bad validity")
    return _der_time(tag1, der[s1:e1]), _der_time(tag2, der[s2:e2])


class Renewer:
    def __init__(
        self,
        agent_id: str,
        broker: BrokerConfig,
        coordinator: CoordinatorConfig,
        on_renewed: Callable[[], None],
    ) -> None:
        self.agent_id = agent_id
        self.cert_path = broker.cert
        self.key_path = broker.key
        self.config = coordinator
        self.on_renewed = on_renewed
        self.renewals = 0

    # -- files -------------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Finish a swap that a crash interrupted (the key may already be replaced; the cert not yet)."""
        key_next, cert_next = _next(self.key_path), _next(self.cert_path)
        if cert_next.exists():
            if key_next.exists():
                os.replace(key_next, self.key_path)
            os.replace(cert_next, self.cert_path)
            log.info("finished swapping in the renewed certificate %s", self.cert_path)

    def validity(self) -> tuple[float, float]:
        return pem_validity(self.cert_path.read_text())

    def due_at(self) -> float:
        not_before, not_after = self.validity()
        return not_before + (not_after - not_before) * self.config.renew_at

    # -- one renewal (blocking; run in a worker thread) --------------------------------------------------

    def renew_once(self) -> float:
        """Get and install a new certificate; return its expiry. Raises :class:`RenewalError`."""
        import httpx
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        from protocols.provisioning import RENEW_PATH, RenewRequest, RenewResponse, renew_signing_bytes

        key_next = _next(self.key_path)
        if key_next.exists():
            new_key: Any = serialization.load_pem_private_key(key_next.read_bytes(), password=None)
        else:
            new_key = ec.generate_private_key(ec.SECP256R1())
            pem = new_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            _write(key_next, pem, 0o600)
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.agent_id)]))
            .sign(new_key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )
        current_key: Any = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        ts, nonce = time.time(), secrets.token_hex(16)
        signature = current_key.sign(
            renew_signing_bytes(self.agent_id, ts, nonce, csr), ec.ECDSA(hashes.SHA256())
        )
        request = RenewRequest(
            agent_id=self.agent_id,
            certificate_pem=self.cert_path.read_text(),
            csr_pem=csr,
            ts=ts,
            nonce=nonce,
            signature_b64=base64.b64encode(signature).decode(),
        )
        verify: str | bool = str(self.config.ca) if self.config.ca is not None else True
        url = self.config.url.rstrip("/") + RENEW_PATH
        try:
            resp = httpx.post(url, json=request.model_dump(), timeout=30, verify=verify)
        except httpx.HTTPError as err:
            raise RenewalError(f"cannot reach the coordinator at {url}: {err}") from err
        if resp.status_code != 200:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text
            raise RenewalError(f"the coordinator refused to renew ({resp.status_code}): {detail}")
        answer = RenewResponse.model_validate(resp.json())
        cert = x509.load_pem_x509_certificate(answer.certificate_pem.encode())
        if cert.public_key() != new_key.public_key():
            raise RenewalError("the coordinator returned a certificate for another key")
        _write(_next(self.cert_path), answer.certificate_pem.encode(), 0o644)
        self.recover()
        self.renewals += 1
        return answer.not_after

    # -- the schedule (agent loop) -----------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.to_thread(self.recover)
        failures = 0
        while True:
            try:
                due = await asyncio.to_thread(self.due_at)
            except (OSError, ValueError) as err:
                log.error("cannot read the certificate %s: %s", self.cert_path, err)
                await asyncio.sleep(self.config.retry_s)
                continue
            wait = due - time.time()
            if wait > 0:
                await asyncio.sleep(min(wait, 3600.0))  # look again hourly: the file may have been replaced
                continue
            try:
                not_after = await asyncio.to_thread(self.renew_once)
            except (RenewalError, OSError, ValueError) as err:
                failures += 1
                _nb, na = await asyncio.to_thread(self.validity)
                delay = min(self.config.retry_s, max(1.0, (na - time.time()) / 10), 2.0**failures)
                log.warning(
                    "certificate renewal failed (attempt %d, again in %.0f s): %s", failures, delay, err
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            log.info("certificate renewed: valid until %s; reconnecting with it", time.ctime(not_after))
            self.on_renewed()
