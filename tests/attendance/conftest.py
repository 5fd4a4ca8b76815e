"""Fixtures of the attendance tests."""

from __future__ import annotations
