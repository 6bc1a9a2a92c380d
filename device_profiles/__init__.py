"""device_profiles package."""
