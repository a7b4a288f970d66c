"""REST adapter for the ghostwriter contract (routes are added by its issue)."""

from fastapi import APIRouter

router = APIRouter()
