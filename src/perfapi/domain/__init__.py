"""Pure computations: progress, roll-up, achievement, attainment, alignment, time buckets.

Nothing here touches the database, the web framework or the clock: every function
takes plain frozen dataclasses and returns new ones, so the same inputs always give
the same numbers and history is the same function evaluated at an earlier ``as_of``.
"""
