"""Routes of the feedback area (being wired to the library as it lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
