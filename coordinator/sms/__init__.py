"""SMS notices to applicants (docs/certificates-and-sms.md).

templates -- zh-CN texts per case event
outbox    -- the CaseHooks listener: one ``sms_message`` row per notice, in the case event's transaction
gateway   -- adapters: an HTTP gateway (JSON POST with a bearer token) and a local sink (JSON lines file)
sender    -- the worker: claims due rows, sends, retries with exponential backoff, records the outcome
"""
