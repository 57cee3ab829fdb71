import sys

from swinseg.cli import main

sys.exit(main())
