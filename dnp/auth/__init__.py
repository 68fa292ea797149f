"""Who may do what: users, role grants, login sessions and SAML sign-in."""
