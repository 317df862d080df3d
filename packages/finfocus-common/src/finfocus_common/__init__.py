"""What every finfocus plugin shares, so each tap stays a small declarative package."""
