"""The mirror's sync engine: fills and refreshes the local copy of the account (no MCP here)."""
