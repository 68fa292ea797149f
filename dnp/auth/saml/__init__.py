"""SAML sign-in: the service provider, the login flow and the federation metadata."""
