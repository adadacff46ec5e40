"""Twilio voice through the official ``twilio`` package: calls placed with a signed TwiML URL and every
status callback, answering-machine detection, and callbacks checked with ``X-Twilio-Signature``."""
