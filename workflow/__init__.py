"""workflow: the domain of the service halls — organisation, staff, scope, and the catalog of service items.

    codes      -- code lists of GB/T 39046-2020 annex A (item type, level, body nature, service object, channel)
                  and the staff roles
    org        -- OrgUnit (five levels), Department, Hall, Window (bound to an agent)
    staff      -- Staff accounts (employee number, unit, department, window, roles, lockout, token version)
    scope      -- Scope: what a signed-in person may see; the one place queries are restricted
    catalog    -- CatalogItem and its ItemVersion rows (table 4 fields), draft → published, no overlaps
    process    -- ProcessTemplate per item version: steps, roles, time limits, branches, forwarding
    seed       -- the Ningxia organisation tree from ``data/ningxia.csv``
    org_import -- lower levels (units, departments, halls, windows) from a workbook or CSV, all or nothing
    xlsx       -- the spreadsheet templates (columns as data), reading with validation, writing
    importer   -- validated import of a catalog workbook: any error → nothing imported
    staffing   -- the workbook's staff per process step (附件1 表2): checked, applied, exported

Imports nothing of ours (DESIGN.md §3).
"""
