"""A recurrent cell and everything derived from it, as a model; a user's own cells."""
