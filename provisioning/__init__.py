"""Certificates, broker configuration and (later) field enrollment.

Modules:
    pki     -- a local certificate authority: CA, broker, coordinator and agent certificates, CRL
    broker  -- Mosquitto configuration (mTLS, per-agent ACL, CRL) and a supervised broker process
    errors  -- the error tree of this package
"""
