"""Errors of certificate issuing, sealing and printing.

CertificateError          -- root
├── TemplateError         -- unknown template, a field the case cannot fill, the CJK font missing
├── SealError             -- no seal for the issuer, a key or PKCS#12 that cannot be loaded, the CA missing
└── PrintRefused          -- a re-print that is not allowed (the last print did not fail)
"""

from __future__ import annotations


class CertificateError(Exception):
    """Root of the certificate errors."""


class TemplateError(CertificateError):
    pass


class SealError(CertificateError):
    pass


class PrintRefused(CertificateError):
    pass
