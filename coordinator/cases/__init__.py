"""Cases at the counter (minimal, issue 3): opening a case at a window, capturing into it from the window's
devices, printing on the window's printer, and filing announced captures as the case's materials.

    filing   -- file_captures(): runs inside the ingest transaction that inserts ``capture`` events
    service  -- CaseService: open / focus / close cases, start captures and prints on a window's devices
"""
