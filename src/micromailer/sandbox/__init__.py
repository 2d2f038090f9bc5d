"""Fake email providers on one local port, with fault injection and capture, for tests and demos."""

from micromailer.sandbox.app import PROVIDERS, create_sandbox_app
from micromailer.sandbox.server import SandboxThread, run_sandbox

__all__ = ["PROVIDERS", "SandboxThread", "create_sandbox_app", "run_sandbox"]
