"""Make a revocation take effect at once: rewrite the CRL, reload Mosquitto, end the agent's live session.

Mosquitto applies a reloaded CRL to new connections only (RECIPES.md), so the live session is ended by taking
it over (:func:`provisioning.session.take_over_session`); the agent's reconnect then fails the TLS handshake.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from coordinator.settings import Settings
from provisioning.broker import reload_running
from provisioning.errors import ProvisioningError
from provisioning.pki import Pki
from provisioning.session import take_over_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Enforcement:
    broker_reloaded: bool
    session_ended: bool
    problems: tuple[str, ...] = ()


def enforce(settings: Settings, pki: Pki, serials: list[int], agent_id: str) -> Enforcement:
    problems: list[str] = []
    pki.revoke_serials(serials)
    if agent_id in {c.name for c in pki.issued() if not c.revoked}:  # issued by `hallmesh pki issue-agent`
        pki.revoke(agent_id)
    reloaded = False
    if settings.broker_dir is not None:
        try:
            reloaded = reload_running(settings.broker_dir, pki)
        except ProvisioningError as err:
            problems.append(str(err))
        if not reloaded and not problems:
            problems.append(f"no running broker found in {settings.broker_dir} (mosquitto.pid)")
    else:
        problems.append("HALLMESH_BROKER_DIR is not set: reload the broker yourself (SIGHUP) to load the CRL")
    ended = False
    assert settings.mqtt_ca is not None
    assert settings.mqtt_cert is not None
    assert settings.mqtt_key is not None
    try:
        take_over_session(
            settings.mqtt_host,
            settings.mqtt_port,
            settings.mqtt_ca,
            settings.mqtt_cert,
            settings.mqtt_key,
            client_id=agent_id,
        )
        ended = True
    except ProvisioningError as err:
        problems.append(str(err))
    for p in problems:
        log.warning("revocation of %s: %s", agent_id, p)
    return Enforcement(reloaded, ended, tuple(problems))
