"""The only package that imports or spawns Django: settings and setup
(django_setup), the Django-loaded project, the worker process and its jobs,
throwaway databases, database comparison and verification.
"""
