import sys

from docgraph.cli import main

sys.exit(main())
