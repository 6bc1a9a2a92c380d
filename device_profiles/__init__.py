"""Device profiles (DESIGN.md §5, docs/devices/profiles.md): what a device model is, the way EdgeX profiles
describe it — identity and discovery match keys, driver kind, connection defaults, commands with typed
arguments, telemetry points with units and health thresholds.

``schema`` holds the pydantic models, ``loader`` reads YAML (``load_profile``, ``builtin_profiles``,
``match``), and ``profiles/`` the YAML files of the models hallmesh knows.
"""
