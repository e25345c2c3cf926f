"""MSSanté messages: the headers of the Référentiel socle MSSanté and the mutual-TLS context.

Référentiel socle MSSanté #2 « Clients de Messageries Sécurisées de Santé » (ANS, v0.1,
14/06/2021), https://fr.readkong.com/page/referentiel-socle-mssante-2-clients-de-messageries-8541765
and the summary at https://doc.devbox-sante.fr/ms-sante/howtos/entete-x-mss :

- ECO.2.4.1: a message carrying CDA documents in an IHE_XDM archive MUST carry
  ``X-MSS-CODECDA`` equal to the ``code`` of each CDA header (multi-valued when several); it
  MUST NOT be set when no such archive is attached.
- ECO.2.4.2: ``X-MSS-INS`` MUST be set when an attached CDA in an IHE_XDM archive identifies
  the patient by the INS; its value is the flag ``O`` (the INS itself travels only inside the
  CDA and METADATA.XML, never in clear in a header).

The operator's MSSanté server authenticates the sending software by its certificate (mutual
TLS): :func:`client_context` loads it from the paths the settings give.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from pathlib import Path

CODECDA_HEADER = "X-MSS-CODECDA"
INS_HEADER = "X-MSS-INS"
XDM_MEDIA = ("application", "zip")


def attach_xdm(
    message: EmailMessage, archive: bytes, filename: str, *, cda_code: str, with_ins: bool
) -> None:
    """Attach an XDM archive holding one CDA and set the headers ECO.2.4.1 and 2.4.2 require."""
    message.add_attachment(archive, maintype=XDM_MEDIA[0], subtype=XDM_MEDIA[1], filename=filename)
    message[CODECDA_HEADER] = cda_code
    if with_ins:
        message[INS_HEADER] = "O"


def client_context(
    cert_file: Path | None, key_file: Path | None, ca_file: Path | None = None
) -> ssl.SSLContext:
    """A TLS client context presenting the operator's certificate when one is configured.

    ``ca_file`` replaces the system trust store (the IGC-Santé chain of the MSSanté operator).
    """
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    return context
