"""Domain logic. No Flask imports; the caller passes the session and owns the transaction."""
