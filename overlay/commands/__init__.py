"""Command groups of the ``overlay`` CLI, one module each."""
