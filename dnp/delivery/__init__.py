"""Getting the publication to Skolverket: pull notifications (webhooks) and push (Provisioning API)."""
