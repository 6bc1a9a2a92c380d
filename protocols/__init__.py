"""The MQTT contract of hallmesh (DESIGN.md §4) and, later, device wire protocols.

Modules:
    topics    -- every topic string, built and parsed in one place
    ids       -- UUIDv7 message ids
    messages  -- versioned pydantic models of each message body
    envelope  -- the envelope around every JSON message, encode/decode
    errors    -- the error tree of this package
"""
