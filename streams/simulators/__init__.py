"""Local servers that speak each source's real wire protocol, driven by tape events."""
