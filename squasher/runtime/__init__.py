"""The only package that imports or spawns Django: settings and setup
(django_setup), the Django-loaded project (django_project), the worker process and its
one job protocol (worker), project copies, temporary folders and throwaway databases
(sandbox), database comparison (dbcompare) and verification (verify).
"""
