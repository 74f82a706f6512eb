"""Fixtures for the protocol tests: ``make_client`` and ``signed_in`` live in tests/conftest.py, shared
with the account API's tests."""
