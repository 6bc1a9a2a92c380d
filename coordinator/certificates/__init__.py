"""Certificates (证照) issued at the end of a case, sealed and printed at the window
(docs/certificates-and-sms.md).

    templates -- templates per result type: page, mode (full page / overlay onto a form), field boxes in mm
    render    -- reportlab rendering with the embedded CJK font; calibration sheet
    seal      -- seal keys and certificates (the coordinator's CA or PKCS#12), the seal image, PAdES signing
    seals     -- which seal an issuer signs with (``cert_seal`` rows, key files)
    verify    -- pyHanko validation against the trusted roots
    service   -- the ``concluded`` listener, issuing, registry, re-prints, public check
    worker    -- after the commit: seal, send prints, follow print_job events by cmd_id
    runner    -- the parts wired together for the running coordinator
"""
