"""Amazon SES backend: SES v2 ``SendEmail`` with the raw MIME message, through boto3.

boto3 rather than botocore's signer over httpx: it brings what AWS users expect — the
credential chain (environment, profiles, instance and container roles, SSO), regions,
endpoint resolution — with nothing of ours to keep in step with AWS. Its own retries
are turned off: a retried ``SendEmail`` after a lost answer could deliver twice, and
retries and failover are decided the same way for every provider. The async methods run
the sync ones in a worker thread (boto3 has no async client).

API reference: https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

try:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]
    from botocore.exceptions import (  # type: ignore[import-untyped]
        BotoCoreError,
        ClientError,
        HTTPClientError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "the Amazon SES backend needs boto3: pip install 'mailproviders[ses]'", name="boto3"
    ) from exc

from pydantic import SecretStr

from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven
from mailproviders.backends.http.errors import APIError, APIUnavailable, parse_retry_after
from mailproviders.backends.http.translate import Features, name_value_tags, tags_and_metadata
from mailproviders.config.api_options import endpoint_url
from mailproviders.exceptions import InvalidEmailProvider, record_possibly_sent, record_sent
from mailproviders.message.addresses import parse_mailbox

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend"]

#: Errors whose answer says "the credentials are fine, the policy forbids this call".
_AUTHENTICATED = frozenset({"AccessDenied", "AccessDeniedException"})
_THROTTLED = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException"})


class EmailBackend(BaseEmailBackend):
    """Send through Amazon SES v2 (``SendEmail`` with ``Content.Raw``).

    Credentials: ``access_key_id`` and ``secret_access_key``, else boto3's chain; the
    region likewise. The whole MIME message goes as built (every feature of the message
    survives); Bcc recipients go in the destination only. One ``message.tags`` entry and
    ``message.metadata`` become SES message tags (``tag=…``, then each key), with
    ``configuration_set`` when given. ``open()`` checks the credentials with
    ``ListEmailIdentities`` (an ``AccessDenied`` answer proves them too, so a send-only
    IAM policy passes).
    """

    cacheable: ClassVar[bool] = True
    features = Features("Amazon SES", max_tags=1, name_value_tags=True)

    def __init__(
        self,
        *,
        alias: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | SecretStr | None = None,
        region: str | None = None,
        configuration_set: str | None = None,
        endpoint: str | None = None,
        timeout: float = 30.0,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)
        if (access_key_id is None) != (secret_access_key is None):
            raise InvalidEmailProvider(
                "access_key_id and secret_access_key go together",
                alias=alias,
                option="secret_access_key",
            )
        try:
            self.endpoint = endpoint_url(endpoint) if endpoint else None
        except ValueError as exc:
            raise InvalidEmailProvider(str(exc), alias=alias, option="endpoint") from None
        self.access_key_id = access_key_id
        self._secret = (
            None
            if secret_access_key is None
            else SecretStr(secret_access_key)
            if isinstance(secret_access_key, str)
            else secret_access_key
        )
        self.region = region
        self.configuration_set = configuration_set
        self.timeout = float(timeout)
        self._client: Any = None
        self._verified = False
        self._lock = threading.Lock()

    def _ses(self) -> Any:
        with self._lock:
            if self._client is None:
                session = boto3.session.Session(
                    aws_access_key_id=self.access_key_id,
                    aws_secret_access_key=self._secret.get_secret_value()
                    if self._secret
                    else None,
                )
                config = Config(
                    connect_timeout=self.timeout,
                    read_timeout=self.timeout,
                    retries={"total_max_attempts": 1},
                )
                try:
                    self._client = session.client(
                        "sesv2", region_name=self.region, endpoint_url=self.endpoint, config=config
                    )
                except BotoCoreError as exc:  # no region anywhere
                    raise InvalidEmailProvider(
                        f"{exc} (set the region option or AWS_REGION)",
                        alias=self.alias,
                        option="region",
                    ) from None
            return self._client

    def open(self) -> None:
        """Create the client and, the first time, check the credentials (sends nothing)."""
        client = self._ses()
        if self._verified:
            return
        try:
            client.list_email_identities(PageSize=1)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _AUTHENTICATED:
                raise self._error(exc, None) from exc
        except BotoCoreError as exc:
            raise self._error(exc, None) from exc
        self._verified = True

    def close(self) -> None:
        """Close the client's connections, if any."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Send each message with one ``SendEmail`` call; return how many SES accepted.

        Sets ``message.provider_message_id``. Raises ``ValueError`` for an invalid address
        or header, :class:`APIError` when SES refuses (``MessageRejected``...),
        :class:`APIUnavailable` (an ``OSError``) for throttling, a 5xx, a connection
        failure or a timeout — after a timeout once the request was sent, the message is
        in ``possibly_sent_messages``; the exception carries ``sent_count``.
        """
        sent: list[EmailMessage] = []
        try:
            for message in messages:
                if not message.recipients():
                    continue
                request = self._request(message)
                try:
                    response = self._ses().send_email(**request)
                except (BotoCoreError, ClientError) as exc:
                    raise self._error(exc, message) from exc
                message.provider_message_id = response.get("MessageId")  # type: ignore[attr-defined]
                sent.append(message)
        except BaseException as exc:
            record_sent(exc, sent)
            raise
        return len(sent)

    def _request(self, message: EmailMessage) -> dict[str, Any]:
        tags, metadata = tags_and_metadata(message, self.features)
        raw = message.as_bytes(linesep="\r\n")
        destination = {
            key: [parse_mailbox(str(a), header).addr_spec for a in addresses if a]
            for key, header, addresses in (
                ("ToAddresses", "To", message.to),
                ("CcAddresses", "Cc", message.cc),
                ("BccAddresses", "Bcc", message.bcc),
            )
        }
        request: dict[str, Any] = {
            "FromEmailAddress": parse_mailbox(message.resolved_from_email(), "From").addr_spec,
            "Destination": {key: value for key, value in destination.items() if value},
            "Content": {"Raw": {"Data": raw}},
        }
        pairs = name_value_tags(tags, metadata)
        if pairs:
            request["EmailTags"] = [{"Name": name, "Value": value} for name, value in pairs]
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        return request

    def _error(self, exc: Exception, message: EmailMessage | None) -> APIError:
        api = self.features.api
        if isinstance(exc, ClientError):
            meta = exc.response.get("ResponseMetadata", {})
            status = int(meta.get("HTTPStatusCode", 0)) or None
            code = exc.response.get("Error", {}).get("Code")
            detail = exc.response.get("Error", {}).get("Message") or str(code)
            transient = code in _THROTTLED or (
                status is not None and (status == 429 or status >= 500)
            )
            retry = parse_retry_after(meta.get("HTTPHeaders", {}).get("retry-after"))
            cls = APIUnavailable if transient else APIError
            return cls(
                detail, alias=self.alias, api=api, status=status, code=code, retry_after=retry
            )
        after = isinstance(exc, HTTPClientError) and not isinstance(exc, BotoConnectionError)
        where = self.endpoint or "the SES endpoint"
        text = f"{type(exc).__name__} (timeout={self.timeout:g} s, {where}): {exc}"
        if not isinstance(exc, BotoConnectionError | HTTPClientError):
            return APIError(text, alias=self.alias, api=api)  # no credentials, bad parameter...
        error = APIUnavailable(text, alias=self.alias, api=api)
        if after and message is not None:
            record_possibly_sent(error, [message])
        return error

    def __repr__(self) -> str:
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} alias={self.alias!r} "
            f"region={self.region!r} endpoint={self.endpoint!r}>"
        )
