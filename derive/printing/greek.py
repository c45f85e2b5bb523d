"""The Greek letters, once: their LaTeX command names and their Unicode characters."""

from __future__ import annotations

# in Unicode order from U+03B1 (omicron is the Latin o, U+03C2 the final sigma) and U+0391
# (U+03A2 is unassigned: "-"); a one-letter name is the Latin letter that looks the same
LOWER = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi o pi rho "
         "varsigma sigma tau upsilon phi chi psi omega").split()
UPPER = ("A B Gamma Delta E Z H Theta I K Lambda M N Xi O Pi P - Sigma T Upsilon Phi X Psi "
         "Omega").split()
VARIANTS = ("varepsilon", "vartheta", "varphi")

# the LaTeX commands that are Greek letters
NAMES = frozenset(n for n in LOWER + UPPER if len(n) > 1 and n != "varsigma") | \
    frozenset(VARIANTS)

# character -> its LaTeX name (or the Latin letter it prints as)
UNICODE = {chr(0x3B1 + k): name for k, name in enumerate(LOWER)} | \
    {chr(0x391 + k): name for k, name in enumerate(UPPER) if name != "-"}
