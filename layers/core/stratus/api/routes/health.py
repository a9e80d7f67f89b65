"""Liveness: answers without touching AWS, so it measures the function, not its dependencies."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The service is up."""

    status: str


@router.get("/health")
def health() -> Health:
    """Is the API up?"""
    return Health(status="ok")
