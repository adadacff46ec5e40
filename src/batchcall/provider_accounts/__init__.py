"""A workspace's accounts with channel vendors (``/v1/provider-accounts``), and which provider serves
each channel of a workspace: its account for that channel, else the process default."""
