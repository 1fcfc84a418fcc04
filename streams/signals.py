"""Access changes announced to every worker's hub, in the changing transaction.

A stream is checked once, when it opens; these receivers announce what can
take that access away (or make a cached check stale), through PostgreSQL so
that every worker on every host hears it (irclogger.publish.CHANGE_CHANNEL).
Connected by streams.apps.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete, post_save

from irclogger.models import Channel, Membership, Network
from irclogger.publish import announce_change, session_tag

# Saving only these fields changes nobody's access (a login saves last_login).
HARMLESS_USER_FIELDS = frozenset({"last_login"})


def channel_saved(instance: Channel, created: bool, **kwargs: Any) -> None:
    if created:
        return  # nobody streams it and no worker has it cached
    announce_change("channel", instance.pk, "public" if instance.is_public else "private")


def channel_deleted(instance: Channel, **kwargs: Any) -> None:
    announce_change("channel", instance.pk, "gone")


def network_saved(instance: Network, created: bool, **kwargs: Any) -> None:
    if created:
        return
    # Its slug is part of every cached channel's key.
    announce_change("network", instance.pk)


def membership_saved(instance: Membership, created: bool, **kwargs: Any) -> None:
    announce_change("member", instance.channel_id, instance.user_id, "in")


def membership_deleted(instance: Membership, **kwargs: Any) -> None:
    announce_change("member", instance.channel_id, instance.user_id, "out")


def user_saved(
    instance: Any, created: bool, update_fields: frozenset[str] | None = None, **kwargs: Any
) -> None:
    if created or (update_fields is not None and update_fields <= HARMLESS_USER_FIELDS):
        return
    if not instance.is_active:
        announce_change("user", instance.pk, "gone")
    elif not instance.is_staff:
        announce_change("user", instance.pk, "unstaffed")


def user_deleted(instance: Any, **kwargs: Any) -> None:
    announce_change("user", instance.pk, "gone")


def session_deleted(instance: Session, **kwargs: Any) -> None:
    # Logout and clearsessions both delete the row: the session has ended.
    announce_change("session", session_tag(instance.session_key))


def connect() -> None:
    user = get_user_model()
    post_save.connect(channel_saved, sender=Channel, dispatch_uid="streams-channel-saved")
    post_delete.connect(channel_deleted, sender=Channel, dispatch_uid="streams-channel-deleted")
    post_save.connect(network_saved, sender=Network, dispatch_uid="streams-network-saved")
    post_save.connect(membership_saved, sender=Membership, dispatch_uid="streams-member-saved")
    post_delete.connect(
        membership_deleted, sender=Membership, dispatch_uid="streams-member-deleted"
    )
    post_save.connect(user_saved, sender=user, dispatch_uid="streams-user-saved")
    post_delete.connect(user_deleted, sender=user, dispatch_uid="streams-user-deleted")
    post_delete.connect(session_deleted, sender=Session, dispatch_uid="streams-session-deleted")
