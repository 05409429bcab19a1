"""Compatibility names for code written against Kinto.

Users' modules written for Kinto import from ``kinto.core...`` (the custom ID
generator tutorial does ``from kinto.core.storage import generators``); this small
package re-exports the matching pieces of :mod:`kinto_clone` so such files work
unchanged.  Settings naming ``kinto.*`` dotted paths are mapped separately, by
:mod:`kinto_clone.core.dotted`.
"""
