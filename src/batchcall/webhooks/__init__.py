"""Signed webhooks: endpoints, the outbox of deliveries, and the sender that posts them."""
