"""Where to open the next sites: coverage, under-served, p-median, set covering (LSCP) and
p-center models, with certified gaps.

Build a :class:`PlanningProblem` (demand, sparse travel pairs to candidate sites, p, rules),
then call :func:`solve`; the :class:`Solution` carries the sites in rank order, the
objective, HiGHS's bound and the relative gap.
"""

# Import from the modules (problem, solve, solution, errors): the package stays light so
# that the CLI starts fast.
