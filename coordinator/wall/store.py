"""Walls, camera groups and tours in the database, and what a wall shows right now.

A tour shows its groups in turn, each for ``dwell_s``; which group is current depends only on the clock
(``int(now // dwell_s) % len(groups)``), so every browser and panel of the same wall agrees without talking.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from coordinator.errors import CommandError, NotFoundError
from coordinator.models.wall import (
    CameraGroup,
    CameraGroupCreate,
    CameraGroupPublic,
    CameraRef,
    Span,
    Tour,
    TourCreate,
    TourPublic,
    Wall,
    WallCreate,
    WallPublic,
)
from coordinator.wall.compositor import CellSpec, Layout
from coordinator.wall.panels import WallView, tour_turn


def wall_public(row: Wall) -> WallPublic:
    return WallPublic.model_validate(row, from_attributes=True)


def group_public(row: CameraGroup) -> CameraGroupPublic:
    return CameraGroupPublic.model_validate(row, from_attributes=True)


def tour_public(row: Tour) -> TourPublic:
    return TourPublic.model_validate(row, from_attributes=True)


def _get(session: Session, table: Any, ident: int, what: str) -> Any:
    row = session.get(table, ident)
    if row is None:
        raise NotFoundError(f"no {what} {ident}")
    return row


def get_wall(session: Session, wall_id: int) -> Wall:
    row: Wall = _get(session, Wall, wall_id, "wall")
    return row


def get_group(session: Session, group_id: int) -> CameraGroup:
    row: CameraGroup = _get(session, CameraGroup, group_id, "camera group")
    return row


def get_tour(session: Session, tour_id: int) -> Tour:
    row: Tour = _get(session, Tour, tour_id, "tour")
    return row


def _unique_name(session: Session, table: Any, name: str, ident: int | None, what: str) -> None:
    other = session.exec(select(table).where(table.name == name)).first()
    if other is not None and other.id != ident:
        raise CommandError(f"a {what} named {name!r} exists already")


def _dump(items: list[BaseModel]) -> list[dict[str, Any]]:
    return [i.model_dump() for i in items]


# -- writes ----------------------------------------------------------------------------------------------------


def save_wall(session: Session, req: WallCreate, wall_id: int | None = None) -> Wall:
    _unique_name(session, Wall, req.name, wall_id, "wall")
    if req.group_id is not None:
        get_group(session, req.group_id)
    if req.tour_id is not None:
        get_tour(session, req.tour_id)
    values = req.model_dump(exclude={"spans"})
    spans = _dump(list(req.spans))
    if wall_id is None:
        row = Wall(**values, spans=spans)
    else:
        row = get_wall(session, wall_id)
        for name, value in values.items():
            setattr(row, name, value)
        row.spans = spans
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def save_group(session: Session, req: CameraGroupCreate, group_id: int | None = None) -> CameraGroup:
    _unique_name(session, CameraGroup, req.name, group_id, "camera group")
    cameras = [c.model_dump() for c in req.cameras]
    if group_id is None:
        row = CameraGroup(name=req.name, cameras=cameras)
    else:
        row = get_group(session, group_id)
        row.name, row.cameras = req.name, cameras
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def save_tour(session: Session, req: TourCreate, tour_id: int | None = None) -> Tour:
    _unique_name(session, Tour, req.name, tour_id, "tour")
    for gid in req.group_ids:
        get_group(session, gid)
    if tour_id is None:
        row = Tour(name=req.name, dwell_s=req.dwell_s, group_ids=list(req.group_ids))
    else:
        row = get_tour(session, tour_id)
        row.name, row.dwell_s, row.group_ids = req.name, req.dwell_s, list(req.group_ids)
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def delete_wall(session: Session, wall_id: int) -> None:
    session.delete(get_wall(session, wall_id))
    session.commit()


def delete_group(session: Session, group_id: int) -> None:
    row = get_group(session, group_id)
    for wall in session.exec(select(Wall).where(col(Wall.group_id) == group_id)).all():
        wall.group_id = None
        session.add(wall)
    for tour in session.exec(select(Tour)).all():
        if group_id in tour.group_ids:
            tour.group_ids = [g for g in tour.group_ids if g != group_id]
            session.add(tour)
    session.delete(row)
    session.commit()


def delete_tour(session: Session, tour_id: int) -> None:
    row = get_tour(session, tour_id)
    for wall in session.exec(select(Wall).where(col(Wall.tour_id) == tour_id)).all():
        wall.tour_id = None
        session.add(wall)
    session.delete(row)
    session.commit()


# -- what a wall shows -------------------------------------------------------------------------------------------


class Schedule(BaseModel):
    """The camera groups a wall shows, in turn (one group: no rotation)."""

    dwell_s: float | None
    groups: list[list[CameraRef]]

    def current(self, now: float) -> int:
        return tour_turn(now, self.dwell_s, len(self.groups))


def schedule(session: Session, wall: Wall) -> Schedule:
    def cameras(group_id: int) -> list[CameraRef]:
        group = session.get(CameraGroup, group_id)
        return [CameraRef.model_validate(c) for c in group.cameras] if group is not None else []

    if wall.tour_id is not None:
        tour = session.get(Tour, wall.tour_id)
        if tour is not None and tour.group_ids:
            return Schedule(dwell_s=tour.dwell_s, groups=[cameras(g) for g in tour.group_ids])
    if wall.group_id is not None:
        return Schedule(dwell_s=None, groups=[cameras(wall.group_id)])
    return Schedule(dwell_s=None, groups=[])


def layout(wall: Wall) -> Layout:
    spans = [
        CellSpec(s.row, s.col, s.rowspan, s.colspan) for s in (Span.model_validate(x) for x in wall.spans)
    ]
    return Layout.grid(
        wall.rows, wall.cols, wall.canvas_width, wall.canvas_height, spans, wall.panel_rows, wall.panel_cols
    )


def wall_view(session: Session, wall_id: int, now: float | None = None) -> WallView:
    wall = get_wall(session, wall_id)
    lay = layout(wall)
    sched = schedule(session, wall)
    group = sched.groups[sched.current(time.time() if now is None else now)] if sched.groups else []
    n = len(lay.cells)
    cams = tuple((c.agent, c.device) for c in group[:n])
    rotation = tuple(tuple((c.agent, c.device) for c in g[:n]) for g in sched.groups) if sched.dwell_s else ()
    return WallView(lay, cams, tuple(c.label for c in group[:n]), rotation, sched.dwell_s)
