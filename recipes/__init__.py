"""The recipes shipped with ganfw, installed as the data of the package ``ganfw.recipes``.

This file makes the folder a regular package, so that an editable install finds it too;
:mod:`ganfw.bundled` lists, resolves and copies the recipes.
"""
