"""Errors of the edge agent.

    AgentError
    ├── ConfigError        -- the agent.toml cannot be read or does not validate; the message names file and key
    ├── RenewalError       -- the certificate could not be renewed (the coordinator refused, or is unreachable)
    ├── OutboxError        -- the outbox database cannot be used
    │   └── OutboxFull     -- the outbox holds ``max_entries``: the new entry is refused (and counted)
    └── DriverError        -- raised by drivers; the supervisor and the command handler translate them
        ├── UnknownAction  -- the device has no such command            → result ``rejected``
        ├── BadArguments   -- the command's arguments do not fit         → result ``rejected``
        └── DeviceError    -- the device failed (connect, poll, execute) → device down / result ``failed``

Third-party errors (sqlite3, paho, OS) are translated into these once, at the module that talks to them.
"""

from __future__ import annotations


class AgentError(Exception):
    """Root of the edge agent's errors."""


class ConfigError(AgentError):
    """An invalid or unreadable agent configuration."""


class RenewalError(AgentError):
    """The certificate could not be renewed; the message says why."""


class OutboxError(AgentError):
    """The outbox database cannot be used."""


class OutboxFull(OutboxError):
    """The outbox is full; the entry was refused and counted."""


class DriverError(AgentError):
    """Root of the errors a driver raises."""


class UnknownAction(DriverError):
    """The device does not know this action."""


class BadArguments(DriverError):
    """The action's arguments are missing or invalid."""


class DeviceError(DriverError):
    """The device failed or cannot be reached."""
