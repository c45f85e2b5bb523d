"""Checks: the Check record, and the checks of derived results against independent methods."""
