"""The one fit loop: a plan, an engine (one model or K members), callbacks, results.

``run.run_fit(engine, plan, callbacks)`` owns resume, the epoch loop,
divergence handling, history rows and best tracking for every front door.
"""
