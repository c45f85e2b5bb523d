"""CNN accounting from a plain layer list: shapes, parameters, FLOPs, receptive fields.

    >>> from derive.topics.cnn.accounting import account
    >>> account("conv 16 5x5 same\\nrelu\\npool 2x2/2", "32x32x3").rows[-1].shape
    (16, 16, 16)
"""
