"""``UserError``: a mistake the user can fix (a wrong folder, a bad size, an unreadable file).

The command line prints it as one line on stderr and exits with status 2; render, bench and the
GUI entry raise it, so it lives below all of them.
"""


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""
