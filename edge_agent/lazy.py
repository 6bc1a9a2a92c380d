"""``lazy("cv2")``: a module imported on first attribute access.

The agent registers every driver kind, but a counter PC with a scanner and a printer should not pay for
OpenCV and NumPy (≈ 47 MB) it never uses. Driver modules bind heavy libraries through this proxy at run time
and through a normal import under ``TYPE_CHECKING`` for mypy.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._lazy_name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self.__dict__.get("_module")
        if module is None:
            module = importlib.import_module(self.__dict__["_lazy_name"])
            self.__dict__["_module"] = module
        return getattr(module, attr)


def lazy(name: str) -> Any:
    return LazyModule(name)
