"""The scheduler and dialer: claims due calls, keeps every rule of SPEC section 4, talks to providers."""
