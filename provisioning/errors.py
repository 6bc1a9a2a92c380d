"""Errors of the provisioning package.

ProvisioningError
├── PkiError        -- the CA refused or could not do what was asked
├── BrokerError     -- the broker could not be configured or did not start
└── EnrollError     -- enrollment of a counter PC failed (the message says why and whether to re-run)
"""


class ProvisioningError(Exception):
    """Root of the provisioning errors."""


class PkiError(ProvisioningError):
    pass


class BrokerError(ProvisioningError):
    pass


class EnrollError(ProvisioningError):
    pass
