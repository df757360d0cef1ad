"""One mail transaction with ESMTP PIPELINING (RFC 2920), for a server whose EHLO offers it.

`smtplib.SMTP.sendmail` waits for the reply to each command: MAIL, each RCPT, DATA, then the
content, four round trips for one recipient. With PIPELINING the client may send MAIL, the
RCPTs and DATA in one write and read their replies after; the content follows once DATA's 354
is in. Two round trips, and one write and one read fewer on each side per command.

`sendmail_pipelined` is a drop-in for `sendmail(from_addr, to_addrs, msg)` with no MAIL or RCPT
options (what Django's backends call): the same exceptions for the same replies, the same RSET
or close after them, the same dict of refused recipients when some were accepted. As RFC 2920
asks, every reply of the group is read and checked, and when MAIL or every RCPT was refused but
the server still answered DATA with 354, a lone "." ends the empty transaction before the RSET.
Used only when the server advertised PIPELINING; otherwise `sendmail` runs as before.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Sequence

_CRLF = b"\r\n"
_LEADING_DOT = re.compile(rb"(?m)^\.")


def offers_pipelining(smtp: smtplib.SMTP) -> bool:
    """Whether this session's EHLO advertised PIPELINING (EHLO is sent first if needed)."""
    smtp.ehlo_or_helo_if_needed()
    return bool(smtp.does_esmtp and smtp.has_extn("pipelining"))


def sendmail_pipelined(
    smtp: smtplib.SMTP, from_addr: str, to_addrs: str | Sequence[str], msg: bytes
) -> dict[str, tuple[int, bytes]]:
    """`smtp.sendmail(from_addr, to_addrs, msg)` with MAIL, RCPT and DATA in one write."""
    recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
    options = f" size={len(msg)}" if smtp.has_extn("size") else ""
    commands = [f"mail FROM:{smtplib.quoteaddr(from_addr)}{options}"]
    commands += [f"rcpt TO:{smtplib.quoteaddr(address)}" for address in recipients]
    commands.append("data")
    for command in commands:  # what smtplib's putcmd refuses
        if "\r" in command or "\n" in command:
            raise ValueError(f"command contains prohibited newline characters: {command!r}")
    smtp.send("".join(f"{command}\r\n" for command in commands))

    mail_code, mail_reply = smtp.getreply()
    if mail_code == 421:
        smtp.close()
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, from_addr)
    refused: dict[str, tuple[int, bytes]] = {}
    for address in recipients:
        code, reply = smtp.getreply()
        if code not in (250, 251):
            refused[address] = (code, reply)
        if code == 421:
            smtp.close()
            if mail_code != 250:
                raise smtplib.SMTPSenderRefused(mail_code, mail_reply, from_addr)
            raise smtplib.SMTPRecipientsRefused(refused)
    data_code, data_reply = smtp.getreply()
    if mail_code != 250 or len(refused) == len(recipients):
        if data_code == 354:  # accepted with nobody to deliver to: end it empty (RFC 2920)
            smtp.send(b"." + _CRLF)
            data_code, data_reply = smtp.getreply()
        if data_code == 421:
            smtp.close()
        else:
            _rset(smtp)
        if mail_code != 250:
            raise smtplib.SMTPSenderRefused(mail_code, mail_reply, from_addr)
        raise smtplib.SMTPRecipientsRefused(refused)
    if data_code != 354:  # as smtplib's data(): raised as it is, no RSET
        raise smtplib.SMTPDataError(data_code, data_reply)
    content = _LEADING_DOT.sub(b"..", msg)  # smtplib's _quote_periods
    if content[-2:] != _CRLF:
        content += _CRLF
    smtp.send(content + b"." + _CRLF)
    code, reply = smtp.getreply()
    if code != 250:
        if code == 421:
            smtp.close()
        else:
            _rset(smtp)
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _rset(smtp: smtplib.SMTP) -> None:
    """smtplib's internal RSET: a server that already hung up shows on the next command."""
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()
