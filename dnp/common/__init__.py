"""Helpers every area shares: SS 12000 code lists, civic numbers, identifier and text checks, wording."""
