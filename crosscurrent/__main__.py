from __future__ import annotations

from crosscurrent.cli import main

raise SystemExit(main())
