"""Row normalisation: phone numbers, email, times, variables, CSV decoding."""
