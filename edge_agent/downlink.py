"""Messages from the coordinator: decoded with :func:`protocols.envelope.decode` and routed.

``down/cmd`` → the command runner; ``down/ack`` → the outbox sender; ``down/config`` → the runtime's
settings (telemetry interval); the coordinator's state is noted and logged when it changes. A payload that
does not decode is logged with its reason and counted (``bad`` by reason); it never stops the agent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from protocols import envelope
from protocols.errors import DecodeError
from protocols.messages import AckBody, CommandBody, ConfigBody, CoordinatorStateBody

log = logging.getLogger(__name__)


@dataclass
class DownlinkRoutes:
    command: Callable[[CommandBody], None]
    ack: Callable[[AckBody], None]
    config: Callable[[ConfigBody], None]


@dataclass
class Downlink:
    agent_id: str
    routes: DownlinkRoutes
    bad: dict[str, int] = field(default_factory=dict)
    received: int = 0
    coordinator_online: bool | None = None

    def dispatch(self, topic: str, payload: bytes) -> None:
        try:
            parsed, env = envelope.decode(topic, payload)
            if parsed.agent_id != self.agent_id and not isinstance(env.body, CoordinatorStateBody):
                raise DecodeError("unknown_topic", f"{topic!r} is not addressed to {self.agent_id!r}")
        except DecodeError as err:
            self.bad[err.reason] = self.bad.get(err.reason, 0) + 1
            log.warning("ignored a message on %s: %s", topic, err)
            return
        self.received += 1
        body = env.body
        if isinstance(body, CommandBody):
            self.routes.command(body)
        elif isinstance(body, AckBody):
            self.routes.ack(body)
        elif isinstance(body, ConfigBody):
            self.routes.config(body)
        elif isinstance(body, CoordinatorStateBody):
            if body.online != self.coordinator_online:
                log.info("coordinator is %s", "online" if body.online else "offline")
            self.coordinator_online = body.online
        else:
            self.bad["unexpected_channel"] = self.bad.get("unexpected_channel", 0) + 1
            log.warning("ignored a %s message on %s: not for agents", env.kind, topic)
