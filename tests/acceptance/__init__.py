"""SPEC 4, the rules the dispatcher keeps always: a module per rule, named by its number, whose docstring
quotes the rule it proves end to end through the native API, on SQLite and on PostgreSQL, with a
dispatcher driven tick by tick on the manual clock.

1. test_rule1_concurrency.py          in-flight calls never exceed ``max_concurrent_calls``
2. test_rule2_calling_hours.py        the batch window, working days and the recipient's hours
3. test_rule3_do_not_call.py          no dial to a number on the do-not-call list
4. test_rule4_no_attempt_twice.py     a lapsed lease is reconciled by the provider id, never redialled;
   test_rule4_unrecorded_dials.py     the same for a dial whose provider id was never recorded
5. test_rule5_caps.py                 calls per day, the caller id's daily cap, calls per second
6. test_rule6_dedup.py                a number reached lately, or repeated, is skipped with a reason
7. test_rule7_completion.py           one terminal state per row, counters match, the batch completes
8. test_rule8_pause_resume_cancel.py  pause, resume and cancel
9. test_rule9_retries.py              retries wait their delay, respect the window, stop at the limit

The same rules with real worker processes (crashes, a database restart) are in tests/dispatcher
(test_workers.py, test_chaos.py); the pure rules behind them are unit-tested in tests/rules/dispatcher.
"""
