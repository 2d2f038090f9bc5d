"""The email, its attempts and their vocabulary; validation and rendering. No I/O here."""
