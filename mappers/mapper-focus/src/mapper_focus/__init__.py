"""Singer mapper: raw provider billing records in, FinOps FOCUS rows out."""
