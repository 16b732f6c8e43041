from celery import shared_task

from benefits.services.tokens import tokens_purge


@shared_task
def purge_old_tokens() -> int:
    """Daily: drop unredeemed QR tokens that expired more than a day ago (redeemed ones stay with their redemption)."""
    return tokens_purge()
