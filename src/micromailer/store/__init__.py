"""The store: SQL is the truth about every email and attempt."""
