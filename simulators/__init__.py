"""Fake hardware and fake fleets for the demo, tests and benchmarks.

Modules:
    fleet  -- many simulated agents in one process, speaking the MQTT contract directly (load tests)
"""
