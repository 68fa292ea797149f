"""The audit log: recording events and reading them back."""
