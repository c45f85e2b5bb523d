"""Convolution calculus: output shapes and the Jacobians of a cross-correlation layer.

    >>> from derive.topics.conv.shapes import output_size
    >>> output_size(21, 4, stride=4)
    5
"""
