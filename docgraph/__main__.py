import sys

from docgraph.ops.cli import main

sys.exit(main())
