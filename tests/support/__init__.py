"""Helpers shared by tests: a loopback HTTP server for remote-backend tests."""
