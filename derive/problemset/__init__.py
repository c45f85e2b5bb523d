"""An instructor's own problem set: a TOML file of parts, each of a generic kind (bptt, cnn,
conv, map, schedule), read safely, validated with file and line, and answered with checks.

    >>> from derive.problemset import load, answer_set
    >>> answered = answer_set(load("problemsets/gru-homework.toml"))
"""

from derive.problemset.answer import AnsweredPart, answer_part, answer_set, answer_source
from derive.problemset.spec import KINDS, ProblemFileError, ProblemSet, load

__all__ = ["KINDS", "AnsweredPart", "ProblemFileError", "ProblemSet", "answer_part",
           "answer_set", "answer_source", "load"]
