import sys

from hallmesh_cli.main import main

sys.exit(main())
