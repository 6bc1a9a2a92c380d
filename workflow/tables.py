"""Every table of the workflow domain, imported together (registers them on ``SQLModel.metadata``)."""

from workflow.cases import Case, CounterCase, Material
from workflow.catalog import CatalogItem, ItemVersion
from workflow.org import Department, Hall, OrgUnit, Window
from workflow.process import ProcessTemplate, StepStaff
from workflow.staff import Staff

__all__ = [
    "Case",
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
