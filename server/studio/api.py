"""REST adapter for the studio contract (routes are added by its issue)."""

from fastapi import APIRouter

router = APIRouter()
