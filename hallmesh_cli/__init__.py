"""hallmesh_cli package."""
