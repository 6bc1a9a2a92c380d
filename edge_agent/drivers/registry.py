"""Which device kinds the agent knows: kind → (config class, driver class).

The config's ``[[devices]]`` list is a pydantic discriminated union on ``kind`` built from this table, so a
new driver is added by writing its module (a config class with ``kind: Literal[...]`` and a driver class)
and one line in :data:`KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Union

from pydantic import Field

from edge_agent.drivers.base import AnyDriver, DeviceConfigBase, EmitFn
from edge_agent.drivers.doccam import DoccamConfig, DoccamDriver
from edge_agent.drivers.onvif_camera import OnvifConfig, OnvifDriver
from edge_agent.drivers.printer import PrinterConfig, PrinterDriver
from edge_agent.drivers.scanner import ScannerConfig, ScannerDriver
from edge_agent.drivers.sigpad import SigpadConfig, SigpadDriver
from edge_agent.drivers.sim import SimConfig, SimDriver
from edge_agent.drivers.terminal import TerminalConfig, TerminalDriver
from edge_agent.errors import ConfigError


@dataclass(frozen=True)
class DriverKind:
    config: type[DeviceConfigBase]
    driver: type[AnyDriver]


KINDS: Final[dict[str, DriverKind]] = {
    "sim": DriverKind(SimConfig, SimDriver),
    "terminal": DriverKind(TerminalConfig, TerminalDriver),
    "scanner": DriverKind(ScannerConfig, ScannerDriver),
    "printer": DriverKind(PrinterConfig, PrinterDriver),
    "onvif": DriverKind(OnvifConfig, OnvifDriver),
    "doccam": DriverKind(DoccamConfig, DoccamDriver),
    "sigpad": DriverKind(SigpadConfig, SigpadDriver),
}


def config_union() -> Any:
    """The type of one ``[[devices]]`` entry: the union of the registered config classes, tagged by ``kind``."""
    members = tuple(k.config for k in KINDS.values())
    return Annotated[Union[members], Field(discriminator="kind")]  # noqa: UP007 - built at run time


def build_driver(config: DeviceConfigBase, emit: EmitFn) -> AnyDriver:
    """The registered driver for ``config``; this is the runtime's default driver factory."""
    kind = KINDS.get(config.kind)
    if kind is None:
        raise ConfigError(f"device {config.id!r}: no driver for kind {config.kind!r}")
    return kind.driver(config, emit)
