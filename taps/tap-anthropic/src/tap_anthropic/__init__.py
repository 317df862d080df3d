"""Singer tap for Anthropic's Admin API (Claude API cost and usage)."""
