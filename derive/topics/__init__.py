"""Course mathematics outside the recurrent engine, one module or package per topic."""
