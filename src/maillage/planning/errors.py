"""Errors of the planning models: both are ``ValueError`` so that callers may catch them broadly."""


class PlanningError(ValueError):
    """The planning problem is malformed (wrong lengths, negative demand, unknown option)."""


class InfeasibleError(PlanningError):
    """No set of sites satisfies the quotas and the budget: we refuse to relax them silently."""
