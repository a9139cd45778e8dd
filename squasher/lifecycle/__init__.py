"""Plans that change a project's history: merge, rebase, finalize, suggest, compact,
and the references between migrations they rewrite. Each returns a ChangeSet;
Django is reached only through squasher.runtime.
"""
