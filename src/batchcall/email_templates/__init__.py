"""A workspace's email templates (``/v1/email-templates``): checked when stored, rendered in Jinja2's
sandbox when an email is sent."""
