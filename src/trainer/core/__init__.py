"""The lowest layer: explicit state, the section-3b step, the one owner of compiled programs.

Nothing here knows about epochs, datasets' curricula or front doors:
``state`` (``TrainState``, hidden-state templates), ``step`` (the 3b step),
``program`` (every compiled program, one cache, ``dt`` applied),
``placement`` (devices and shardings), ``checkpoint`` (atomic msgpack files),
``checks`` and ``errors`` (shared validation), ``params`` (parameter names),
``data`` (device arrays and batch indices), ``forward`` (``rollout``).
"""
