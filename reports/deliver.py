"""Delivery channels: email over SMTP, Slack incoming webhooks, generic JSON webhooks signed with HMAC.

Every send is retried with exponential backoff and recorded in the store's
``deliveries`` table. A failed delivery never touches files already written.

Webhook signature: the request carries ``X-Listener-Timestamp`` (Unix seconds)
and ``X-Listener-Signature: sha256=HEX`` where HEX is the HMAC-SHA256, keyed
with the channel's secret, of ``f"{timestamp}.".encode() + body``. A receiver
recomputes it (``verify_signature``) and should reject stale timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Callable

import sqlite_utils

from listener import store
from listener.config import Channel
from listener.errors import UserError

MAX_BACKOFF = 60.0


class DeliveryError(UserError):
    """A channel could not take the message; the text says why in one line."""


class MissingSecret(DeliveryError):
    """A channel's secret is not in the environment: retrying cannot help."""


@dataclass
class Delivery:
    channel: str
    ok: bool
    attempts: int
    error: str | None = None


@dataclass
class Message:
    """One thing to send, in every form a channel may want."""

    subject: str
    text: str                              # plain text (email text part, Slack fallback)
    html: str | None = None                # email HTML; images referenced as cid:<name>@listener
    images: tuple[tuple[str, bytes], ...] = ()  # (name, png) for the HTML's cid: references
    payload: dict | None = None            # JSON webhook body
    slack_blocks: list | None = None


def cid(name: str) -> str:
    return f"{name}@listener"


def _secret(env: str, what: str, channel: Channel) -> str:
    value = os.environ.get(env, "") if env else ""
    if env and not value:
        raise MissingSecret(f"channel {channel.name}: environment variable {env} ({what}) is not set")
    return value


def build_email(channel: Channel, message: Message) -> EmailMessage:
    """A multipart email: text part, HTML part with its chart images inline (multipart/related)."""
    # A long line limit keeps the Subject unfolded: CPython folds a long one right after
    # "Subject:", and some parsers then keep the leading space.
    msg = EmailMessage(policy=email_policy.default.clone(max_line_length=998))
    msg["Subject"] = message.subject
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain="listener")
    msg.set_content(message.text)
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html")
        html_part = msg.get_payload()[1]
        for name, png in message.images:
            html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid(name)}>",
                                  filename=f"{name}.png", disposition="inline")
    return msg


def send_email(channel: Channel, message: Message) -> None:
    password = _secret(channel.password_env, "SMTP password", channel)
    email = build_email(channel, message)
    try:
        if channel.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(channel.host, channel.port, timeout=channel.timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout)
        with smtp:
            if channel.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if channel.user:
                smtp.login(channel.user, password)
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"channel {channel.name}: SMTP {channel.host}:{channel.port}: "
                            f"{type(exc).__name__}: {exc}") from None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Constant-time check of an ``X-Listener-Signature`` header."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def post_json(channel: Channel, body: dict, *, now: float | None = None) -> None:
    url = channel.url or _secret(channel.url_env, "webhook URL", channel)
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "listener/0.1"}
    if channel.type == "webhook" and channel.secret_env:
        secret = _secret(channel.secret_env, "HMAC secret", channel)
        ts = str(int(now if now is not None else time.time()))
        headers.update({"X-Listener-Timestamp": ts, "X-Listener-Signature": sign(secret, ts, data)})
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=channel.timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"channel {channel.name}: HTTP {exc.code} from the webhook") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"channel {channel.name}: webhook unreachable: {reason}") from None


def send(channel: Channel, message: Message) -> None:
    """Send once through one channel; raises DeliveryError."""
    if channel.type == "email":
        send_email(channel, message)
    elif channel.type == "slack":
        body: dict = {"text": f"*{message.subject}*\n{message.text[:3500]}"}
        if message.slack_blocks:
            body["blocks"] = message.slack_blocks
        post_json(channel, body)
    else:
        post_json(channel, message.payload if message.payload is not None else
                  {"subject": message.subject, "text": message.text})


def deliver(db: sqlite_utils.Database, channel: Channel, message: Message, *, kind: str, ref: str, now: str,
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """Send with up to ``channel.attempts`` tries and exponential backoff; record the outcome."""
    error = None
    attempt = 0
    for attempt in range(1, channel.attempts + 1):
        try:
            send(channel, message)
            error = None
            break
        except DeliveryError as exc:
            error = str(exc)
            if isinstance(exc, MissingSecret):  # a missing secret won't appear by waiting
                break
            if attempt < channel.attempts:
                sleep(min(MAX_BACKOFF, channel.backoff * 2 ** (attempt - 1)))
    store.record_delivery(db, kind=kind, ref=ref, channel=channel.name, ok=error is None, attempts=attempt,
                          error=error, now=now)
    return Delivery(channel.name, error is None, attempt, error)
