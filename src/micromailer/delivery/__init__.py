"""Delivery: accept an email, rank providers, fail over, classify, record."""
