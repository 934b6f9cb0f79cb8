"""The sync SMTP transaction, through the public backend only: what mutation testing found
unchecked (scripts/mutation transaction). The exception fields of each refusal, and how
the session ends after it: RSET keeps it, a 421 closes it, a hang-up during RSET is
still the refusal."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable

import pytest

from mailproviders.backends.smtp import EmailBackend
from mailproviders.message import EmailMessage
from smtp_fixtures import Script, ScriptedConnection, ScriptedServer, SMTPTestServer

Factory = Callable[[Script], ScriptedServer]


def message(*to: str) -> EmailMessage:
    return EmailMessage("Hi", "Body\n", "from@example.com", list(to) or ["to@example.com"])


def scripted(
    factory: Factory,
    replies: dict[str, str],
    *,
    hang_up_after: str = "",
    pipelining: bool = False,
    lines: list[bytes] | None = None,
) -> tuple[ScriptedServer, list[str]]:
    """A server answering ``replies[verb]`` (``"END"``: the end of data; a ``"DATA"``
    reply of 354 reads the data) and 250 to the rest, offering SIZE, SMTPUTF8 and, with
    ``pipelining``, PIPELINING; it hangs up right after its reply to ``hang_up_after``.
    Returns the server and the verbs it received, in order (the command lines are added
    to ``lines``; an empty end of data is recorded as the verb ``"EMPTY"``)."""
    verbs: list[str] = []
    offered = ["SIZE 1000000", "8BITMIME", "SMTPUTF8", *(["PIPELINING"] if pipelining else [])]
    ehlo = "\r\n".join(["250-scripted", *(f"250-{x}" for x in offered[:-1]), f"250 {offered[-1]}"])

    def script(conn: ScriptedConnection) -> None:
        conn.reply("220 scripted ready")
        while line := conn.command():
            if lines is not None:
                lines.append(line)
            verb = line.split()[0].decode("utf-8", "replace").upper()
            verbs.append(verb)
            if verb == "EHLO":
                conn.reply(ehlo)
            elif verb == "QUIT":
                conn.reply("221 bye")
                return
            elif verb == "DATA" and replies.get(verb, "354").startswith("354"):
                conn.reply("354 go ahead")
                if conn.read_data() == 0:
                    verbs.append("EMPTY")
                conn.reply(replies.get("END", "250 queued"))
                if hang_up_after == "END":
                    return
            else:
                conn.reply(replies.get(verb, "250 ok"))
            if verb == hang_up_after:
                return

    return factory(script), verbs


def after(verbs: list[str], verb: str) -> list[str]:
    """The verbs the client sent after its first ``verb``."""
    return verbs[verbs.index(verb) + 1 :]


def test_mail_from_refusal_fields_and_rset(scripted_smtp_server: Factory) -> None:
    server, verbs = scripted(scripted_smtp_server, {"MAIL": "550 5.7.1 not you"})
    backend = EmailBackend(**server.options())
    with backend:
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            backend.send_messages([message()])
        assert backend.connection is not None  # RSET kept the session
    assert (info.value.smtp_code, info.value.smtp_error) == (550, b"5.7.1 not you")
    assert info.value.sender == "from@example.com"
    assert after(verbs, "MAIL") == ["RSET", "QUIT"]


@pytest.mark.parametrize("verb", ["MAIL", "DATA", "END"])
def test_421_closes_the_session_without_rset(scripted_smtp_server: Factory, verb: str) -> None:
    server, verbs = scripted(scripted_smtp_server, {verb: "421 4.3.2 closing"})
    with pytest.raises(smtplib.SMTPResponseException) as info:
        EmailBackend(**server.options()).send_messages([message()])
    assert (info.value.smtp_code, info.value.smtp_error) == (421, b"4.3.2 closing")
    assert "RSET" not in verbs and verbs[-1] == ("DATA" if verb == "END" else verb)


def test_421_to_rcpt_is_a_refusal_of_that_recipient(scripted_smtp_server: Factory) -> None:
    server, verbs = scripted(scripted_smtp_server, {"RCPT": "421 4.3.2 closing"})
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        EmailBackend(**server.options()).send_messages([message("a@example.com")])
    assert info.value.recipients == {"a@example.com": (421, b"4.3.2 closing")}
    assert verbs[-1] == "RCPT"  # closed at once: no RSET, no QUIT


@pytest.mark.parametrize("verb", ["DATA", "END"])
def test_refused_data_fields_and_rset(scripted_smtp_server: Factory, verb: str) -> None:
    server, verbs = scripted(scripted_smtp_server, {verb: "554 5.6.0 not this"})
    with pytest.raises(smtplib.SMTPDataError) as info:
        EmailBackend(**server.options()).send_messages([message()])
    assert (info.value.smtp_code, info.value.smtp_error) == (554, b"5.6.0 not this")
    assert after(verbs, "DATA") == ["RSET", "QUIT"]


def test_hang_up_after_a_refusal_is_still_the_refusal(scripted_smtp_server: Factory) -> None:
    server, verbs = scripted(
        scripted_smtp_server, {"MAIL": "550 5.7.1 not you"}, hang_up_after="MAIL"
    )
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        EmailBackend(**server.options()).send_messages([message()])
    assert info.value.smtp_code == 550  # RSET met a closed connection: not reported
    assert verbs[-1] == "MAIL"


def test_size_is_declared_when_offered(smtp_server: SMTPTestServer) -> None:
    sent = message()
    EmailBackend(**smtp_server.options()).send_messages([sent])
    [received] = smtp_server.messages
    assert received.mail_options == [f"SIZE={len(received.data)}"]


# --- the same cases with PIPELINING: the envelope in one write, the replies in order -----


def test_pipelined_mail_refusal(scripted_smtp_server: Factory) -> None:
    replies = {"MAIL": "550 5.7.1 not you", "RCPT": "503 5.5.1 no MAIL", "DATA": "503 no"}
    server, verbs = scripted(scripted_smtp_server, replies, pipelining=True)
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        EmailBackend(**server.options()).send_messages([message()])
    assert (info.value.smtp_code, info.value.smtp_error) == (550, b"5.7.1 not you")
    assert info.value.sender == "from@example.com"
    assert verbs == ["EHLO", "MAIL", "RCPT", "DATA", "RSET", "QUIT"]


def test_pipelined_mail_refusal_then_hang_up(scripted_smtp_server: Factory) -> None:
    server, _ = scripted(
        scripted_smtp_server, {"MAIL": "550 5.7.1 not you"}, hang_up_after="MAIL", pipelining=True
    )
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        EmailBackend(**server.options()).send_messages([message()])
    assert info.value.smtp_code == 550


def test_pipelined_421_to_rcpt(scripted_smtp_server: Factory) -> None:
    server, verbs = scripted(scripted_smtp_server, {"RCPT": "421 4.3.2 closing"}, pipelining=True)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        EmailBackend(**server.options()).send_messages([message("a@example.com", "b@example.com")])
    assert info.value.recipients == {"a@example.com": (421, b"4.3.2 closing")}
    assert "RSET" not in verbs and "QUIT" not in verbs


@pytest.mark.parametrize(
    ("data_reply", "after_data"),
    [
        ("554 5.5.1 no valid recipients", ["RSET", "QUIT"]),
        ("354 go ahead anyway", ["EMPTY", "RSET", "QUIT"]),  # ended at once, empty
        ("421 4.3.2 closing", []),  # the server is closing: no RSET, no QUIT
    ],
)
def test_pipelined_every_recipient_refused(
    scripted_smtp_server: Factory, data_reply: str, after_data: list[str]
) -> None:
    replies = {"RCPT": "550 5.1.1 unknown", "DATA": data_reply}
    server, verbs = scripted(scripted_smtp_server, replies, pipelining=True)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        EmailBackend(**server.options()).send_messages([message("a@example.com")])
    assert info.value.recipients == {"a@example.com": (550, b"5.1.1 unknown")}
    assert after(verbs, "DATA") == after_data


@pytest.mark.parametrize(
    ("data_reply", "after_data"),
    [("554 5.6.0 not this", ["RSET", "QUIT"]), ("421 4.3.2 closing", [])],
)
def test_pipelined_data_refused(
    scripted_smtp_server: Factory, data_reply: str, after_data: list[str]
) -> None:
    server, verbs = scripted(scripted_smtp_server, {"DATA": data_reply}, pipelining=True)
    with pytest.raises(smtplib.SMTPDataError) as info:
        EmailBackend(**server.options()).send_messages([message()])
    code, _, text = data_reply.partition(" ")
    assert (info.value.smtp_code, info.value.smtp_error) == (int(code), text.encode())
    assert after(verbs, "DATA") == after_data


def test_pipelined_smtputf8_envelope(scripted_smtp_server: Factory) -> None:
    lines: list[bytes] = []
    server, verbs = scripted(scripted_smtp_server, {}, pipelining=True, lines=lines)
    sent = EmailMessage("Hi", "Body\n", "from@example.com", ["jürgen@example.com"])
    backend = EmailBackend(**server.options())
    with backend:
        assert backend.send_messages([sent]) == 1
        assert backend.send_messages([message()]) == 1  # the next commands still go out
    assert "RCPT TO:<jürgen@example.com>".encode() in lines
    assert lines[1].endswith(b" SMTPUTF8")
    assert verbs[-1] == "QUIT"


def test_pipelined_every_recipient_refused_then_421_async(scripted_smtp_server: Factory) -> None:
    # The async path ends the same way: the server said it is closing, so no RSET.
    replies = {"RCPT": "550 5.1.1 unknown", "DATA": "421 4.3.2 closing"}
    server, verbs = scripted(scripted_smtp_server, replies, pipelining=True)
    backend = EmailBackend(**server.options())
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        asyncio.run(backend.asend_messages([message("a@example.com")]))
    assert "RSET" not in after(verbs, "DATA")
