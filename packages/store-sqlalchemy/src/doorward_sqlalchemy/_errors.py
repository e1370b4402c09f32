"""Driver errors become doorward's typed errors, with no driver text."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from doorward.exceptions import DoorwardError, EmailTaken, StoreUnavailable

logger = logging.getLogger("doorward.sqlalchemy")


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Run a store operation; a unique violation is ``EmailTaken``, anything else 503."""
    try:
        yield
    except DoorwardError:
        raise
    except IntegrityError as exc:
        logger.info("doorward: %s refused by a constraint (%s)", operation, type(exc.orig).__name__)
        raise EmailTaken from None
    except (DBAPIError, SQLAlchemyError, OSError) as exc:
        logger.warning("doorward: %s failed: %s", operation, type(exc).__name__)
        raise StoreUnavailable from None
