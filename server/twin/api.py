"""REST adapter for the twin contract (routes are added by its issue)."""

from fastapi import APIRouter

router = APIRouter()
