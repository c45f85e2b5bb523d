"""Recurrent and autoregressive models over grids: MDRNN and PixelCNN counts, dependency-graph
longest paths, and the row-then-column image RNN (forward and backward in NumPy)."""
