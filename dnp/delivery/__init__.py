"""Webhooks to Skolverket: subscriptions, deliveries of outbox ranges, the sender and the ops read models."""
