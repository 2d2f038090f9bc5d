"""Provider adapters, one module each, and the error taxonomy they share."""
