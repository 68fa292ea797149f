"""Our side of the connection to Skolverket: client certificate, credentials, token client and status."""
