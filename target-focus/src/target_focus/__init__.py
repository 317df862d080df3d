"""target-focus: a Singer target that writes validated FinOps FOCUS datasets."""
