"""HTTP API: one router per resource; dependencies in ``deps`` as ``Annotated`` aliases."""
