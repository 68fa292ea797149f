"""The push method: ready data sent to Skolverket's Provisioning API as bulk jobs, with per-object answers."""
