"""The flows suite, both faces, against the reference in-memory store, once over real SMTP."""

import re

import pytest

from doorward import AsyncMemoryStore, MemoryStore
from doorward._async.mailers import AsyncSmtpMailer
from doorward._smtp import SmtpConfig
from doorward._sync.mailers import SmtpMailer
from doorward.testing import AsyncFlowsContract, FlowsContract
from doorward.testing.smtp import SmtpServer


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


def read_from(smtp):
    """``read_mail`` over what the SMTP server received."""

    def read(to):
        found = []
        with smtp.lock:
            messages = list(smtp.messages)
        for message in messages:
            if message["To"] == to:
                match = re.search(r"https?://\S+", SmtpServer.text_of(message))
                found.append((message["X-Doorward-Mail"], match.group(0) if match else ""))
        return found

    return read


def links_from(smtp):
    """``read_links`` over what the SMTP server received."""

    def read(to):
        with smtp.lock:
            messages = list(smtp.messages)
        return [
            (message["X-Doorward-Mail"], re.findall(r"https?://\S+", SmtpServer.text_of(message)))
            for message in messages
            if message["To"] == to
        ]

    return read


class TestAsyncFlowsOnMemory(AsyncFlowsContract):
    """Every flow of AsyncAuth on AsyncMemoryStore."""

    @pytest.fixture
    def store(self):
        return AsyncMemoryStore()


class TestSyncFlowsOnMemory(FlowsContract):
    """Every flow of Auth on MemoryStore."""

    @pytest.fixture
    def store(self):
        return MemoryStore()


class TestSyncFlowsOverSmtp(FlowsContract):
    """Every flow of Auth with mail delivered by smtplib to a real SMTP server on loopback."""

    @pytest.fixture
    def store(self):
        return MemoryStore()

    @pytest.fixture
    def mailer(self, smtp):
        with smtp.lock:
            smtp.messages.clear()
        return SmtpMailer(SmtpConfig(host="127.0.0.1", port=smtp.port, sender="auth@example.com"))

    @pytest.fixture
    def read_mail(self, smtp, mailer):
        return read_from(smtp)

    @pytest.fixture
    def read_links(self, smtp, mailer):
        return links_from(smtp)


class TestAsyncFlowsOverSmtp(AsyncFlowsContract):
    """Every flow of AsyncAuth with mail delivered from a worker thread to a real SMTP server."""

    @pytest.fixture
    def store(self):
        return AsyncMemoryStore()

    @pytest.fixture
    def mailer(self, smtp):
        with smtp.lock:
            smtp.messages.clear()
        return AsyncSmtpMailer(
            SmtpConfig(host="127.0.0.1", port=smtp.port, sender="auth@example.com")
        )

    @pytest.fixture
    def read_mail(self, smtp, mailer):
        return read_from(smtp)

    @pytest.fixture
    def read_links(self, smtp, mailer):
        return links_from(smtp)
