"""Every table of the workflow domain, imported together (registers them on ``SQLModel.metadata``)."""

from workflow.calendar import CalendarDay
from workflow.cases import Case, CaseTask, CounterCase, Material
from workflow.catalog import CatalogItem, ItemVersion
from workflow.ledger import CaseEvent
from workflow.org import Department, Hall, OrgUnit, Window
from workflow.process import ProcessTemplate, StepStaff
from workflow.staff import Staff

__all__ = [
    "CalendarDay",
    "Case",
    "CaseEvent",
    "CaseTask",
    "CatalogItem",
    "CounterCase",
    "Department",
    "Hall",
    "ItemVersion",
    "Material",
    "OrgUnit",
    "ProcessTemplate",
    "Staff",
    "StepStaff",
    "Window",
]
