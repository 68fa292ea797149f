"""The publication: the SS 12000 documents Skolverket may see, what left it and the outbox of changes."""
