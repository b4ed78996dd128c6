"""crosscurrent: a real-time cross-market monitor (shared models, catalog, config and CLI)."""

from __future__ import annotations

__version__ = "0.1.0"
