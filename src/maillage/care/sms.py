"""Text messages (SMS) behind a provider-neutral sender, with one implementation: SMPP 3.4.

The outbox keeps an SMS as a row whose recipient is a ``tel:`` URI (E.164) and whose message
is the UTF-8 text; the worker (:func:`maillage.care.delivery.send_sms_due`) opens one
:class:`SmsSender` per pass. A provider is chosen by the scheme of ``MAILLAGE_SMS_URL``:
``smpp://system_id:password@host:port?source=MAILLAGE`` speaks SMPP to an operator's SMSC
(the protocol every French SMS operator and aggregator offers), ``smpps://`` the same over TLS.
Another provider (an HTTP API) is one more class with ``send`` and ``close``.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from typing import Protocol, Self
from urllib.parse import parse_qs, unquote, urlsplit

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

from maillage.care.outbox import DeliveryError

TEL = "tel:"
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_FRENCH = re.compile(r"0[1-9][0-9]{8}")

#: SMPP statuses after which sending the same message again cannot help.
PERMANENT_STATUSES = frozenset(
    {
        0x01,  # ESME_RINVMSGLEN: message length is invalid
        0x0A,  # ESME_RINVSRCADR: invalid source address
        0x0B,  # ESME_RINVDSTADR: invalid destination address
    }
)
_DEFAULT_PORT = 2775
_TON_INTERNATIONAL, _TON_ALPHANUMERIC, _NPI_ISDN = 1, 5, 1


def mobile_number(text: str) -> str | None:
    """An E.164 number from what a FHIR telecom holds (``+33 6 12 34 56 78``, ``06 12 34 56
    78``: a national number is French), or None when it is not one."""
    compact = re.sub(r"[\s.\-()]", "", text)
    if _E164.fullmatch(compact):
        return compact
    if _FRENCH.fullmatch(compact):
        return "+33" + compact[1:]
    return None


class SmsSender(Protocol):
    """Sends text messages for one worker pass; ``send`` raises :class:`DeliveryError`."""

    def send(self, number: str, text: str) -> None: ...

    def close(self) -> None: ...


class SmppSender:
    """An ESME bound as transmitter to an SMSC: long texts leave as concatenated parts (UDH),
    in GSM 03.38 when every character has a code there, else in UCS-2."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smpp", "smpps") or not parts.hostname:
            raise ValueError("the SMS URL must read smpp://system_id:password@host[:port]")
        self.host, self.port = parts.hostname, parts.port or _DEFAULT_PORT
        self.system_id = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.source = parse_qs(parts.query).get("source", ["MAILLAGE"])[0]
        self.context = ssl.create_default_context() if parts.scheme == "smpps" else None
        self.timeout = timeout
        self._client: smpplib.client.Client | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _bound(self) -> smpplib.client.Client:
        if self._client is None:
            client = smpplib.client.Client(
                self.host,
                self.port,
                timeout=self.timeout,
                ssl_context=self.context,
                allow_unknown_opt_params=True,
            )
            self._client = client
            client.connect()
            client.bind_transmitter(system_id=self.system_id, password=self.password)
        return self._client

    def send(self, number: str, text: str) -> None:
        """Submit every part of ``text`` to ``number`` (E.164) and wait for each answer."""
        if not _E164.fullmatch(number):
            raise DeliveryError(f"{number!r} is not an E.164 number", permanent=True)
        try:
            parts, coding, esm_class = smpplib.gsm.make_parts(text)
            client = self._bound()
            for part in parts:
                sent = client.send_message(
                    source_addr_ton=_TON_ALPHANUMERIC,
                    source_addr=self.source,
                    dest_addr_ton=_TON_INTERNATIONAL,
                    dest_addr_npi=_NPI_ISDN,
                    destination_addr=number.removeprefix("+"),
                    short_message=part,
                    data_coding=coding,
                    esm_class=esm_class,
                    registered_delivery=0,
                )
                self._answer(client, sent.sequence)
        except smpplib.exceptions.MessageTooLong as error:
            raise DeliveryError(f"text too long for SMS: {error}", permanent=True) from error
        except smpplib.exceptions.PDUError as error:
            status = error.args[1] if len(error.args) > 1 else None
            self.close()
            raise DeliveryError(
                f"SMPP {error.args[0]}", permanent=status in PERMANENT_STATUSES
            ) from error
        except (OSError, smpplib.exceptions.ConnectionError) as error:
            self.close()
            raise DeliveryError(f"SMPP connection: {error!r}", permanent=False) from error

    @staticmethod
    def _answer(client: smpplib.client.Client, sequence: int) -> None:
        """Read PDUs until the ``submit_sm_resp`` of ``sequence`` (answering enquire_links)."""
        while True:
            pdu = client.read_pdu()
            if pdu.is_error():
                client.error_pdu_handler(pdu)  # raises PDUError with the status
            if pdu.command == "enquire_link":
                client._enquire_link_received(pdu)
            elif pdu.command == "submit_sm_resp" and pdu.sequence == sequence:
                return

    def close(self) -> None:
        """Unbind and disconnect (quietly: the messages already have their answer)."""
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(
            OSError, smpplib.exceptions.PDUError, smpplib.exceptions.ConnectionError
        ):
            client.unbind()
        client.disconnect()


def sender(url: str) -> SmsSender:
    """The sender for ``MAILLAGE_SMS_URL``, chosen by its scheme."""
    scheme = urlsplit(url).scheme
    if scheme in ("smpp", "smpps"):
        return SmppSender(url)
    raise ValueError(f"no SMS provider for scheme {scheme!r}: use smpp:// or smpps://")
