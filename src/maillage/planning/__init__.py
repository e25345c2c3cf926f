"""Where to open the next sites: coverage, under-served and p-median models, with certified gaps."""
