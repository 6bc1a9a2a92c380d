"""Tables (``table=True``) and API model families of the coordinator.

    agent    -- Agent (presence, outbox and inventory sync state), AgentPublic, AgentDetail
    device   -- Device (inventory + status per agent), DevicePublic
    event    -- Event (rows from agents' outboxes), EventPublic
    command  -- CommandRow, CommandResult (dedupe of results), CommandCreate, CommandPublic
    meta     -- CoordinatorMeta (key/value: the coordinator's boot counter)
    conference -- Conference, Participant (video conferences and their roll call), API models
    certificate -- Certificate (registry), Seal, PrinterCalibration, CertificatePrint; sms -- SmsMessage (outbox)

The workflow domain's tables (organisation, staff, catalog: ``workflow.tables``) are registered here too.

Times are Unix seconds (float), as on the wire.
"""

from coordinator.models import blob as _blob  # noqa: F401  (blob store records, migration 0500)
from coordinator.models import certificate as _certificate  # noqa: F401  (certificates, migration 0700)
from coordinator.models import conference as _conference  # noqa: F401  (conference tables, migration 0100)
from coordinator.models import sms as _sms  # noqa: F401  (SMS outbox, migration 0700)
from coordinator.models import stats as _stats  # noqa: F401  (boards' daily aggregate, rules: migration 0800)
from coordinator.models import wall as _wall  # noqa: F401  (walls, camera groups, tours: migration 0400)
from coordinator.models.agent import Agent, AgentDetail, AgentPublic, AgentsPublic, InventoryPublic
from coordinator.models.command import (
    CommandCreate,
    CommandPublic,
    CommandResult,
    CommandRow,
    CommandsPublic,
    CommandStatus,
)
from coordinator.models.device import Device, DevicePublic, DevicesPublic
from coordinator.models.event import Event, EventPublic, EventsPublic
from coordinator.models.meta import CoordinatorMeta
from workflow import tables as _workflow_tables  # noqa: F401  (organisation and catalog tables, migration 0300)

__all__ = [
    "Agent",
    "AgentDetail",
    "AgentPublic",
    "AgentsPublic",
    "CommandCreate",
    "CommandPublic",
    "CommandResult",
    "CommandRow",
    "CommandStatus",
    "CommandsPublic",
    "CoordinatorMeta",
    "Device",
    "DevicePublic",
    "DevicesPublic",
    "Event",
    "EventPublic",
    "EventsPublic",
    "InventoryPublic",
]
