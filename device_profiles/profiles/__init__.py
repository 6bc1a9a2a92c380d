"""The builtin device profiles (YAML), shipped as package data; read them with ``device_profiles.loader``."""
