"""Device drivers: the contract (``base``), the kinds known to the agent (``registry``) and the drivers.

Modules:
    base      -- the driver contract: connect, close, describe, poll, execute, emit
    registry  -- kind → (config class, driver class); builds the config's discriminated union
    sim       -- the synthetic ``sim`` device used by tests, benchmarks and the demo
    terminal  -- video-conference terminals on their TCP control port
"""
