"""End-to-end tests that drive the real Claude Code CLI against the loopback fake API."""
