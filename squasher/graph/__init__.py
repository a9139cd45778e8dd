"""The static side: migration files read without importing them, the graph Django's
loader would build, and what is read off it (check, cycles, pictures, predictions).

Nothing here imports Django (tests/test_boundaries.py holds that line).
"""
