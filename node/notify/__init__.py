"""Notifications to members through the services the admin set up (apprise).

Rule: a channel's URL and a member's address are sealed at rest and never printed,
logged or exported; every message leaves through the durable outbox
(``node.notify.outbox``), and delivery runs in a supervised background task, so a slow
or failing service never delays publishing, syncing or pages.
"""

from .errors import NotifyError

__all__ = ["NotifyError"]
