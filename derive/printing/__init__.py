"""Every renderer of math: LaTeX and text printers, TeX escaping, figures, JSON."""
