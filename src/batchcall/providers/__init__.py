"""Channel vendors behind one Protocol (``base.Provider``), chosen by name in ``registry``.

One folder per vendor, ``simulated`` the first (issue 10 adds ``twilio`` and ``smtp`` the same way):

- ``providers/<vendor>/provider.py``: the class that implements ``base.Provider``, and any modules it
  needs of its own (the simulated vendor's ``callback.py`` signs and reads its callbacks);
- ``providers/<vendor>/config.py``: its settings, a ``BaseSettings`` class reading ``BATCHCALL_<VENDOR>_*``,
  held by ``config.Settings`` as one field named for the vendor (``settings.simulated``);
- one entry in ``registry.FACTORIES``, building the vendor from the runtime: its settings, the clock and
  the installation's secrets.

Nothing here imports the dispatcher: what a provider reports reaches the calls through
``dispatcher.provider_events``, and its callbacks through the route in ``dispatcher.api``.
"""
