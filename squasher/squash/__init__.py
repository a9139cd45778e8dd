"""Squashing: plan (range -> optimized operations -> pieces), carry (RunPython/RunSQL
code and helpers), writer (the migration file, libcst).
"""
