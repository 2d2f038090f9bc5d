"""micromailer: a transactional email relay with health-scored provider failover."""

__version__ = "0.1.0"
