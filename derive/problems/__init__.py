"""Answers to the catalogue's problems. Each module registers answers with
``derive.answers.problem``; they are built from models, never typed by hand."""
