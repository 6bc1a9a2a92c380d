"""Ingest: the coordinator's MQTT session and the writer that commits agents' messages.

link     -- persistent MQTT session over mTLS, own reconnect loop, presence (retained state + Will)
receiver -- decodes each message (bad ones counted and logged, rate-limited) onto the writer's queue
writer   -- one thread: batches in arrival order, one transaction per batch, acks after commit
batch    -- the rules of docs/protocol.md ("Coordinator ingest") applied to one batch
stats    -- counters read by /metrics
service  -- wires them together (started and stopped by the app's lifespan)
"""
