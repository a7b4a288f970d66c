"""Helpers the tests share: fakes, stub servers, fixtures and sample data per API."""
