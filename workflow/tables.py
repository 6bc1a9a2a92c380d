"""Every table of the workflow domain, imported together (registers them on ``SQLModel.metadata``)."""

from workflow.catalog import CatalogItem, ItemVersion
from workflow.org import Department, Hall, OrgUnit, Window
from workflow.process import ProcessTemplate
from workflow.staff import Staff

__all__ = [
    "CatalogItem",
    "Department",
    "Hall",
    "ItemVersion",
    "OrgUnit",
    "ProcessTemplate",
    "Staff",
    "Window",
]
