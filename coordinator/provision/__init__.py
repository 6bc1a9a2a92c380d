"""Field provisioning on the coordinator: enrollment tokens, CSR signing, renewal, revocation, audit.

service     -- ProvisioningService: the rules (one transaction per action, every action audited)
revocation  -- making a revocation bite at once: CRL, broker reload, ending the live session
metrics     -- certificate expiry per agent for /metrics
"""
