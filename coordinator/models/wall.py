"""Walls as data (migration 0400): walls (grid, spans, splice panels), camera groups, tours.

A **wall** is a rows×cols grid (1×1 … 8×8) whose cells may be merged by spans (row, col, rowspan, colspan);
grid positions not covered by a span are 1×1 cells. Cells are numbered row-major by their top-left corner.
It shows a camera **group** (cameras fill the cells in order) or a **tour** (groups in turn, each for
``dwell_s``). For the splice screen the wall is drawn on a ``canvas_width``×``canvas_height`` canvas split into
``panel_rows``×``panel_cols`` panels.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as PydField
from sqlmodel import Field, SQLModel

from protocols.topics import ID_PATTERN

GridSize = Annotated[int, PydField(ge=1, le=8)]
Label = Annotated[str, PydField(max_length=64)]


class Span(BaseModel):
    model_config = ConfigDict(extra="forbid")

    row: Annotated[int, PydField(ge=0, le=7)]
    col: Annotated[int, PydField(ge=0, le=7)]
    rowspan: GridSize = 1
    colspan: GridSize = 1


class CameraRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: Annotated[str, PydField(pattern=f"^{ID_PATTERN}$")]
    device: Annotated[str, PydField(pattern=f"^{ID_PATTERN}$")]
    label: Label = ""

    @property
    def key(self) -> str:
        return f"{self.agent}/{self.device}"


# -- walls ----------------------------------------------------------------------------------------------------


class WallBase(SQLModel):
    name: str = Field(min_length=1, max_length=64)
    rows: int = Field(ge=1, le=8)
    cols: int = Field(ge=1, le=8)
    group_id: int | None = None
    tour_id: int | None = None
    canvas_width: int = Field(5760, ge=64, le=16384)
    canvas_height: int = Field(3240, ge=64, le=16384)
    panel_rows: int = Field(1, ge=1, le=8)
    panel_cols: int = Field(1, ge=1, le=8)


class Wall(WallBase, table=True):
    __tablename__ = "wall"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    group_id: int | None = Field(default=None, foreign_key="wall_group.id")
    tour_id: int | None = Field(default=None, foreign_key="wall_tour.id")
    spans: list[dict[str, int]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))


class WallCreate(WallBase):
    spans: list[Span] = []

    @model_validator(mode="after")
    def _check(self) -> WallCreate:
        check_spans(self.rows, self.cols, self.spans)
        return self


class WallPublic(WallBase):
    id: int
    spans: list[Span]


class WallsPublic(SQLModel):
    data: list[WallPublic]
    count: int


def check_spans(rows: int, cols: int, spans: list[Span]) -> None:
    """Spans must lie inside the grid and must not overlap each other."""
    taken: set[tuple[int, int]] = set()
    for s in spans:
        if s.row + s.rowspan > rows or s.col + s.colspan > cols:
            raise ValueError(
                f"span at row {s.row}, col {s.col} ({s.rowspan}×{s.colspan}) leaves the {rows}×{cols} grid"
            )
        cells = {(r, c) for r in range(s.row, s.row + s.rowspan) for c in range(s.col, s.col + s.colspan)}
        if cells & taken:
            raise ValueError(f"span at row {s.row}, col {s.col} overlaps another span")
        taken |= cells


# -- camera groups ----------------------------------------------------------------------------------------------


class CameraGroupBase(SQLModel):
    name: str = Field(min_length=1, max_length=64)


class CameraGroup(CameraGroupBase, table=True):
    __tablename__ = "wall_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    cameras: list[dict[str, str]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))


class CameraGroupCreate(CameraGroupBase):
    cameras: Annotated[list[CameraRef], PydField(max_length=256)] = []


class CameraGroupPublic(CameraGroupBase):
    id: int
    cameras: list[CameraRef]


class CameraGroupsPublic(SQLModel):
    data: list[CameraGroupPublic]
    count: int


# -- tours ------------------------------------------------------------------------------------------------------


class TourBase(SQLModel):
    name: str = Field(min_length=1, max_length=64)
    dwell_s: float = Field(30.0, ge=2, le=3600)


class Tour(TourBase, table=True):
    __tablename__ = "wall_tour"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    group_ids: list[int] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))


class TourCreate(TourBase):
    group_ids: Annotated[list[int], PydField(min_length=1, max_length=64)]


class TourPublic(TourBase):
    id: int
    group_ids: list[int]


class ToursPublic(SQLModel):
    data: list[TourPublic]
    count: int
