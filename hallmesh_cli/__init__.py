"""The ``hallmesh`` console command: one entry point with subcommands that wire the packages together."""
