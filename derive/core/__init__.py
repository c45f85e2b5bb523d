"""The language of cells: signals, equations, primitives and their derivative rules, the
exact zero test, errors."""
